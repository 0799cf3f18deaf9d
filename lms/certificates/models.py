"""Certificates: issued once per completion (course) or per programme held, signed, each with a
serial people read and a random code the public check uses; revocable, re-issuable."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import utcnow

IN_FORCE = "revoked_at IS NULL AND renewed_at IS NULL"


class Certificate(db.Model):
    """One certificate as issued: what it says is kept as it was signed (a later change of
    name or title never rewrites an issued certificate; re-issuing makes a new one)."""

    __tablename__ = "certificates"
    __table_args__ = (
        # At most one certificate in force (neither revoked nor renewed) per person and course,
        # and per person and programme.
        Index("uq_certificates_course_in_force", "user_id", "course_id", unique=True,
              sqlite_where=text(IN_FORCE + " AND course_id IS NOT NULL"),
              postgresql_where=text(IN_FORCE + " AND course_id IS NOT NULL")),
        Index("uq_certificates_programme_in_force", "user_id", "programme_id", unique=True,
              sqlite_where=text(IN_FORCE + " AND programme_id IS NOT NULL"),
              postgresql_where=text(IN_FORCE + " AND programme_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)  # "2026-000123"
    code: Mapped[str] = mapped_column(String(64), unique=True)  # random, >= 128 bits
    kind: Mapped[str] = mapped_column(String(12))  # course | programme
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("course_completions.id"))
    course_version: Mapped[int | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_on: Mapped[date | None]
    # What the certificate says, as signed
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    score: Mapped[str | None] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(255))
    signer: Mapped[str] = mapped_column(String(255))
    layout: Mapped[str] = mapped_column(String(100), default="default")
    lang: Mapped[str] = mapped_column(String(8), default="vi")
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
    # Revocation
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    # Refreshers: when the holder was invited to one (expired, or retraining asked), and when
    # a new certificate took this one's place after the refresher (replaced_by_id points to it).
    refresher_invited_at: Mapped[datetime | None]
    renewed_at: Mapped[datetime | None]

    user = relationship("User", foreign_keys=[user_id])


class CertificateCounter(db.Model):
    """The last serial number issued in a year (serials are per year and sequential)."""

    __tablename__ = "certificate_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
