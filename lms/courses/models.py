"""The synced course catalogue, programmes, their assignment to units, and reading progress."""

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import utcnow


class Course(db.Model):
    """A course: its language versions are translations of one course (courses/<slug>/<lang>)."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    # Completions at a version below this one need a refresher (None: no retraining asked).
    retrain_from_version: Mapped[int | None]
    published: Mapped[bool] = mapped_column(default=True)
    # Open courses are in everyone's catalogue; closed ones only for assigned units.
    open: Mapped[bool] = mapped_column(default=True)
    minutes: Mapped[int] = mapped_column(default=0)
    digcomp: Mapped[list] = mapped_column(JSON, default=list)
    quiz_slug: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    texts: Mapped[list["CourseText"]] = relationship(
        back_populates="course", cascade="all, delete-orphan")
    modules: Mapped[list["Module"]] = relationship(
        back_populates="course", order_by="Module.position", cascade="all, delete-orphan")


class CourseText(db.Model):
    """A course's text in one language: title, summary and the Markdown introduction."""

    __tablename__ = "course_texts"
    __table_args__ = (UniqueConstraint("course_id", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")

    course: Mapped[Course] = relationship(back_populates="texts")


class Module(db.Model):
    """One Markdown page of a course, at its position (the NN of NN-<slug>.md)."""

    __tablename__ = "modules"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    slug: Mapped[str] = mapped_column(String(120))  # file stem, e.g. "01-work-devices"
    position: Mapped[int]
    minutes: Mapped[int] = mapped_column(default=10)
    draft: Mapped[bool] = mapped_column(default=False)
    digcomp: Mapped[list] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)  # bumped when its content hash changes
    content_hash: Mapped[str] = mapped_column(String(64), default="")

    course: Mapped[Course] = relationship(back_populates="modules")
    texts: Mapped[list["ModuleText"]] = relationship(
        back_populates="module", cascade="all, delete-orphan")


class ModuleText(db.Model):
    """A module's title and Markdown body in one language."""

    __tablename__ = "module_texts"
    __table_args__ = (UniqueConstraint("module_id", "lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    body_hash: Mapped[str] = mapped_column(String(64), default="")

    module: Mapped[Module] = relationship(back_populates="texts")


class Programme(db.Model):
    """A named set of required courses with a target ratio, a deadline and a validity."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    titles: Mapped[dict] = mapped_column(JSON, default=dict)  # {"vi": ..., "en": ...}
    summaries: Mapped[dict] = mapped_column(JSON, default=dict)
    target_ratio: Mapped[float] = mapped_column(default=0.8)
    deadline: Mapped[date | None]
    validity_months: Mapped[int | None]  # certificates expire after this; None: never
    content_hash: Mapped[str] = mapped_column(String(64), default="")

    courses: Mapped[list["ProgrammeCourse"]] = relationship(
        order_by="ProgrammeCourse.position", cascade="all, delete-orphan")


class ProgrammeCourse(db.Model):
    """A required course of a programme."""

    __tablename__ = "programme_courses"
    __table_args__ = (UniqueConstraint("programme_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(default=0)

    course: Mapped[Course] = relationship()


class ProgrammeAssignment(db.Model):
    """A programme assigned to a unit, and so to its whole subtree, with a deadline."""

    __tablename__ = "programme_assignments"
    __table_args__ = (UniqueConstraint("programme_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    deadline: Mapped[date | None]  # None: the programme's own deadline
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)

    programme: Mapped[Programme] = relationship()
    unit = relationship("Unit")


class ModuleRead(db.Model):
    """A learner recorded that they read a module (at that module and course version)."""

    __tablename__ = "module_reads"
    __table_args__ = (UniqueConstraint("user_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"),
                                           index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    module_version: Mapped[int] = mapped_column(default=1)
    course_version: Mapped[int] = mapped_column(default=1)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class CourseCompletion(db.Model):
    """A learner completed a course: every module read and its quiz passed (or no quiz).
    Written in the transaction that completes it; certificates and reports hang on it."""

    __tablename__ = "course_completions"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    course_version: Mapped[int] = mapped_column(default=1)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_attempts.id"))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentState(db.Model):
    """The fingerprint of the content folder (and of the code that checks it) as last synced:
    a sync of byte-for-byte the same files by the same code has nothing to check or change."""

    __tablename__ = "content_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
