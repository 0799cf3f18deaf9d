"""Staff members (who are also the users) and login throttling."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import Unit, utcnow

ROLES = ("learner", "head", "hr", "admin")
CATEGORIES = ("cadre", "civil_servant", "public_employee")

# Sort keys are ASCII built by lms.text.sort_key: compare them byte by byte everywhere.
SortKey = String(255).with_variant(String(255, collation="C"), "postgresql")


class User(UserMixin, db.Model):
    """A staff member with an account; people who leave are deactivated, never deleted."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_unit_sort", "unit_id", "active", "sort_key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    category: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16), default="learner")
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    session_version: Mapped[int] = mapped_column(default=1)
    locale: Mapped[str | None] = mapped_column(String(8))
    # Two-factor sign-in (TOTP, RFC 6238): the shared secret (base32) once confirmed, and the
    # last time step accepted, so that a code works once.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # Folded name, employee ID and email, for diacritic- and case-insensitive search.
    search_text: Mapped[str] = mapped_column(String(600), default="")
    sort_key: Mapped[str] = mapped_column(SortKey, default="", index=True)
    activated_at: Mapped[datetime | None]
    invited_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit | None] = relationship()

    def get_id(self):
        """Session identity: changing session_version ends every session of the user."""
        return f"{self.id}.{self.session_version}"

    @property
    def is_active(self):
        return self.active

    @property
    def has_two_factor(self):
        return self.totp_enabled_at is not None

    @property
    def is_activated(self):
        return self.password_hash is not None

    def __repr__(self):
        return f"<User {self.employee_id or self.id}>"


class LoginThrottle(db.Model):
    """Failed sign-ins per account or per address, with an exponential lock-out."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]


class RecoveryCode(db.Model):
    """A one-time code that replaces the authenticator once (stored as a SHA-256 hash)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
