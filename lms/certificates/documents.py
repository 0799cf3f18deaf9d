"""A stored certificate as documents (claims, PDF, badge), its public status and record, who
may download it. Flushes, never commits. (Wrong codes at the public check are counted by
lms.ratelimit, rule "verify_wrong".)"""

import logging
from datetime import date

from flask import url_for
from sqlalchemy import select

from lms.auth.permissions import allowed
from lms.certificates.badges import open_badge_jwt
from lms.certificates.keys import signing_key
from lms.certificates.models import Certificate
from lms.certificates.pdf import load_layout, render_pdf
from lms.certificates.signing import CertificateClaims
from lms.extensions import db

log = logging.getLogger(__name__)


def claims_of(certificate: Certificate) -> CertificateClaims:
    """The claims as signed, rebuilt from the stored row."""
    return CertificateClaims(
        serial=certificate.serial, code=certificate.code, name=certificate.name,
        title=certificate.title, kind=certificate.kind,
        issued_on=certificate.issued_at.date().isoformat(), score=certificate.score,
        issuer=certificate.issuer, signer=certificate.signer,
        expires_on=certificate.expires_on.isoformat() if certificate.expires_on else None,
        lang=certificate.lang)


def verify_url(certificate: Certificate) -> str:
    """The public address that checks this certificate (printed as the QR code)."""
    return url_for("certificates.verify", code=certificate.code, _external=True)


def pdf_of(certificate: Certificate) -> bytes:
    """The certificate PDF, sealed with the signature made at issue; on the default layout
    when its own was removed since (the layout is not part of what is signed)."""
    try:
        layout = load_layout(certificate.layout)
    except FileNotFoundError:
        log.warning("certificate %s: layout %r is gone; printed on the default layout",
                    certificate.serial, certificate.layout)
        layout = load_layout()
    return render_pdf(claims_of(certificate), layout, verify_url(certificate),
                      signed=(certificate.key_id, certificate.signature))


def badge_of(certificate: Certificate) -> str:
    """The certificate as an Open Badges 3.0 VC-JWT, signed with the current key."""
    kid, private_key = signing_key()
    return open_badge_jwt(claims_of(certificate), kid, private_key,
                          url_for("main.index", _external=True), verify_url(certificate))


def status_of(certificate: Certificate, today: date) -> str:
    """"revoked", "expired" (the day after expires_on) or "valid"."""
    if certificate.revoked_at is not None:
        return "revoked"
    if certificate.expires_on is not None and certificate.expires_on < today:
        return "expired"
    return "valid"


def public_record(certificate: Certificate, today: date) -> dict:
    """What the public check shows: never an email, an employee ID or a revocation reason."""
    return {
        "status": status_of(certificate, today),
        "name": certificate.name,
        "title": certificate.title,
        "kind": certificate.kind,
        "issued_on": certificate.issued_at.date().isoformat(),
        "expires_on": certificate.expires_on.isoformat() if certificate.expires_on else None,
        "revoked_on": certificate.revoked_at.date().isoformat()
        if certificate.revoked_at else None,
        "issuer": certificate.issuer,
        "serial": certificate.serial,
        "key_id": certificate.key_id,
    }


def find_by_code(code: str) -> Certificate | None:
    """The certificate with this verification code, or None."""
    return db.session.scalar(select(Certificate).where(Certificate.code == code))


def certificates_of(user) -> list[Certificate]:
    """The user's certificates, newest first (revoked ones included)."""
    return list(db.session.scalars(select(Certificate).where(
        Certificate.user_id == user.id).order_by(Certificate.issued_at.desc(),
                                                 Certificate.id.desc())))


def revocation_list() -> list[dict]:
    """The public revocation list: serials and dates only, no names."""
    rows = db.session.execute(select(Certificate.serial, Certificate.revoked_at).where(
        Certificate.revoked_at.is_not(None)).order_by(Certificate.serial))
    return [{"serial": serial, "revoked_on": revoked_at.date().isoformat()}
            for serial, revoked_at in rows]


def may_download(user, certificate: Certificate) -> bool:
    """The holder, HR over the holder's unit, and admins."""
    if not user.is_authenticated or not user.active:
        return False
    return certificate.user_id == user.id or allowed(user, "org.manage", certificate.user)
