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
    # The largest roster file accepted (lms/uploads.py); a request over MAX_CONTENT_LENGTH is
    # refused (413) before it is read.
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024
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
    # Rate limits (lms/ratelimit.py), counted in the database across workers: (requests,
    # seconds) per client address, or per token or login where named. Past one, a 429 with
    # Retry-After. A setting names only the rules it changes: RATE_LIMITS = {"verify":
    # (120, 60)} or LMS_RATE_LIMITS__verify=120/60. RATE_LIMITS_ENABLED = False turns all off.
    RATE_LIMITS_ENABLED = True
    RATE_LIMITS = {
        "verify": (60, 60),  # the public certificate check: form, page and JSON
        "verify_wrong": (10, 600),  # ... codes that match no certificate (guessing)
        "account_link": (10, 3600),  # activation/reset link requests from one address
        "account_link_login": (3, 3600),  # ... for one login (past it: nothing sent, same answer)
        "link_form": (20, 3600),  # new passwords sent from one-time links
        "api": (600, 60),  # per API token
        "api_bad_token": (20, 60),  # API requests with a missing or wrong token
    }
    # Roles that must sign in with a second factor (a TOTP authenticator app); anyone else
    # may turn it on. A session ends after SESSION_IDLE_MINUTES without a request and
    # SESSION_MAX_HOURS after sign-in; sensitive actions (role changes, revocations, API
    # tokens, staff-detail exports, 2FA changes) ask for the code or password again when the
    # last check is older than REAUTH_MINUTES.
    TWO_FACTOR_ROLES = ("admin", "hr", "head")
    SESSION_IDLE_MINUTES = 30
    SESSION_MAX_HOURS = 12
    REAUTH_MINUTES = 15
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
