"""Two-factor sign-in: TOTP codes (RFC 6238, any authenticator app) and recovery codes."""

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, select, update

from lms.auth.models import RecoveryCode, User
from lms.extensions import db
from lms.org.models import utcnow

RECOVERY_CODES = 10
# Lower-case letters and digits without look-alikes (0/o, 1/l/i): read from paper, typed back.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def required_for(user):
    """True when the user's role must sign in with a second factor."""
    return user.role in current_app.config["TWO_FACTOR_ROLES"]


def wanted_for(user):
    """True when sign-in asks this user for a second factor (required, or chosen)."""
    return required_for(user) or user.has_two_factor


def new_secret():
    """A fresh 160-bit TOTP secret (base32), not yet attached to anyone."""
    return pyotp.random_base32(32)


def provisioning_uri(user, secret):
    """The otpauth:// URI an authenticator app reads from the QR code."""
    issuer = current_app.config.get("APP_NAME", "CivicSkills")
    account = user.email or user.employee_id or str(user.id)
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri):
    """The URI as an inline SVG QR code (no external request, no script)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def _matching_step(secret, code, now):
    """The time step whose code is `code` (this step or one either side), or None."""
    code = "".join((code or "").split())
    if len(code) != 6 or not (code.isascii() and code.isdigit()):  # not "١٢٣٤٥٦"
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def enable(user, secret, code, now=None):
    """Attach `secret` to the user once the app shows it produces `code`; False otherwise."""
    step = _matching_step(secret, code, now or time.time())
    if step is None:
        return False
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, utcnow(), step
    return True


def check_code(user, code, now=None):
    """True for a current authenticator code not used before (each code works once)."""
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, now or time.time())
    if step is None:
        return False
    # One conditional UPDATE: two requests racing with the same code cannot both pass.
    used = db.session.execute(
        update(User).where(User.id == user.id,
                           func.coalesce(User.totp_last_step, -1) < step)
        .values(totp_last_step=step).returning(User.id)
    ).first()
    if used is None:
        return False
    user.totp_last_step = step
    return True


def disable(user):
    """Remove the authenticator and the recovery codes (admin reset, or the user's choice)."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


# Recovery codes -------------------------------------------------------------------------

def _hash(code):
    normalised = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def new_recovery_codes(user):
    """Replace the user's recovery codes with fresh ones; the plain codes are returned to
    be shown once (only their hashes are kept)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # ~49 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


def use_recovery_code(user, code):
    """Spend one unused recovery code; True when `code` was one."""
    if not code or len(code) > 40:
        return False
    spent = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).returning(RecoveryCode.id)
    ).first()
    return spent is not None


def recovery_codes_left(user):
    return db.session.scalar(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
