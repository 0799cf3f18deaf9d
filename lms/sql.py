"""SQL helpers shared by the domains."""

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lms.extensions import db


def upsert(table):
    """An INSERT that takes ON CONFLICT clauses, in the session's dialect (SQLite or
    PostgreSQL)."""
    build = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
    return build[db.session.get_bind().dialect.name](table)
