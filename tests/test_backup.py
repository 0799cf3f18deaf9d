"""`flask lms backup PATH` and `flask lms restore PATH --yes` on real, committed databases (a
SQLite file, or databases of their own on the test PostgreSQL server with --db postgresql):
a restore brings back exactly what was backed up, in place or into a new database; the file
is private; a restore needs --yes and refuses anything but a backup of the right kind."""

import sqlite3
import stat
import uuid
from contextlib import closing

import pytest
from sqlalchemy import delete, select

from lms import create_app
from lms.admin import backup
from lms.audit.models import AuditEvent
from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import issue
from lms.extensions import db as _db
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course

PG_PASSWORD = "mật-khẩu s3cret"  # the test server trusts 127.0.0.1: any password gets in
NAME = "Nguyễn Thị Hồng Nhung"


@pytest.fixture(autouse=True)
def db():
    """No rollback fixture: the commands work on committed databases of their own."""
    return None


@pytest.fixture(scope="module")
def postgres(request):
    return request.config.getoption("--db") == "postgresql"


@pytest.fixture(scope="module")
def new_app(database_url, postgres, tmp_path_factory):
    """build(name, schema=True): an app on a new database (a SQLite file, or a new database on
    the test server, its URL carrying a password), with the tables unless schema=False."""
    from tests.pg import create_database, drop_database

    folder = tmp_path_factory.mktemp("backup")
    apps, databases = [], []

    def build(name, schema=True):
        if postgres:
            databases.append(f"backup_{uuid.uuid4().hex[:8]}_{name}")
            url = create_database(database_url, databases[-1])
            url = url.replace("://lms@", "://lms:" + PG_PASSWORD.replace(" ", "%20") + "@")
        else:
            url = "sqlite:///" + str(folder / f"{name}.sqlite3")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LMS_INSTANCE_PATH", str(folder / "instance"))
            app = create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": None,
                              "TESTING": True, "SECRET_KEY": "backup-secret",
                              "CERT_KEY_DIR": str(folder / "keys")})
        if schema:
            with app.app_context():
                _db.create_all()
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
    for name in databases:
        drop_database(database_url, name)


@pytest.fixture(scope="module")
def source(new_app):
    """The database every test backs up (a test that changes it restores it)."""
    app = new_app("source")
    populate(app)
    return app


@pytest.fixture
def pg_calls(monkeypatch):
    """The PostgreSQL tools run (command, environment), the real ones still running."""
    calls = []
    real_run = backup.subprocess.run

    def spy(command, **kwargs):
        calls.append((command, kwargs["env"]))
        return real_run(command, **kwargs)

    monkeypatch.setattr(backup.subprocess, "run", spy)
    return calls


def populate(app):
    """A unit, a person with a Vietnamese name, their certificate and an audit event."""
    with app.app_context():
        unit = make_unit("AH.SNV", "Sở Nội vụ")
        person = make_user(unit, "hr", NAME, "nhung.nth@anhoa.gov.vn", "AH000010")
        issue(person, kind="course", title="Khoá học An toàn thông tin",
              course=make_course("an-toan", 1))
        record_event("role_changed", obj=person, ip="127.0.0.1", role="hr")
        _db.session.commit()
        _db.session.remove()


def contents(app):
    """Every row of every table, in primary-key order."""
    with app.app_context():
        try:
            return {name: [tuple(row) for row in _db.session.execute(
                        select(table).order_by(*table.primary_key.columns))]
                    for name, table in _db.metadata.tables.items()}
        finally:
            _db.session.remove()


def lms(app, *args):
    return app.test_cli_runner().invoke(args=["lms", *args])


def counts_printed(output):
    return [line.strip() for line in output.splitlines() if line.startswith("  ")]


def test_a_restore_brings_back_exactly_what_was_backed_up(source, tmp_path, postgres,
                                                         pg_calls):
    before = contents(source)
    path = tmp_path / "backups" / "lms.backup"
    path.parent.mkdir()

    result = lms(source, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert counts_printed(result.output) == ["users: 1", "certificates: 1", "audit_events: 1"]
    assert "certificate signing keys" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["lms.backup"]  # no partial file left

    with source.app_context():
        person = _db.session.scalar(select(User))
        person.full_name = "Nguyen Thi Hong Nhung"
        _db.session.execute(delete(AuditEvent))
        _db.session.execute(delete(Certificate))
        make_user(None, "admin", "Kẻ Lạ", "la@example.gov.vn", "X0001")
        _db.session.commit()
        _db.session.remove()
    changed = contents(source)
    assert changed != before

    result = lms(source, "restore", str(path))
    assert result.exit_code == 1
    assert "run again with --yes" in result.output
    assert "nothing was changed" in result.output
    assert contents(source) == changed

    result = lms(source, "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert counts_printed(result.output) == ["users: 1", "certificates: 1", "audit_events: 1"]
    assert contents(source) == before
    with source.app_context():
        assert _db.session.scalars(select(User.full_name)).all() == [NAME]
        _db.session.remove()
    result = lms(source, "audit", "verify")
    assert result.exit_code == 0, result.output  # the hash chain came back whole

    # pg_dump, pg_restore --list (twice) and pg_restore: the password in PGPASSWORD only.
    assert len(pg_calls) == (4 if postgres else 0)
    for command, env in pg_calls:
        assert env["PGPASSWORD"] == PG_PASSWORD
        assert not any("s3cret" in arg for arg in command)


def test_a_backup_restores_into_a_new_database(source, new_app, tmp_path):
    path = tmp_path / "lms.backup"
    assert lms(source, "backup", str(path)).exit_code == 0

    fresh = new_app("new", schema=False)  # PostgreSQL: a new database on the same server
    result = lms(fresh, "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    assert contents(fresh) == contents(source)
    with fresh.app_context():
        assert _db.session.scalar(select(Certificate.name)) == NAME
        _db.session.remove()


def test_a_sqlite_backup_is_consistent_while_someone_writes(source, tmp_path, postgres):
    if postgres:
        pytest.skip("SQLite's online backup")
    with source.app_context():
        database = _db.engine.url.database
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO audit_events (at, action, detail) "
                   "VALUES ('2026-01-01 00:00:00', 'uncommitted', '{}')")
    try:
        result = lms(source, "backup", str(tmp_path / "busy.backup"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    assert "audit_events: 1" in counts_printed(result.output)  # committed rows only
    with closing(sqlite3.connect(tmp_path / "busy.backup")) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
        assert copy.execute("SELECT full_name FROM users").fetchall() == [(NAME,)]


def test_a_restore_refuses_anything_but_a_backup_of_the_right_kind(source, tmp_path, postgres):
    before = contents(source)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("Sổ tay ghi chép\n")
    other_kind = tmp_path / "other.backup"
    foreign = tmp_path / "foreign.backup"
    if postgres:
        with closing(sqlite3.connect(other_kind)) as other:
            other.execute("CREATE TABLE users (id INTEGER)")
        foreign.write_bytes(b"PGDMP" + b"\x00garbage" * 20)
    else:
        other_kind.write_bytes(b"PGDMP\x01\x0f\x00" + bytes(100))
        with closing(sqlite3.connect(foreign)) as other:
            other.execute("CREATE TABLE t (x)")
    backend, other_backend = ("PostgreSQL", "SQLite") if postgres else ("SQLite", "PostgreSQL")

    for path, message in [
        (text_file, "is not a CivicSkills backup"),
        (other_kind, f"is a backup of a {other_backend} database and the configured database "
                     f"is {backend}"),
        (foreign, "is damaged" if postgres else "not a CivicSkills backup (no table users, "
                                                "certificates, audit_events)"),
    ]:
        result = lms(source, "restore", str(path), "--yes")
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "nothing was changed" in result.output
    assert contents(source) == before


def test_a_backup_never_overwrites_a_file(source, tmp_path):
    existing = tmp_path / "existing.backup"
    existing.write_text("an older backup")
    result = lms(source, "backup", str(existing))
    assert result.exit_code == 1
    assert "exists" in result.output
    assert existing.read_text() == "an older backup"
    result = lms(source, "backup", str(tmp_path / "missing" / "lms.backup"))
    assert result.exit_code == 1
    assert "there is no folder" in result.output
