"""Fixtures: an app per test session, rollback isolation per test, a user per role, a private
content folder and the sync command."""

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from flask import g
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event

from lms import create_app
from lms.auth.models import User
from lms.auth.services import hash_password
from lms.extensions import db as _db
from lms.org.models import Unit
from lms.org.services import fill_derived


def _compile_missing_catalogues():
    """Build each .mo that is missing or older than its .po (atomically: other test runs
    may be reading it), so that a bare `pytest` renders the current translations."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parent.parent / "lms" / "translations"
    for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog)  # fuzzy entries are left out, as by `pybabel compile`
            os.replace(tmp, mo)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


_compile_missing_catalogues()


PASSWORD = "correct horse battery"
_FAST_HASH = None


def pytest_addoption(parser):
    parser.addoption("--db", default="sqlite", choices=("sqlite", "postgresql"),
                     help="database to run the suite against")


@pytest.fixture(scope="session")
def database_url(request, tmp_path_factory):
    """A fresh database for the whole run: a SQLite file or a private PostgreSQL server."""
    if request.config.getoption("--db") == "postgresql":
        from tests.pg import postgres_server

        with postgres_server(tmp_path_factory.mktemp("pg")) as url:
            yield url
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """One application for the run, its schema created once."""
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "SQLALCHEMY_DATABASE_URI": None,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "BASE_URL": "http://localhost",
        "LOGIN_FREE_FAILURES": 5,
    })
    app.instance_path = str(instance)
    # Requests made while a test holds the app context reuse it (and its `g`); in
    # production each request has its own, so start every test request with an empty g.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_globals)
    with app.app_context():
        _db.create_all()
    yield app
    with app.app_context():
        _db.drop_all()
        _db.engine.dispose()


def _fresh_globals():
    g.__dict__.clear()


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy picks an engine per model; in tests everything uses one connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind if bind is not None else self.bind


@pytest.fixture(autouse=True)
def db(app):
    """Every test runs in a transaction that is rolled back, even when the code commits."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        session = _db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint",
             "class_": _ConnectionSession}
        )
        original, _db.session = _db.session, session
        yield _db
        session.remove()
        _db.session = original
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def statements(db):
    """The SQL statements run while the test runs (clear it to count from a point on)."""
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (tests/smtp.py), stopped afterwards."""
    from tests.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def csrf_app(app):
    """The same app with CSRF protection switched on, for tests that check it."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


# Factories -------------------------------------------------------------------------------

def _fast_hash():
    global _FAST_HASH
    if _FAST_HASH is None:
        _FAST_HASH = hash_password(PASSWORD)
    return _FAST_HASH


def make_unit(code, name=None, parent=None, head_employee_id=None):
    """A unit under `parent` (flushed so that its path is known)."""
    unit = Unit(code=code, name=name or code, parent_id=parent.id if parent else None,
                head_employee_id=head_employee_id, path="", depth=0)
    _db.session.add(unit)
    _db.session.flush()
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    unit.depth = parent.depth + 1 if parent else 0
    _db.session.flush()
    return unit


_counter = iter(range(1, 10**9))


def make_user(unit=None, role="learner", full_name=None, email=None, employee_id=None,
              active=True, activated=True, category="civil_servant"):
    """A staff member with a known password (PASSWORD) unless not activated."""
    n = next(_counter)
    user = User(
        full_name=full_name or f"Nguyễn Văn Thử {n}",
        email=email or f"user{n}@example.gov.vn",
        employee_id=employee_id or f"E{n:06d}",
        unit_id=unit.id if unit else None,
        unit=unit,
        category=category,
        role=role,
        active=active,
        password_hash=_fast_hash() if activated else None,
    )
    fill_derived(user)
    _db.session.add(user)
    _db.session.flush()
    return user


@pytest.fixture
def org(db):
    """A small tree: province > (department > office, district > commune)."""
    province = make_unit("P", "Tỉnh Thử Nghiệm")
    dept = make_unit("P.STTTT", "Sở Khoa học và Công nghệ", province)
    office = make_unit("P.STTTT.VP", "Văn phòng Sở", dept)
    district = make_unit("P.H1", "Huyện Đông Sơn", province)
    commune = make_unit("P.H1.X1", "Xã Đông Hòa", district)
    return {"province": province, "dept": dept, "office": office, "district": district,
            "commune": commune}


@pytest.fixture
def users(org):
    """One user per role: admin (no unit), HR of the department, head of the district,
    a learner in the commune."""
    return {
        "admin": make_user(None, "admin", "Quản Trị Viên", "admin@example.gov.vn", "A0001"),
        "hr": make_user(org["dept"], "hr", "Trần Thị Nhân Sự", "hr@example.gov.vn", "H0001"),
        "head": make_user(org["district"], "head", "Lê Văn Trưởng", "head@example.gov.vn",
                          "D0001"),
        "learner": make_user(org["commune"], "learner", "Nguyễn Văn Hùng",
                             "hung@example.gov.vn", "L0001"),
        "office_learner": make_user(org["office"], "learner", "Phạm Thị Mai",
                                    "mai@example.gov.vn", "L0002"),
    }


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login, password=PASSWORD):
        return self._client.post("/login", data={"login": login, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _login_as(client, user):
    """A session as a sign-in leaves it: password (and, for privileged roles, the second
    factor) checked just now."""
    now = time.time()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
        sess["signed_in_at"] = sess["seen_at"] = sess["checked_at"] = now
        sess["mfa"] = True
    return client


@pytest.fixture
def as_admin(client, users):
    return _login_as(client, users["admin"])


@pytest.fixture
def as_hr(client, users):
    return _login_as(client, users["hr"])


@pytest.fixture
def as_head(client, users):
    return _login_as(client, users["head"])


@pytest.fixture
def as_learner(client, users):
    return _login_as(client, users["learner"])


@pytest.fixture
def login_as(client):
    """Log the client in as any user."""
    return lambda user: _login_as(client, user)




@pytest.fixture
def english(users):
    """Every user of the `users` fixture reads the English texts (the default is Vietnamese)."""
    for user in users.values():
        user.locale = "en"
    _db.session.flush()


@pytest.fixture
def uploads(app):
    """The files stored in instance/uploads since the test began."""
    folder = Path(app.instance_path) / "uploads"
    before = set(folder.iterdir()) if folder.exists() else set()
    return lambda: (set(folder.iterdir()) if folder.exists() else set()) - before


@pytest.fixture
def content(app, tmp_path, monkeypatch):
    """A private copy of tests/content/small, made the app's content folder."""
    folder = tmp_path / "content"
    shutil.copytree(Path(__file__).resolve().parent / "content" / "small", folder)
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(folder))
    return folder


@pytest.fixture
def sync(runner):
    """Run `lms sync-content [args]` and check its exit code (0 unless told)."""
    def run(*args, code=0):
        result = runner.invoke(args=["lms", "sync-content", *args])
        assert result.exit_code == code, result.output
        return result
    return run


@pytest.fixture
def key_dir(app, tmp_path, monkeypatch):
    """A private certificate-signing key folder for one test."""
    monkeypatch.setitem(app.config, "CERT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delitem(app.config, "CERT_SIGNING_KEY_FILE", raising=False)
    return tmp_path / "keys"
