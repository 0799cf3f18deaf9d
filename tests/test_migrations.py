"""Migrations go up, down to nothing and up again, and leave exactly the models' schema."""

import logging

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from lms import create_app
from lms.extensions import db as _db


@pytest.fixture(autouse=True)
def db():
    """No rollback fixture: these tests build their own databases from the migrations."""
    return None


@pytest.fixture(autouse=True)
def _keep_logging():
    """migrations/env.py calls logging.config.fileConfig, which disables every existing
    logger; put them back so that later tests still see their log records."""
    manager = logging.Logger.manager
    disabled = {name for name, logger in manager.loggerDict.items()
                if isinstance(logger, logging.Logger) and logger.disabled}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.disabled = name in disabled
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def migration_app(tmp_path, monkeypatch):
    """Build an app on a given database URL, its instance folder inside tmp_path."""
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path / "instance"))

    def build(url):
        return create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": None,
                           "SECRET_KEY": "test-secret", "TESTING": True})
    return build


def schema_differences(app):
    """What autogenerate would still write: differences between the database and models."""
    with app.app_context(), _db.engine.connect() as connection:
        options = dict(app.extensions["migrate"].configure_args)
        context = MigrationContext.configure(connection, opts=options)
        return compare_metadata(context, _db.metadata)


def table_names(app):
    with app.app_context():
        return set(inspect(_db.engine).get_table_names())


def check_round_trip(app):
    """upgrade -> schema matches -> downgrade base -> nothing left -> upgrade -> matches."""
    with app.app_context():
        flask_migrate.upgrade()
    assert schema_differences(app) == []
    models = set(_db.metadata.tables)
    assert table_names(app) == models | {"alembic_version"}

    with app.app_context():
        flask_migrate.downgrade(revision="base")
    assert table_names(app) <= {"alembic_version"}

    with app.app_context():
        flask_migrate.upgrade()
    assert schema_differences(app) == []
    with app.app_context():
        _db.engine.dispose()


def test_migrations_round_trip_on_sqlite(migration_app, tmp_path):
    app = migration_app("sqlite:///" + str(tmp_path / "migrations.sqlite3"))
    check_round_trip(app)


def test_migrations_round_trip_on_postgresql(request, migration_app):
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("PostgreSQL runs with --db postgresql")
    from tests.pg import create_database, drop_database

    server_url = request.getfixturevalue("database_url")
    url = create_database(server_url, "lms_migrations")
    try:
        check_round_trip(migration_app(url))
    finally:
        drop_database(server_url, "lms_migrations")
