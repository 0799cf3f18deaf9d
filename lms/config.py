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
    # The scheduler process (`flask lms scheduler`, lms/scheduler.py): a crontab line per job
    # (minute hour day month day-of-week) in TIMEZONE. Name the days (mon ... sun): APScheduler 3
    # counts 0 as Monday where cron counts it as Sunday, so numbers are refused. An empty line
    # switches a job off. A setting names only the jobs it changes, e.g. in instance/config.py
    # SCHEDULE = {"digest": "30 6 * * mon"} or LMS_SCHEDULE__snapshot="0 22 * * sun".
    SCHEDULE = {
        "snapshot": "0 23 * * sun",
        "digest": "0 7 * * mon",
        "reminders": "0 8 * * mon",
        "expiry": "0 6 * * *",
        "refreshers": "30 6 * * *",
        "outbox": "* * * * *",
        "refresh_figures": "*/5 * * * *",
    }
    # Seconds after its time within which a run delayed, or missed while no scheduler ran,
    # still runs (once); later it waits for its next time. LMS_SCHEDULE_GRACE__outbox=120.
    SCHEDULE_GRACE = {
        "snapshot": 3 * 24 * 3600,  # the week's figures are still worth recording on Wednesday
        "digest": 24 * 3600,
        "reminders": 24 * 3600,
        "expiry": 12 * 3600,
        "refreshers": 12 * 3600,
        "outbox": 60,
        "refresh_figures": 300,
    }
