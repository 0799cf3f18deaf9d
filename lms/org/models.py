"""The organisation tree."""

from datetime import UTC, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db


def utcnow():
    """Naive UTC now; every stored time is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Unit(db.Model):
    """A node of the organisation tree; its figures always include its whole subtree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path of ids, "/1/4/17/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(512), index=True)
    depth: Mapped[int] = mapped_column(default=0)
    head_employee_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped["Unit | None"] = relationship(remote_side=[id])

    def contains(self, other):
        """True when `other` is this unit or lies in its subtree."""
        return other is not None and other.path.startswith(self.path)

    def __repr__(self):
        return f"<Unit {self.code}>"
