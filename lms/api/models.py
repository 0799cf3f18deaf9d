"""API tokens: a secret handed to a data platform, scoped to one unit's subtree."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import Unit, utcnow


class ApiToken(db.Model):
    """A bearer token; only the SHA-256 of the secret is kept, never the secret itself."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The token reads this unit and everything below it, nothing else.
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # The first characters of the secret, shown in lists so that people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship()
    created_by = relationship("User", foreign_keys=[created_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])

    @property
    def active(self):
        return self.revoked_at is None

    def __repr__(self):
        return f"<ApiToken {self.prefix}…>"
