"""Default configuration; the instance config and LMS_* variables override it."""

from datetime import timedelta

LANGUAGES = ("vi", "en")


class Defaults:
    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    TIMEZONE = "Asia/Ho_Chi_Minh"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    REMEMBER_COOKIE_DURATION = timedelta(days=1)
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 4 * 3600
    MAIL_FROM = "CivicSkills <no-reply@localhost>"
    SMTP_URL = None
    BASE_URL = "http://127.0.0.1:5000"
    CONTENT_DIR = None
    PER_PAGE = 50
    ACTIVATION_MAX_AGE = 14 * 24 * 3600
    RESET_MAX_AGE = 3600
    LOGIN_FREE_FAILURES = 5
    LOGIN_MAX_LOCK_SECONDS = 3600
    OPEN_DATA = False
    # A subtree with at least this many active staff is shown from each unit's own figures
    # as last counted (at most REPORTS_CACHE_MINUTES old) instead of counting everyone again.
    REPORTS_LIVE_LIMIT = 20000
    REPORTS_CACHE_MINUTES = 10
