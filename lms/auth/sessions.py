"""Session rules: a fresh session per sign-in, idle and absolute time-outs, the second
factor before anything else for the roles that need it, and recent re-checks before
sensitive actions.

The session cookie (signed, HttpOnly) carries the times: `signed_in_at`, `seen_at` (last
request, to the minute), `checked_at` (last password or code check) and `mfa` (the second
factor is done, or not needed). Ending every session of a user at once works through
`users.session_version`, which the session identity includes (lms.auth.services)."""

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from lms.web import safe_next

# What a signed-in user who still has to set up the second factor may reach.
_BEFORE_SECOND_FACTOR = frozenset({"auth.two_factor_setup", "auth.logout", "auth.set_language",
                                   "static", "main.healthz"})
# Served the same to anyone, never reading the user: no session rules (no user loaded).
_NO_SESSION = frozenset({"static", "main.healthz"})
# A pending second step (password checked, code not yet) is kept this long.
PENDING_SECONDS = 300


def begin(user, second_factor_done):
    """Sign the user in on a new session (no fixation: whatever the browser held before is
    dropped; the language chosen before signing in became the user's own)."""
    session.clear()
    login_user(user)
    now = time.time()
    session.update(signed_in_at=now, seen_at=now, checked_at=now, mfa=second_factor_done)


def await_code(user, next_path):
    """Password right, code still to come: remember who, until when, and where to go (and
    the language chosen, which becomes the user's once signed in)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["pending"] = {"id": user.get_id(), "at": time.time(), "next": next_path or ""}


def pending():
    """The pending second step (user session id, next path), or None when absent/expired."""
    data = session.get("pending")
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > PENDING_SECONDS:
        return None
    return data


def end(message=None, category="info"):
    """Sign out this browser; `message` is shown on the sign-in page."""
    logout_user()
    session.clear()
    if message:
        flash(message, category)


def mark_checked():
    """The user has just typed the password or a code again."""
    session["checked_at"] = time.time()


def recently_checked():
    limit = current_app.config["REAUTH_MINUTES"] * 60
    return time.time() - session.get("checked_at", 0) <= limit


def enforce():
    """Before every request of a signed-in user: time-outs, then the second factor."""
    if request.endpoint in _NO_SESSION \
            or current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None  # no session cookie, no session to check (and none to open)
    if not current_user.is_authenticated:
        return None
    now = time.time()
    started, seen = session.get("signed_in_at"), session.get("seen_at")
    idle = current_app.config["SESSION_IDLE_MINUTES"]
    longest = current_app.config["SESSION_MAX_HOURS"]
    if started is None or seen is None:
        message = _("Please sign in again.")
    elif now - seen > idle * 60:
        message = ngettext("You were signed out after %(num)d minute without activity.",
                           "You were signed out after %(num)d minutes without activity.",
                           idle)
    elif now - started > longest * 3600:
        message = ngettext("You were signed out: a session lasts at most %(num)d hour.",
                           "You were signed out: a session lasts at most %(num)d hours.",
                           longest)
    else:
        message = None
    if message:
        end(message)
        target = _here() if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if now - seen > 60:
        session["seen_at"] = now  # to the minute: not a new cookie on every request
    if not session.get("mfa") and request.endpoint not in _BEFORE_SECOND_FACTOR:
        return redirect(url_for("auth.two_factor_setup"))
    return None


def fresh_check_required(view):
    """For sensitive actions: ask for the password (or authenticator code) again when the
    last check is older than REAUTH_MINUTES, then come back."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user.is_authenticated and not recently_checked():
            if request.method == "GET":
                target = _here()
            else:  # the form the POST came from; the user repeats the action from there
                target = _same_site(request.referrer) or url_for("main.home")
                flash(_("Confirm it is you, then repeat the action."), "info")
            return redirect(url_for("auth.confirm", next=target))
        return view(*args, **kwargs)
    return wrapper


def _here():
    return safe_next(request.full_path.rstrip("?"), "/")


def _same_site(url):
    """The path and query of `url` when it points at this site, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, None)
