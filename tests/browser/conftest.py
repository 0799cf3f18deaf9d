"""Browser fixtures: the app served for real on a free port, and Debian's Chromium through
Playwright. The live server commits for real, so each test starts from empty tables."""

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server

from lms import create_app
from lms.auth.models import User
from lms.auth.services import set_password
from lms.extensions import db as _db
from lms.org.models import Unit, utcnow
from lms.org.services import fill_derived
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
TOTP_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
TWO_FACTOR_ROLES = ("admin", "hr", "head")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000


@dataclass
class LiveServer:
    """The running app: its base URL, the app (for seeding) and server-side errors."""

    url: str
    app: object
    errors: list = field(default_factory=list)


class _ErrorCollector(logging.Handler):
    def __init__(self, errors):
        super().__init__(logging.ERROR)
        self.errors = errors

    def emit(self, record):
        self.errors.append(self.format(record))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        """One line per request would drown the test output."""


@pytest.fixture(autouse=True)
def db():
    """Replaces the rollback fixture: a live server commits in its own threads."""
    return None


@pytest.fixture(scope="session")
def _live_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LMS_INSTANCE_PATH", str(base / "instance"))
        app = create_app({
            "DATABASE_URL": "sqlite:///" + str(base / "live.sqlite3"),
            "SQLALCHEMY_DATABASE_URI": None,
            "SECRET_KEY": "browser-test-secret",
            "WTF_CSRF_ENABLED": True,
        })
    with app.app_context():
        _db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    live = LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    app.config["BASE_URL"] = live.url
    collector = _ErrorCollector(live.errors)
    logging.getLogger("lms").addHandler(collector)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        logging.getLogger("lms").removeHandler(collector)
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture
def live_server(_live_server):
    """The live server with empty tables; fails the test if the app logged an error."""
    with _live_server.app.app_context():
        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(table.delete())
        _db.session.commit()
    _live_server.errors.clear()
    _used_steps.clear()  # new people: no authenticator code used yet
    yield _live_server
    assert not _live_server.errors, "the app logged errors:\n" + "\n".join(_live_server.errors)


@pytest.fixture
def seed(live_server):
    """Run `fn()` in an app context of the live app and commit, for real."""
    def run(fn):
        with live_server.app.app_context():
            result = fn()
            _db.session.commit()
            _db.session.expunge_all()
            return result
    return run


def add_unit(code, name, parent_code=None):
    """A committed-to-be unit under the unit `parent_code` (call inside `seed`)."""
    parent = _db.session.scalar(select(Unit).where(Unit.code == parent_code)) \
        if parent_code else None
    unit = Unit(code=code, name=name, parent_id=parent.id if parent else None, path="", depth=0)
    _db.session.add(unit)
    _db.session.flush()
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    unit.depth = parent.depth + 1 if parent else 0
    return unit


def add_person(employee_id, full_name, unit_code, role="learner", password=PASSWORD,
               category="civil_servant", email=None, two_factor=True):
    """A staff member with a real password hash (call inside `seed`); admins, HR and heads
    with an authenticator already set up unless `two_factor` is False."""
    unit = _db.session.scalar(select(Unit).where(Unit.code == unit_code))
    user = User(employee_id=employee_id, full_name=full_name, unit=unit, role=role,
                email=email or f"{employee_id.lower()}@example.gov.vn", category=category,
                active=True)
    fill_derived(user)
    _db.session.add(user)
    _db.session.flush()  # column defaults (session_version) exist only once inserted
    if password:
        set_password(user, password)
    if role in TWO_FACTOR_ROLES and two_factor:
        # Their authenticator app holds TOTP_SECRET: sign_in types its code.
        user.totp_secret, user.totp_enabled_at = TOTP_SECRET, utcnow()
    return user


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless; never a downloaded browser."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context (no cookies); fail on JS errors or CSP blocks."""
    contexts, problems = [], []

    def open_page(**context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"JS error: {error}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A desktop-sized page on the live server."""
    return new_page()


def sign_in(page, login, password=PASSWORD):
    """Fill and send the sign-in form as a person would; when the second step comes, type
    the code the authenticator app (TOTP_SECRET) shows."""
    page.goto("/login")
    page.locator("#login-form input[name=login]").fill(login)
    page.locator("#login-form input[name=password]").fill(password)
    page.locator("#login-form button[type=submit]").click()
    page.wait_for_load_state()
    if page.url.endswith("/login/code"):
        page.locator("#code-form input[name=code]").fill(totp_code(login))
        page.locator("#code-form button[type=submit]").click()


_used_steps = {}


def totp_code(login, secret=TOTP_SECRET):
    """A code not used yet by this login: each code works once, and the next time step's
    code is accepted too, so a second sign-in within 30 seconds still gets one."""
    totp = pyotp.TOTP(secret)
    step = max(int(time.time()) // totp.interval, _used_steps.get(login, -1) + 1)
    _used_steps[login] = step
    return totp.generate_otp(step)


def sign_out(page):
    """Press the header's sign-out button."""
    page.locator("header form[action='/logout'] button").click()
