"""Writing results: grading an attempt's saved answers, completing a course, and re-grading
a bank with its current answer key. Flushes, never commits."""

from functools import cache
from types import SimpleNamespace

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lms.audit.services import record_event
from lms.courses.models import Course, CourseCompletion, Module, ModuleRead
from lms.extensions import db
from lms.org.models import utcnow
from lms.quizzes.grading import grade
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizBank, QuizQuestion
from lms.sql import upsert

NOT_PREPARED = object()  # _complete_after_pass reads what it needs itself


def bank_for_course(course):
    """The question bank of a course (its `quiz:`), or None when it has none."""
    if course.quiz_slug:
        return db.session.scalar(select(QuizBank).where(QuizBank.slug == course.quiz_slug))
    return db.session.scalar(select(QuizBank).where(QuizBank.course_id == course.id).limit(1))


def grade_attempt(attempt, paper, now, answers=None):
    """Grade the attempt's saved answers against `paper`; write the score, the verdict and
    each question's credit (a question never answered gets a row with credit 0)."""
    if answers is None:
        answers = {row.question_key: row for row in db.session.scalars(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id))}
    result = grade(paper, {key: row.response for key, row in answers.items()},
                   attempt.pass_mark)
    for entry in paper:
        row = answers.get(entry["key"])
        if row is None:
            row = QuizAnswer(attempt_id=attempt.id, question_key=entry["key"], response=None,
                             saved_at=now)
            db.session.add(row)
        if row.credit != result.credits[entry["key"]]:
            row.credit = result.credits[entry["key"]]
    attempt.score, attempt.max_score, attempt.passed = (result.score, result.max_score,
                                                        result.passed)
    db.session.flush()
    db.session.expire(attempt, ["answers"])
    return result


# Completion ------------------------------------------------------------------------------

def complete_course(user_id, course_id, attempt=None):
    """Record once that the user completed the course: every non-draft module read, and its
    quiz passed (or it has none). The completion, or None while something is missing."""
    existing = _completion(user_id, course_id)
    if existing is not None:
        renew_after_refresher(existing, attempt)
        return existing
    unread = db.session.scalar(
        select(func.count(Module.id))
        .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                   & (ModuleRead.user_id == user_id))
        .where(Module.course_id == course_id, Module.draft.is_(False), ModuleRead.id.is_(None)))
    if unread:
        return None
    course = db.session.get(Course, course_id)
    if course is None:
        return None
    bank = bank_for_course(course)
    if bank is not None:
        if attempt is None or not attempt.passed or attempt.bank_id != bank.id:
            attempt = db.session.scalar(
                select(QuizAttempt).where(QuizAttempt.user_id == user_id,
                                          QuizAttempt.bank_id == bank.id,
                                          QuizAttempt.passed.is_(True))
                .order_by(QuizAttempt.submitted_at, QuizAttempt.id).limit(1))
        if attempt is None:
            return None
    completion = CourseCompletion(user_id=user_id, course_id=course_id,
                                  course_version=course.version,
                                  attempt_id=attempt.id if bank is not None else None)
    try:
        with db.session.begin_nested():
            db.session.add(completion)
    except IntegrityError:  # completed by a concurrent request: theirs stands
        return _completion(user_id, course_id)
    issue_course_certificate(completion, course, attempt if bank is not None else None)
    return completion


def _completion(user_id, course_id):
    return db.session.scalar(select(CourseCompletion).where(
        CourseCompletion.user_id == user_id, CourseCompletion.course_id == course_id))


def issue_course_certificate(completion, course, attempt=None, score=None, now=None,
                             prepared=None, fresh=False):
    """The course certificate of a completion, issued in the same transaction (once); the
    score from the passed attempt, or (points, out of) when given; `prepared`: what was
    read for it before the transaction started writing."""
    from lms.certificates.services import (
        issue,
        issue_programme_certificates,
        prepare_course_certificate,
    )

    now = now or completion.completed_at
    prepared = prepared or prepare_course_certificate(completion.user_id, course.id,
                                                      now.date())
    if score is None and attempt is not None and attempt.score is not None:
        score = (attempt.score, attempt.max_score)
    score = f"{score[0] / score[1]:.0%}" if score and score[1] else None
    certificate = issue(prepared.user, kind="course", title=prepared.title, score=score,
                        course=prepared.course, completion=completion, now=now,
                        expires_on=prepared.expires_on, issuing=prepared.issuing, fresh=fresh)
    issue_programme_certificates(prepared.user, course.id, now=now)
    return certificate


def renew_after_refresher(completion, attempt=None, score=None, now=None):
    """When the learner's course certificate is due for a refresher (expired, or its version
    asks for retraining) and the refresher is done — a quiz passed after that certificate
    was issued, or, for a course without a quiz, every module read again since — the
    completion is renewed at the course's current version and a new certificate replaces
    the old one (kept on record). Returns the new certificate, or None."""
    from lms.certificates.services import due_certificate, supersede

    now = now or utcnow()
    old = due_certificate(completion.user_id, completion.course_id, now.date())
    if old is None:
        return None
    course = db.session.get(Course, completion.course_id)
    bank = bank_for_course(course)
    if bank is not None:
        if attempt is None or not attempt.passed or attempt.submitted_at is None \
                or attempt.submitted_at <= old.issued_at:
            attempt = db.session.scalar(
                select(QuizAttempt).where(QuizAttempt.user_id == completion.user_id,
                                          QuizAttempt.bank_id == bank.id,
                                          QuizAttempt.passed.is_(True),
                                          QuizAttempt.submitted_at > old.issued_at)
                .order_by(QuizAttempt.submitted_at.desc()).limit(1))
        if attempt is None:
            return None
    elif db.session.scalar(
            select(func.count(Module.id))
            .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                       & (ModuleRead.user_id == completion.user_id)
                       & (ModuleRead.read_at > old.issued_at))
            .where(Module.course_id == course.id, Module.draft.is_(False),
                   ModuleRead.id.is_(None))):
        return None
    old.renewed_at = now
    db.session.flush()  # out of the partial unique index before the new one goes in
    completion.course_version, completion.completed_at = course.version, now
    completion.attempt_id = attempt.id if bank is not None else None
    new = issue_course_certificate(completion, course, attempt, score=score, now=now)
    supersede(old, new, now)
    record_event("certificate_renewed", actor=None, obj=old, serial=old.serial,
                 new_serial=new.serial, new_id=new.id)
    db.session.flush()
    return new


# Re-grading ------------------------------------------------------------------------------

def regrade(bank, actor, ip=None):
    """Grade every submitted attempt of the bank again with each question's current answer
    key (a question no longer in the bank, inactive, keeps the attempt's); completions follow:
    attempts that now pass complete their course (modules all read), and a completion whose
    attempt now fails rests on another passed attempt of the learner, or is withdrawn.
    Audit-logged; returns counts of attempts, changed, now_passed, now_failed and
    completions_withdrawn."""
    current = {q.key: q for q in db.session.scalars(
        select(QuizQuestion).where(QuizQuestion.bank_id == bank.id,
                                   QuizQuestion.active.is_(True)))}
    ids = db.session.scalars(select(QuizAttempt.id).where(
        QuizAttempt.bank_id == bank.id, QuizAttempt.status == "submitted")
        .order_by(QuizAttempt.id)).all()
    counts = {"attempts": 0, "changed": 0, "now_passed": 0, "now_failed": 0,
              "completions_withdrawn": 0}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        answers = {}
        for row in db.session.scalars(select(QuizAnswer)
                                      .where(QuizAnswer.attempt_id.in_(chunk))):
            answers.setdefault(row.attempt_id, {})[row.question_key] = row
        for attempt in db.session.scalars(select(QuizAttempt).where(QuizAttempt.id.in_(chunk))
                                          .order_by(QuizAttempt.id)):
            _regrade_one(attempt, current, answers.get(attempt.id, {}), counts)
    record_event("quiz_regraded", actor=actor, obj=bank, ip=ip, bank=bank.slug, **counts)
    db.session.flush()
    return counts


def _regrade_one(attempt, current, answers, counts):
    paper = [_current_key(entry, current.get(entry["key"])) for entry in attempt.paper]
    score, passed = attempt.score, bool(attempt.passed)
    if paper != attempt.paper:
        attempt.paper = paper
    grade_attempt(attempt, paper, attempt.submitted_at, answers)
    counts["attempts"] += 1
    if score is None or abs(attempt.score - score) > 1e-9 or attempt.passed != passed:
        counts["changed"] += 1
    if attempt.passed and not passed:
        counts["now_passed"] += 1
        complete_course(attempt.user_id, attempt.course_id, attempt)
    elif passed and not attempt.passed:
        counts["now_failed"] += 1
        counts["completions_withdrawn"] += _withdraw_completion(attempt)


def _withdraw_completion(attempt):
    """The completion resting on an attempt that no longer passes: moved to another passed
    attempt of the same learner and bank, else deleted. 1 when deleted, else 0."""
    completion = db.session.scalar(select(CourseCompletion).where(
        CourseCompletion.attempt_id == attempt.id))
    if completion is None:
        return 0
    other = db.session.scalar(
        select(QuizAttempt.id).where(QuizAttempt.user_id == attempt.user_id,
                                     QuizAttempt.bank_id == attempt.bank_id,
                                     QuizAttempt.passed.is_(True), QuizAttempt.id != attempt.id)
        .order_by(QuizAttempt.submitted_at, QuizAttempt.id).limit(1))
    if other is not None:
        completion.attempt_id = other
        return 0
    from lms.certificates.services import revoke_for_completion

    revoke_for_completion(completion, "The quiz was regraded: the attempt no longer passes.")
    db.session.delete(completion)
    db.session.flush()
    return 1


def _current_key(entry, question):
    """The paper entry with the question's current answer key (same kind only)."""
    if question is None or question.kind != entry.get("kind"):
        return entry
    data = question.data or {}
    return {**entry, "answer": data.get("answer"), "accept": data.get("accept") or {},
            "tolerant": bool(data.get("tolerant"))}


# Submitting: the hot path, in prebuilt statements ------------------------------------------

@cache
def _statements():
    """The statements of a submission, built once. Plain columns and rows, no ORM objects:
    the write lock of SQLite is held from the first UPDATE to the commit, so that stretch
    must be short."""
    from lms.certificates.models import Certificate
    from lms.certificates.services import refresher_due

    attempts, answers = QuizAttempt.__table__, QuizAnswer.__table__
    modules, reads = Module.__table__, ModuleRead.__table__
    return SimpleNamespace(
        attempt=select(attempts.c.id, attempts.c.user_id, attempts.c.bank_id,
                       attempts.c.course_id, attempts.c.status, attempts.c.paper,
                       attempts.c.pass_mark, attempts.c.deadline_at)
        .where(attempts.c.id == bindparam("a_id"), attempts.c.user_id == bindparam("a_user")),
        flip=update(attempts)
        .where(attempts.c.id == bindparam("a_id"), attempts.c.status == "open")
        .values(status="submitted", submitted_at=bindparam("a_at"),
                timed_out=bindparam("a_late")),
        answers=select(answers.c.question_key, answers.c.response)
        .where(answers.c.attempt_id == bindparam("a_id")),
        credit=update(answers)
        .where(answers.c.attempt_id == bindparam("a_id"),
               answers.c.question_key == bindparam("a_key"))
        .values(credit=bindparam("a_credit")),
        unanswered=insert(answers).values(
            attempt_id=bindparam("a_id"), question_key=bindparam("a_key"), response=None,
            saved_at=bindparam("a_at"), credit=bindparam("a_credit")),
        score=update(attempts).where(attempts.c.id == bindparam("a_id"))
        .values(score=bindparam("a_score"), max_score=bindparam("a_max"),
                passed=bindparam("a_passed")),
        unread=select(func.count(modules.c.id))
        .select_from(modules.outerjoin(reads, (reads.c.module_id == modules.c.id)
                                       & (reads.c.user_id == bindparam("a_user"))))
        .where(modules.c.course_id == bindparam("a_course"), modules.c.draft.is_(False),
               reads.c.id.is_(None)),
        version=select(Course.__table__.c.version)
        .where(Course.__table__.c.id == bindparam("a_course")),
        refresher_due=select(func.count(Certificate.id))
        .join(Course, Course.id == Certificate.course_id)
        .where(Certificate.user_id == bindparam("a_user"),
               Certificate.course_id == bindparam("a_course"),
               refresher_due(bindparam("today"))),
    )


def submission_of(user_id, attempt_id):
    """What submitting needs of the user's attempt (a row), or None when it is not theirs."""
    return db.session.execute(_statements().attempt,
                              {"a_id": attempt_id, "a_user": user_id}).one_or_none()


def grade_submission(attempt, responses, now, late, prepared=NOT_PREPARED):
    """Submit and grade the attempt (a row of `submission_of`, or the attempt itself), once.

    The first statement flips the status from open: only the caller whose UPDATE changed
    the row goes on to save `responses` (when not late), grade the saved answers against the
    attempt's own paper, write every credit and the score, and complete the course when it
    passed. Returns the Grade, or None when the attempt was already submitted."""
    q = _statements()
    flipped = db.session.execute(q.flip, {"a_id": attempt.id, "a_at": (
        attempt.deadline_at if late else now), "a_late": late}).rowcount
    if flipped != 1:
        return None
    if responses and not late:
        upsert_answers(attempt.id, responses, now)
    saved = dict(db.session.execute(q.answers, {"a_id": attempt.id}).all())
    result = grade(attempt.paper, saved, attempt.pass_mark)
    rows = [{"a_id": attempt.id, "a_key": key, "a_credit": credit, "a_at": now}
            for key, credit in result.credits.items()]
    if any(row["a_key"] in saved for row in rows):
        db.session.execute(q.credit, [row for row in rows if row["a_key"] in saved])
    if any(row["a_key"] not in saved for row in rows):
        db.session.execute(q.unanswered, [row for row in rows if row["a_key"] not in saved])
    db.session.execute(q.score, {"a_id": attempt.id, "a_score": result.score,
                                 "a_max": result.max_score, "a_passed": result.passed})
    if result.passed:
        _complete_after_pass(attempt, now, result, prepared)
    return result


def upsert_answers(attempt_id, responses, now):
    """Save responses {question key: response} of an attempt, replacing earlier ones."""
    if not responses:
        return
    table = QuizAnswer.__table__
    statement = upsert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.attempt_id, table.c.question_key],
        set_={"response": statement.excluded.response, "saved_at": statement.excluded.saved_at})
    db.session.execute(statement, [
        {"attempt_id": attempt_id, "question_key": key, "response": value, "saved_at": now}
        for key, value in responses.items()])


def prepare_completion(attempt, now):
    """What completing the attempt's course will need, read before the submission writes
    (the caller commits in between): None while a module is unread (no completion then)."""
    from lms.certificates.services import prepare_course_certificate

    params = {"a_user": attempt.user_id, "a_course": attempt.course_id}
    if db.session.execute(_statements().unread, params).scalar():
        return None
    return prepare_course_certificate(attempt.user_id, attempt.course_id, now.date())



def _complete_after_pass(attempt, now, result, prepared=NOT_PREPARED):
    """The completion of a passed attempt's course when every module is read (once)."""
    q = _statements()
    params = {"a_user": attempt.user_id, "a_course": attempt.course_id}
    if prepared is NOT_PREPARED:
        if db.session.execute(q.unread, params).scalar():
            return
        prepared = None
    elif prepared is None:  # a module was unread when it was prepared
        return
    version = prepared.course.version if prepared else \
        db.session.execute(q.version, params).scalar()
    table = CourseCompletion.__table__
    inserted = db.session.execute(upsert(table).values(
        user_id=attempt.user_id, course_id=attempt.course_id, course_version=version or 1,
        attempt_id=attempt.id, completed_at=now).on_conflict_do_nothing(
        index_elements=[table.c.user_id, table.c.course_id]).returning(table.c.id)).scalar()
    if inserted is not None:  # this transaction completed the course: its certificate too
        completion = SimpleNamespace(id=inserted, user_id=attempt.user_id, completed_at=now)
        issue_course_certificate(completion, SimpleNamespace(id=attempt.course_id),
                                 score=(result.score, result.max_score), now=now,
                                 prepared=prepared, fresh=True)
    elif db.session.execute(q.refresher_due, {**params, "today": now.date()}).scalar():
        renew_after_refresher(_completion(attempt.user_id, attempt.course_id),
                              db.session.get(QuizAttempt, attempt.id),
                              score=(result.score, result.max_score), now=now)
