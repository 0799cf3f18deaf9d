"""The email outbox: every message is a row before it is sent, keyed by (kind, period,
recipient) so that a job run twice, or by two schedulers at once, queues it once."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import utcnow

KINDS = ("digest", "reminder", "expiry", "refresher")
# pending: waiting (or waiting for a retry at next_attempt_at); sending: claimed by a sender
# (reclaimed when its lease ran out: the sender crashed); sent; failed: refused for good or
# given up (an admin can resend); cancelled: no longer wanted at send time (a head replaced,
# a learner deactivated).
STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class OutboxMessage(db.Model):
    """One email, rendered once and stored: what is sent, to whom, and how it went."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("kind", "period", "recipient"),
                      Index("ix_outbox_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(64))  # 2026-W47, a certificate serial, ...
    recipient: Mapped[str] = mapped_column(String(64))  # "user:<id>"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254))
    lang: Mapped[str] = mapped_column(String(8), default="vi")
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32), index=True)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user = relationship("User")
    unit = relationship("Unit")

    def __repr__(self):
        return f"<OutboxMessage {self.id} {self.kind} {self.period} {self.recipient}>"
