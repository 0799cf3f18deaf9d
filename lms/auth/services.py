"""Sign-in rules: passwords, throttling, one-time links, session versions."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from lms.auth.models import LoginThrottle, User
from lms.extensions import db
from lms.org.models import utcnow

MIN_PASSWORD_LENGTH = 10
_DUMMY_HASH = generate_password_hash("timing-equaliser")


@dataclass
class LoginResult:
    user: User | None = None
    locked_seconds: int = 0


def hash_password(password):
    """Hash with scrypt (Werkzeug's default KDF)."""
    return generate_password_hash(password, method="scrypt")


def find_by_login(login):
    """The user whose email or employee ID is `login` (case-insensitive), or None."""
    login = (login or "").strip()
    if not login:
        return None
    return db.session.scalar(
        select(User).where(or_(func.lower(User.email) == login.lower(),
                               User.employee_id == login))
    )


def _throttles(keys):
    rows = db.session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    found = {row.key: row for row in rows}
    for key in keys:
        if key not in found:
            found[key] = LoginThrottle(key=key, failures=0)
            db.session.add(found[key])
    return list(found.values())


def _keys(login, ip, kind="login"):
    """The throttle keys of a check: the account (per kind of check: the password "login",
    the second factor "code", the re-check of a signed-in user "confirm") and the address."""
    return [f"{kind}:{(login or '').strip().lower()}"[:320], f"ip:{ip or '-'}"]


def locked_for(login, ip, now=None, kind="login"):
    """Seconds until this account or address may try again (0 when it may now)."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_(_keys(login, ip, kind)))
    ).all()
    waits = [(r.locked_until - now).total_seconds() for r in rows
             if r.locked_until and r.locked_until > now]
    return int(max(waits, default=0)) + (1 if waits else 0)


def authenticate(login, password, ip, now=None):
    """Check a sign-in, recording failures; the caller commits whatever happened."""
    now = now or utcnow()
    wait = locked_for(login, ip, now)
    if wait:
        return LoginResult(locked_seconds=wait)
    user = find_by_login(login)
    ok = bool(
        user is not None and user.password_hash
        and check_password_hash(user.password_hash, password or "")
    )
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")  # same time for unknown logins
    if ok and user.active:
        clear_failures(login, "login")
        user.last_login_at = now
        return LoginResult(user=user)
    record_failure(login, ip, now)
    return LoginResult()


def record_failure(login, ip, now=None, kind="login"):
    """Count a failed check against the account and the address; lock them out, for longer
    and longer, once they are over the allowance. The caller commits."""
    now = now or utcnow()
    free = current_app.config["LOGIN_FREE_FAILURES"]
    cap = current_app.config["LOGIN_MAX_LOCK_SECONDS"]
    for row in _throttles(_keys(login, ip, kind)):
        row.failures += 1
        row.last_failure_at = now
        # An address is shared by a whole office behind NAT: give it more room.
        allowance = free * 10 if row.key.startswith("ip:") else free
        over = row.failures - allowance
        if over >= 0:
            row.locked_until = now + timedelta(seconds=min(cap, 30 * 2 ** over))


def clear_failures(login, kind):
    """Forget the account's failed checks of this kind after a successful one."""
    for row in _throttles([_keys(login, None, kind)[0]]):
        row.failures, row.locked_until = 0, None


def set_password(user, password):
    """Set a new password and end every other session of the user."""
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    if user.activated_at is None:
        user.activated_at = utcnow()


def end_sessions(user):
    """Invalidate every session of the user (deactivation, 'sign out everywhere')."""
    user.session_version = (user.session_version or 0) + 1


def password_problem(password):
    """A reason the password is too weak, or None."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return "too_short"
    if len(set(password)) < 4:
        return "too_simple"
    return None


# One-time links ------------------------------------------------------------------------

def _serializer(purpose):
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"lms.{purpose}")


def _fingerprint(user):
    # Changes as soon as the link is used (new password hash), which makes it one-time.
    material = f"{user.id}:{user.password_hash or ''}:{user.session_version}:{user.active}"
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def make_token(user, purpose):
    """A signed link token for 'activate' or 'reset'."""
    return _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user)})


def read_token(token, purpose):
    """The user a valid, unused, unexpired token names, or None."""
    max_age = current_app.config["ACTIVATION_MAX_AGE" if purpose == "activate"
                                  else "RESET_MAX_AGE"]
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        return None
    return user


@cache
def _session_user_statement():
    # Every signed-in request runs it: built once, and the unit comes in the same query
    # because every page's permission checks read it.
    return select(User).options(joinedload(User.unit)).where(User.id == bindparam("id"))


def load_session_user(session_id):
    """Flask-Login loader: 'id.version', refused when the version no longer matches."""
    user_id, _, version = (session_id or "").partition(".")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.execute(_session_user_statement(),
                              {"id": int(user_id)}).scalar_one_or_none()
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


