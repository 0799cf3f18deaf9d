"""What the reports read instead of scanning certificates and reads: each person's standing in
each programme (kept in the transaction that changes it), each unit's own figures as last
counted (read instead of counting very large subtrees again), and each unit's weekly
figures."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import db
from lms.org.models import utcnow


class ProgrammeProgress(db.Model):
    """A person's standing in a programme: started when they first read a module or started
    a quiz of one of its courses; `courses_held`: required courses with a certificate in force
    that no later course version asks to retrain (expired ones included: `valid_until` is
    the earliest expiry among them). Trained today = every course held and valid_until not
    past. Written with the change that causes it (lms.reports.records)."""

    __tablename__ = "programme_progress"
    # Clustered on the key on SQLite: the dashboard looks up 50,000 people in one pass.
    __table_args__ = {"sqlite_with_rowid": False}

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True)
    started_at: Mapped[datetime | None]
    courses_held: Mapped[int] = mapped_column(default=0)
    valid_until: Mapped[date | None]
    trained_at: Mapped[datetime | None]  # when the last required course was certified


class UnitFigures(db.Model):
    """A unit's own active staff (not its subtree's) in a programme as counted at
    `computed_at` for the day `computed_on`: what lms.reports.progress adds up instead of
    counting people again when a subtree is very large (LMS_REPORTS_LIVE_LIMIT)."""

    __tablename__ = "unit_figures"

    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"),
                                         primary_key=True)
    active: Mapped[int] = mapped_column(default=0)
    trained: Mapped[int] = mapped_column(default=0)
    in_progress: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    computed_on: Mapped[date]
    computed_at: Mapped[datetime]


class UnitSnapshot(db.Model):
    """A unit's figures (its whole subtree) for a programme in one ISO week."""

    __tablename__ = "unit_snapshots"
    __table_args__ = (UniqueConstraint("unit_id", "programme_id", "week"),
                      Index("ix_unit_snapshots_programme_week", "programme_id", "week"))

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    week: Mapped[date]  # the Monday of the ISO week
    active: Mapped[int] = mapped_column(default=0)
    trained: Mapped[int] = mapped_column(default=0)
    in_progress: Mapped[int] = mapped_column(default=0)
    not_started: Mapped[int] = mapped_column(default=0)
    overdue: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    target: Mapped[float] = mapped_column(default=0.8)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    rebuilt: Mapped[bool] = mapped_column(default=False)  # from history, not live
