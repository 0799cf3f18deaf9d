"""Locale and time-zone selection for Flask-Babel."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, session
from flask_login import current_user

from lms.config import LANGUAGES


def app_zone():
    """The app's time zone (TIMEZONE): local dates and times are read in it."""
    return ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Ho_Chi_Minh")


def local_midnight(day):
    """The first instant of a local day, as a naive UTC time (how times are stored)."""
    return datetime.combine(day, time.min, tzinfo=app_zone()).astimezone(UTC) \
        .replace(tzinfo=None)


def select_locale():
    """Vietnamese unless the user (or the anonymous session) chose English."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    lang = session.get("lang")
    return lang if lang in LANGUAGES else current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone():
    """Show times in the configured local time zone; they are stored in UTC."""
    return current_app.config["TIMEZONE"]
