"""Quiz rules: starting, resuming, saving and submitting attempts (graded once, however
many requests race). Functions flush and never commit; the caller commits.

Writing results (grading, completion, re-grading) lives in lms.quizzes.results, the pages of
an attempt in lms.quizzes.papers and the statistics in lms.quizzes.stats: their public
functions are re-exported here, so that views need this one module.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from lms.certificates.services import due_certificate
from lms.extensions import db
from lms.org.models import utcnow
from lms.quizzes.models import QuizAttempt, QuizQuestion
from lms.quizzes.papers import answers_visible, paper_view, result_view
from lms.quizzes.results import (
    NOT_PREPARED,
    bank_for_course,
    complete_course,
    grade_submission,
    prepare_completion,
    regrade,
    submission_of,
    upsert_answers,
)
from lms.quizzes.stats import QuestionStats, QuizStats, quiz_stats
from lms.reports.records import note_started

__all__ = [
    "GRACE", "QuestionStats", "QuizError", "QuizStats", "QuizStatus", "answers_visible",
    "attempt_of", "bank_for_course", "complete_course", "expire_if_overdue", "paper_view",
    "quiz_stats", "quiz_status", "regrade", "result_view", "save_answers", "settings_of",
    "prepare_submission", "start_attempt", "submission_of", "submit_attempt",
    "submit_submission",
]

GRACE = timedelta(seconds=30)  # network and clock slack after the deadline
DEFAULT_SETTINGS = {"draw": 0, "pass_mark": 0.8, "time_limit_minutes": 0, "max_attempts": 0,
                    "wait_minutes": 0, "shuffle_questions": True, "shuffle_choices": True,
                    "show_answers": "after_submit"}
MAX_TEXT, MAX_ITEMS = 1000, 100  # what a stored response may hold
BUSY_TRIES = 60
_RETRYING = "quizzes.retrying"


class QuizError(Exception):
    """Why an attempt cannot be started or changed: `code` is unavailable, max_attempts,
    wait (until `until`), closed (already submitted) or expired (time up: it was submitted)."""

    def __init__(self, code, until=None):
        super().__init__(code)
        self.code, self.until = code, until


def settings_of(bank):
    """The bank's settings with the documented defaults filled in."""
    return {**DEFAULT_SETTINGS, **(bank.settings or {})}


def attempt_of(user, attempt_id):
    """The user's attempt with this id, or None when there is none or it is someone else's."""
    return db.session.scalar(select(QuizAttempt).where(QuizAttempt.id == attempt_id,
                                                       QuizAttempt.user_id == user.id))


# Status and start ------------------------------------------------------------------------

@dataclass
class QuizStatus:
    """Where a learner stands with a quiz. `can_start`: a new attempt may begin now (False
    while one is open: that one is resumed); `next_start_at`: the end of the wait after a
    failed attempt, while it lasts."""

    attempts: list = field(default_factory=list)  # newest first, every one (the history)
    open_attempt: QuizAttempt | None = None
    attempts_used: int = 0
    attempts_left: int | None = None  # None: unlimited
    next_start_at: datetime | None = None
    passed: bool = False
    best: float | None = None  # best score / max score
    can_start: bool = False
    available: bool = True  # the bank has questions to draw


def quiz_status(user, bank, now=None):
    """The learner's attempts and what they may do next; an overdue open attempt is submitted
    first (the caller commits)."""
    now = now or utcnow()
    settings = settings_of(bank)
    attempts = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.user_id == user.id, QuizAttempt.bank_id == bank.id)
        .order_by(QuizAttempt.number.desc())).all()
    counted = attempts
    refresher = due_certificate(user.id, bank.course_id, now.date()) \
        if bank.course_id is not None else None
    if refresher is not None:  # a refresher starts afresh: earlier attempts do not count
        counted = [a for a in attempts if a.started_at > refresher.issued_at]
    open_attempt = next((a for a in attempts if a.status == "open"), None)
    if open_attempt is not None and expire_if_overdue(open_attempt, now):
        open_attempt = None
    submitted = [a for a in counted if a.status == "submitted"]
    used, limit = len(counted), settings["max_attempts"]
    left = max(0, limit - used) if limit else None
    next_start = None
    if submitted and not submitted[0].passed and settings["wait_minutes"] \
            and submitted[0].submitted_at is not None:
        until = submitted[0].submitted_at + timedelta(minutes=settings["wait_minutes"])
        next_start = until if until > now else None
    ratios = [a.score / a.max_score for a in submitted if a.max_score and a.score is not None]
    available = bank.course_id is not None and bool(db.session.scalar(
        select(func.count(QuizQuestion.id)).where(QuizQuestion.bank_id == bank.id,
                                                  QuizQuestion.active.is_(True))))
    return QuizStatus(
        attempts=list(attempts), open_attempt=open_attempt, attempts_used=used,
        attempts_left=left, next_start_at=next_start, passed=any(a.passed for a in submitted),
        best=max(ratios) if ratios else None, available=available,
        can_start=available and open_attempt is None and left != 0 and next_start is None)


def start_attempt(user, bank, now=None, rng=None):
    """The learner's open attempt, or a new one: `draw` active questions at random, their
    order and choice order fixed, the answer key copied into the paper. Raises QuizError."""
    now = now or utcnow()
    rng = rng or random.SystemRandom()
    return _retrying(lambda: _start(user, bank, now, rng))


def _start(user, bank, now, rng):
    for _ in range(3):
        status = quiz_status(user, bank, now)
        if status.open_attempt is not None:
            return status.open_attempt
        if not status.available:
            raise QuizError("unavailable")
        if status.attempts_left == 0:
            raise QuizError("max_attempts")
        if status.next_start_at is not None:
            raise QuizError("wait", status.next_start_at)
        attempt = _new_attempt(user, bank, status, now, rng)
        try:
            with db.session.begin_nested():
                db.session.add(attempt)
        except IntegrityError:
            continue  # a concurrent start took this number: the next round finds its attempt
        note_started(user.id, bank.course_id, now)
        return attempt
    raise QuizError("unavailable")


def _new_attempt(user, bank, status, now, rng):
    settings = settings_of(bank)
    questions = db.session.scalars(
        select(QuizQuestion).where(QuizQuestion.bank_id == bank.id, QuizQuestion.active.is_(True))
        .order_by(QuizQuestion.position, QuizQuestion.id)).all()
    draw = settings["draw"]
    chosen = rng.sample(questions, draw if 0 < draw < len(questions) else len(questions))
    if not settings["shuffle_questions"]:
        chosen.sort(key=lambda q: (q.position, q.id))
    paper = [_paper_entry(q, rng, settings["shuffle_choices"]) for q in chosen]
    limit = settings["time_limit_minutes"]
    return QuizAttempt(
        user_id=user.id, bank_id=bank.id, course_id=bank.course_id,
        number=max((a.number for a in status.attempts), default=0) + 1,
        bank_version=bank.version, status="open", started_at=now,
        deadline_at=now + timedelta(minutes=limit) if limit else None, timed_out=False,
        paper=paper, pass_mark=float(settings["pass_mark"]), max_score=len(paper))


def _paper_entry(question, rng, shuffle_choices):
    """A question as the attempt fixes it: choices in the order shown, and the answer key."""
    data = question.data or {}
    choices = [c["id"] for c in data.get("choices") or [] if isinstance(c, dict) and "id" in c]
    if question.kind == "ordering" and len(choices) > 1:
        # Listed in the correct order in the bank: always shuffled, never shown solved.
        rng.shuffle(choices)
        if choices == data.get("answer"):
            choices = choices[1:] + choices[:1]
    elif shuffle_choices and question.kind not in ("true_false", "short"):
        rng.shuffle(choices)
    return {"key": question.key, "kind": question.kind, "choices": choices,
            "answer": data.get("answer"), "accept": data.get("accept") or {},
            "tolerant": bool(data.get("tolerant"))}


# Saving and submitting -------------------------------------------------------------------

def save_answers(attempt, responses, now=None):
    """Save responses to questions of the attempt (other keys are ignored); how many were
    saved. QuizError("closed") once submitted; QuizError("expired") after the deadline and
    its grace, the attempt then being submitted with what was saved (the caller commits)."""
    now = now or utcnow()
    return _retrying(lambda: _save(attempt, responses, now))


def _save(attempt, responses, now):
    # The row lock orders a save and a concurrent submit (PostgreSQL; SQLite has one writer).
    status = db.session.scalar(select(QuizAttempt.status).where(QuizAttempt.id == attempt.id)
                               .with_for_update())
    if status != "open":
        db.session.refresh(attempt)
        raise QuizError("closed")
    if _overdue(attempt, now):
        _submit(attempt, None, now)
        raise QuizError("expired")
    return _store_answers(attempt, responses or {}, now)


def submit_attempt(attempt, responses=None, now=None):
    """Submit and grade the attempt, once: the first caller grades (with `responses` saved
    first when the time allows), later or concurrent callers get the graded attempt."""
    now = now or utcnow()
    return _retrying(lambda: _submit(attempt, responses, now))


def expire_if_overdue(attempt, now=None):
    """Submit an open attempt whose deadline and grace have passed, with the answers saved;
    True when it was submitted by the clock."""
    now = now or utcnow()
    if attempt.status != "open" or not _overdue(attempt, now):
        return False
    _retrying(lambda: _submit(attempt, None, now))
    return attempt.status == "submitted" and attempt.timed_out


def _overdue(attempt, now):
    return attempt.deadline_at is not None and now > attempt.deadline_at + GRACE


def _submit(attempt, responses, now):
    if attempt.status != "open":
        return attempt
    grade_submission(attempt, _wanted(attempt.paper, responses), now,
                     late=_overdue(attempt, now))
    db.session.refresh(attempt)
    return attempt


def prepare_submission(row, now=None):
    """Read, before the submission's writing transaction, what completing the course needs
    (see submit_submission)."""
    return prepare_completion(row, now or utcnow()) if row.status == "open" else None


def submit_submission(row, responses=None, now=None, prepared=NOT_PREPARED):
    """`submit_attempt` for a row of `submission_of`, the attempt page's path: a few plain
    statements, no ORM object. Start it in a fresh transaction (commit the reads first,
    `prepare_submission` among them), so that on SQLite its first statement is its first
    write and waits for the lock instead of being refused, and the lock is held for writes
    only. Returns the Grade, or None when it was submitted already."""
    if row.status != "open":
        return None
    now = now or utcnow()
    return _retrying(lambda: grade_submission(row, _wanted(row.paper, responses), now,
                                              late=_overdue(row, now), prepared=prepared))


def _wanted(paper, responses):
    """The responses to questions of the paper, cleaned as they are stored."""
    keys = {entry["key"] for entry in paper}
    return {key: _clean(value) for key, value in (responses or {}).items() if key in keys}


def _store_answers(attempt, responses, now):
    wanted = _wanted(attempt.paper, responses)
    upsert_answers(attempt.id, wanted, now)
    db.session.expire(attempt, ["answers"])
    return len(wanted)


def _clean(value):
    """A response as stored: text, a flag, a list of ids, or None for anything else."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v[:MAX_TEXT] for v in value[:MAX_ITEMS]]
    return None


def _retrying(work):
    """Run `work`, again in a new transaction when SQLite refused a write because another
    connection wrote since this transaction first read: its snapshot can never write, and
    SQLite does not wait in that case. Nothing else may be pending in the session."""
    session = db.session
    if session.info.get(_RETRYING):
        return work()
    session.info[_RETRYING] = True
    try:
        for tries in range(1, BUSY_TRIES + 1):
            try:
                return work()
            except OperationalError as error:
                if tries == BUSY_TRIES or not _sqlite_busy(error):
                    raise
                session.rollback()
                time.sleep(min(0.05, 0.005 * tries))
    finally:
        session.info.pop(_RETRYING, None)


def _sqlite_busy(error):
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (5, 6)  # SQLITE_BUSY*, SQLITE_LOCKED*
