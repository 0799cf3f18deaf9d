"""Request-level behaviour shared by every page: headers, errors, database pragmas."""

import logging

from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from lms.extensions import db, login_manager
from lms.sql import begin_write

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app):
    """Wire headers, error pages, login settings and SQLite pragmas into the app."""
    app.url_map.converters["int"] = BoundedIntegerConverter  # before any route is added
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    app.before_request(_refuse_nul_characters)
    app.before_request(_writers_wait_their_turn)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.teardown_appcontext(_rollback_leftovers)

    from lms.templating import init_templating

    init_templating(app)


MAX_ROW_ID = 2**31 - 1  # the largest id an integer column holds (PostgreSQL: 4 bytes)


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` in a route: a number beyond any row id matches no route (404) instead of
    overflowing in the database (a 500)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ROW_ID, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


LAST_PAGE = 10**7  # a bigger page number asks for an offset the databases refuse


def page_number(value):
    """A page number from anything (the `page` argument): at least 1, at most LAST_PAGE."""
    return min(max(value or 1, 1), LAST_PAGE)


def page_arg():
    """The `page` query argument as a page number (1 when absent or not a number)."""
    return page_number(request.args.get("page", 1, type=int))


def row_id(value):
    """A row id from a query string (`request.args.get(..., type=row_id)`): ValueError, so
    None, for anything that cannot be one."""
    number = int(value)
    if not 0 < number <= MAX_ROW_ID:
        raise ValueError(value)
    return number


def own_transactions(view):
    """Mark a view whose services order their own transactions on SQLite (reads first, then
    a short writing transaction, retried when busy: the quiz's start, save and submit), so
    that it does not hold the write lock from its first read."""
    view.own_transactions = True
    return view


def _refuse_nul_characters():
    """A NUL character means nothing in a path, a query string or a form field, and
    PostgreSQL refuses it in text (a 500 wherever one reached a query): a path with one
    names nothing (404), a query or form with one is a bad request (400)."""
    if "\x00" in request.path:
        abort(404)
    fields = (*request.args.items(multi=True), *request.form.items(multi=True))
    if any("\x00" in key + value for key, value in fields):
        abort(400)


def _writers_wait_their_turn():
    """On SQLite, a request that changes something (any POST) takes the write lock when its
    transaction begins (BEGIN IMMEDIATE): it then waits for another writer (busy timeout)
    instead of failing with "database is locked" when it reads, another request writes,
    and it writes in turn. Reads (GET) stay concurrent; views marked own_transactions
    handle it themselves."""
    view = current_app.view_functions.get(request.endpoint)
    if request.method not in ("GET", "HEAD", "OPTIONS") \
            and not getattr(view, "own_transactions", False):
        if db.session().in_transaction() and not (db.session.new or db.session.dirty
                                                  or db.session.deleted):
            db.session.commit()  # a read already begun (the signed-in user): start afresh
        begin_write()


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _http_error(error, message=None):
    if error.code is None or error.code < 400:
        return error
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": error.name, "status": error.code}, error.code
    if error.code == 413 and message is None:
        from lms.uploads import too_large_message

        message = too_large_message()
    return render_template("errors/error.html", error=error, message=message), error.code


def _csrf_error(error):
    return _http_error(
        error, _("The form expired or was sent from another site. Please try again.")
    )


def _unexpected_error(error):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(InternalServerError())


def _rollback_leftovers(exc):
    if exc is not None:
        db.session.rollback()


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys; let SQLAlchemy, not pysqlite, open transactions."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """BEGIN, or BEGIN IMMEDIATE for a transaction started by lms.sql.begin_write."""
    if conn.dialect.name == "sqlite":
        immediate = conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE"
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def client_ip():
    """The client's address (behind a proxy, set LMS_PROXY_COUNT so that it is trusted)."""
    return request.remote_addr


def safe_next(target, default="/"):
    """A same-site path to go back to, never an absolute or scheme-relative URL."""
    from urllib.parse import urlsplit

    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def base_url_context():
    """A request context on LMS_BASE_URL, so url_for and templates work in CLI commands/jobs."""
    from flask import current_app

    return current_app.test_request_context(base_url=current_app.config["BASE_URL"])
