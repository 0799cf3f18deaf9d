"""Question banks (synced from quizzes/*.yaml), attempts, their answers, and grading results."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import db
from lms.org.models import utcnow


class QuizBank(db.Model):
    """The question bank of a course (quizzes/<slug>.yaml) at its current version."""

    __tablename__ = "quiz_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    # draw, pass_mark, time_limit_minutes, max_attempts, wait_minutes, shuffle_questions,
    # shuffle_choices, show_answers (see docs/content-format.md)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    questions: Mapped[list["QuizQuestion"]] = relationship(
        back_populates="bank", order_by="QuizQuestion.position", cascade="all, delete-orphan")
    course = relationship("Course")


class QuizQuestion(db.Model):
    """One question of a bank, by its stable ID. Removed questions stay, inactive, for the
    statistics and the attempts that drew them."""

    __tablename__ = "quiz_questions"
    __table_args__ = (UniqueConstraint("bank_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("quiz_banks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))  # the stable ID written in the bank
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20))  # single|multiple|true_false|ordering|short
    # {"text": {lang: md}, "choices": [{"id", "text": {lang: md}}], "answer": ...,
    #  "accept": {lang: [..]}, "tolerant": bool, "feedback": {lang: md}}
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)

    bank: Mapped[QuizBank] = relationship(back_populates="questions")


class QuizAttempt(db.Model):
    """A learner's attempt: the questions drawn, in their order, with the answer key as it
    was at the start (editing the bank never changes an old score; `lms regrade` may)."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (UniqueConstraint("user_id", "bank_id", "number"),
                      Index("ix_quiz_attempts_bank_status", "bank_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("quiz_banks.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    number: Mapped[int] = mapped_column(default=1)  # 1, 2, ... per learner and bank
    bank_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | submitted
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime | None]  # None: no time limit
    submitted_at: Mapped[datetime | None]
    timed_out: Mapped[bool] = mapped_column(default=False)  # submitted by the clock
    # [{"key", "kind", "choices": [ids in the order shown], "answer", "accept", "tolerant"}]
    paper: Mapped[list] = mapped_column(JSON, default=list)
    pass_mark: Mapped[float] = mapped_column(default=0.8)
    score: Mapped[float | None]  # points, set once when graded
    max_score: Mapped[int] = mapped_column(default=0)
    passed: Mapped[bool | None]

    answers: Mapped[list["QuizAnswer"]] = relationship(
        back_populates="attempt", cascade="all, delete-orphan")
    bank: Mapped[QuizBank] = relationship()


class QuizAnswer(db.Model):
    """The saved answer to one question of an attempt (saved as the learner goes)."""

    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(100))
    response: Mapped[object] = mapped_column(JSON, nullable=True)  # choice id(s), bool or text
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    credit: Mapped[float | None]  # 0..1, set when the attempt is graded

    attempt: Mapped[QuizAttempt] = relationship(back_populates="answers")
