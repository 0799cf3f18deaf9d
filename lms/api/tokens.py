"""Issuing, revoking and checking API tokens."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from lms.api.models import ApiToken
from lms.audit.services import record_event
from lms.extensions import db
from lms.org.models import Unit, utcnow

# Every token starts so: people and secret scanners recognise one in a file or a log.
PLAINTEXT_START = "cs_"
PREFIX_LENGTH = 8
# A real token is "cs_" and 43 characters; anything much longer is not worth hashing.
MAX_TOKEN_LENGTH = 128
# last_used_at is "used around then": writing it on every request would make each read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(plaintext):
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_token(actor, name, unit, ip=None):
    """Issue a token that reads `unit`'s subtree; returns (row, plaintext), audit-logged.

    The plaintext exists only in the return value: show it once, it cannot be recovered."""
    plaintext = PLAINTEXT_START + secrets.token_urlsafe(32)
    token = ApiToken(name=name.strip(), unit_id=unit.id, unit=unit,
                     prefix=plaintext[:PREFIX_LENGTH], token_hash=hash_token(plaintext),
                     created_by_id=getattr(actor, "id", None))
    db.session.add(token)
    db.session.flush()
    record_event("api_token_created", actor=actor, obj=token, ip=ip, name=token.name,
                 unit=unit.code, prefix=token.prefix)
    return token, plaintext


def revoke_token(actor, token, ip=None):
    """Revoke a token for good (audit-logged); False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    token.revoked_by_id = getattr(actor, "id", None)
    record_event("api_token_revoked", actor=actor, obj=token, ip=ip, name=token.name,
                 unit=token.unit.code, prefix=token.prefix)
    return True


def authenticate(header_value, now=None, note=True):
    """The live token named by an `Authorization: Bearer <token>` header value, or None.

    Notes the use (note_use) unless `note` is false; the caller commits."""
    scheme, _, credentials = (header_value or "").strip().partition(" ")
    plaintext = credentials.strip()
    if scheme.lower() != "bearer" or not plaintext.startswith(PLAINTEXT_START) \
            or len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    # Looked up by its hash: the hash of a high-entropy secret, so the timing of the lookup
    # tells an attacker nothing about any stored token.
    token = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.unit))
                              .where(ApiToken.token_hash == hash_token(plaintext)))
    if token is None or token.revoked_at is not None:
        return None
    if note:
        note_use(token, now)
    return token


def note_use(token, now=None):
    """Note that the token was used (at most once a minute); True when that changed it."""
    now = now or utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    token.last_used_at = now
    return True


def all_tokens():
    """Every token, live ones first, newest first, with their unit and people loaded."""
    return db.session.scalars(
        select(ApiToken)
        .options(joinedload(ApiToken.unit), joinedload(ApiToken.created_by),
                 joinedload(ApiToken.revoked_by))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(),
                  ApiToken.id.desc())).all()


def unit_choices(limit=1000):
    """(code, name) of units in tree order, as suggestions for the unit code field."""
    return db.session.execute(select(Unit.code, Unit.name).order_by(Unit.path)
                              .limit(limit)).all()
