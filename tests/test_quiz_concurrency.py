"""Races on a real, committed database (a SQLite file in WAL mode, or PostgreSQL with
--db postgresql), each thread with its own app context, session and connection: eight
submits of one attempt grade it once; four starts open one attempt."""

import random

import pytest
from sqlalchemy import event, func, select

from lms.auth.models import User
from lms.courses.models import CourseCompletion
from lms.extensions import db as _db
from lms.quizzes import results as quiz_results
from lms.quizzes import services
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizBank
from tests import live
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, read
from tests.quiz_factories import make_bank, right_answers

db, live_app, race = live.db, live.live_app, live.race  # a committed database of its own


def seed(app, learners=1):
    """A course of two modules read by each learner, and its bank of five questions."""
    with app.app_context():
        unit = make_unit("P")
        users = [make_user(unit) for _ in range(learners)]
        course = make_course("alpha", 2)
        bank = make_bank(course, 5)
        for user in users:
            read(user, *course.modules)
        _db.session.commit()
        return [user.id for user in users], bank.id


@pytest.fixture
def gradings(monkeypatch):
    """Every grading, from whichever thread."""
    calls = []
    original = quiz_results.grade
    monkeypatch.setattr(quiz_results, "grade", lambda *args: calls.append(args) or original(*args))
    return calls


def test_eight_simultaneous_submits_grade_once(live_app, gradings):
    (user_id,), bank_id = seed(live_app)
    with live_app.app_context():
        user, bank = _db.session.get(User, user_id), _db.session.get(QuizBank, bank_id)
        attempt = services.start_attempt(user, bank, rng=random.Random(5))
        responses = right_answers(attempt)
        _db.session.commit()
        attempt_id = attempt.id
        engine = _db.engine
    score_writes = []

    @event.listens_for(engine, "before_cursor_execute")
    def count_score_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE quiz_attempts SET") and "score" in statement:
            score_writes.append(statement)

    def submit(barrier):
        attempt = _db.session.get(QuizAttempt, attempt_id)
        assert attempt.status == "open"  # every thread has read it open before any submits
        barrier.wait()
        services.submit_attempt(attempt, responses)
        _db.session.commit()
        return attempt.id, attempt.status, attempt.score, attempt.passed, attempt.submitted_at

    try:
        results = race(live_app, 8, submit)
    finally:
        event.remove(engine, "before_cursor_execute", count_score_writes)

    assert len(set(results)) == 1
    assert results[0][1:4] == ("submitted", 5.0, True)
    assert len(gradings) == 1
    assert len(score_writes) == 1
    with live_app.app_context():
        rows = _db.session.scalars(select(QuizAnswer)).all()
        assert sorted((row.question_key, row.credit) for row in rows) == [
            (f"q0{n}", 1.0) for n in range(1, 6)]
        completions = _db.session.scalars(select(CourseCompletion)).all()
        assert [(c.user_id, c.attempt_id) for c in completions] == [(user_id, attempt_id)]


def test_four_simultaneous_starts_open_one_attempt(live_app):
    (user_id,), bank_id = seed(live_app)

    def begin(barrier):
        user, bank = _db.session.get(User, user_id), _db.session.get(QuizBank, bank_id)
        services.quiz_status(user, bank)  # every thread has looked: no attempt yet
        barrier.wait()
        attempt = services.start_attempt(user, bank)
        _db.session.commit()
        return attempt.id, attempt.number

    results = race(live_app, 4, begin)
    assert len(set(results)) == 1
    with live_app.app_context():
        assert _db.session.scalar(select(func.count(QuizAttempt.id))) == 1
        assert _db.session.scalar(select(QuizAttempt.number)) == 1


def test_a_save_racing_a_submit_is_graded_or_refused(live_app):
    """A save that loses to the submit is refused ("closed"); one that wins is graded."""
    (user_id,), bank_id = seed(live_app)
    with live_app.app_context():
        user, bank = _db.session.get(User, user_id), _db.session.get(QuizBank, bank_id)
        attempt = services.start_attempt(user, bank, rng=random.Random(5))
        responses = right_answers(attempt)
        _db.session.commit()
        attempt_id = attempt.id

    def act(barrier):
        attempt = _db.session.get(QuizAttempt, attempt_id)
        role = barrier.wait()
        try:
            if role == 0:
                services.submit_attempt(attempt)
                outcome = "submitted"
            else:
                services.save_answers(attempt, responses)
                outcome = "saved"
        except services.QuizError as error:
            outcome = error.code
        _db.session.commit()
        return outcome

    outcomes = race(live_app, 2, act)
    assert sorted(outcomes) in (["closed", "submitted"], ["saved", "submitted"])
    with live_app.app_context():
        attempt = _db.session.get(QuizAttempt, attempt_id)
        assert attempt.status == "submitted"
        assert attempt.score == (5.0 if "saved" in outcomes else 0.0)
        credits = _db.session.scalars(select(QuizAnswer.credit)).all()
        assert len(credits) == 5
        assert None not in credits
