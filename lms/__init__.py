"""CivicSkills: a learning platform for digital skills in the civil service."""

import copy
import os
import secrets
import time
from pathlib import Path

from flask import Flask

from lms.config import Defaults


def create_app(test_config=None):
    """Build the application: defaults, instance config, LMS_* environment, test mapping."""
    instance_path = os.environ.get("LMS_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.from_object(Defaults)
    for key, value in app.config.items():  # this app's own copies: overrides of nested
        if isinstance(value, dict | list):  # keys (LMS_SCHEDULE__digest) must not leak
            app.config[key] = copy.deepcopy(value)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("LMS")
    if test_config is not None:
        app.config.from_mapping(test_config)
    _finish_config(app)

    import lms.models  # noqa: F401  (every table, for migrations)
    from lms import web
    from lms.extensions import babel, csrf, db, login_manager, migrate
    from lms.i18n import select_locale, select_timezone

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    web.init_app(app)

    from lms.admin.views import bp as admin_bp
    from lms.api.admin_views import bp as api_tokens_bp
    from lms.api.views import bp as api_bp
    from lms.auth.views import bp as auth_bp
    from lms.certificates.views import bp as certificates_bp
    from lms.courses.views import bp as courses_bp
    from lms.main.views import bp as main_bp
    from lms.notify.views import bp as outbox_bp
    from lms.org.views import bp as org_bp
    from lms.quizzes.views import bp as quizzes_bp
    from lms.reports.open_data import bp as open_data_bp
    from lms.reports.views import bp as reports_bp

    for blueprint in (main_bp, auth_bp, org_bp, courses_bp, quizzes_bp, certificates_bp,
                      reports_bp, open_data_bp, admin_bp, api_tokens_bp, outbox_bp, api_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # bearer tokens, never cookies: a forged request has nothing to ride on

    from lms.cli import lms_cli

    app.cli.add_command(lms_cli)
    return app


def _finish_config(app):
    """Derive settings that depend on others (database URL, secret key, content dir)."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        url = "sqlite:///" + str(Path(app.instance_path) / "lms.sqlite3")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config.get("CONTENT_DIR"):
        app.config["CONTENT_DIR"] = str(Path(app.root_path).parent)
    app.config["SESSION_COOKIE_SECURE"] = app.config["BASE_URL"].startswith("https://")


def _instance_secret(path):
    """Read the instance secret key, creating it once so that every worker shares it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker may be writing it right now: wait for the content.
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it or set LMS_SECRET_KEY") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()
