"""Races on a real, committed database (a SQLite file in WAL mode, or a new database on the
test PostgreSQL server with --db postgresql): an app of its own, and threads that each have
their own app context, session and connection."""

import threading
import uuid

import pytest

from lms import create_app
from lms.extensions import db as _db


@pytest.fixture(autouse=True)
def db():
    """No rollback fixture: the threads commit for real, in a database of this module."""
    return None


@pytest.fixture
def live_app(request, database_url, tmp_path, monkeypatch):
    """An app on a fresh database: a SQLite file, or a new database on the test server."""
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path / "instance"))
    postgres = request.config.getoption("--db") == "postgresql"
    if postgres:
        from tests.pg import create_database, drop_database

        name = "race_" + uuid.uuid4().hex[:8]
        url = create_database(database_url, name)
    else:
        url = "sqlite:///" + str(tmp_path / "race.sqlite3")
    app = create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": None, "TESTING": True,
                      "SECRET_KEY": "race-secret", "SERVER_NAME": "localhost"})
    with app.app_context():
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()
    if postgres:
        drop_database(database_url, name)


def race(app, n, work):
    """Run work(barrier) in n threads at once, each in its own app context; their results."""
    barrier = threading.Barrier(n, timeout=30)
    results, errors = [], []

    def target():
        try:
            with app.app_context():
                try:
                    results.append(work(barrier))
                finally:
                    _db.session.remove()
        except Exception as error:  # reported below, with the others
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=target) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == n
    return results
