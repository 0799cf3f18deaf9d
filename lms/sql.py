"""SQL helpers shared by the domains."""

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lms.extensions import db


def upsert(table):
    """An INSERT that takes ON CONFLICT clauses, in the session's dialect (SQLite or
    PostgreSQL)."""
    return upsert_for(db.session.get_bind().dialect.name, table)


def upsert_for(dialect, table):
    """An INSERT that takes ON CONFLICT clauses, for a dialect named "sqlite" or
    "postgresql"."""
    return {"sqlite": sqlite_insert, "postgresql": postgresql_insert}[dialect](table)


def begin_write():
    """Start the session's next transaction as a writer: on SQLite BEGIN IMMEDIATE, which
    waits for the write lock up front, so that a transaction that reads and then writes
    cannot fail halfway ("database is locked") because another process wrote in between.
    Call it with no transaction open (after a commit). Nothing to do on PostgreSQL."""
    if db.session.get_bind().dialect.name == "sqlite" and not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
