"""Replayed submits and starts sent at the same moment, through the web, on a committed
database (SQLite in WAL mode, or PostgreSQL with --db postgresql): one graded result, one
completion, one certificate, one attempt."""

import pytest
from sqlalchemy import func, select

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.courses.models import CourseCompletion
from lms.extensions import db as _db
from lms.quizzes import services
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizBank
from tests import live
from tests.conftest import _login_as, make_unit, make_user
from tests.course_factories import make_course, read
from tests.quiz_factories import make_bank, right_answers, wrong_answers
from tests.security.test_quiz_abuse import as_form

db, live_app, race = live.db, live.live_app, live.race  # a committed database of its own
THREADS = 6


@pytest.fixture
def web(live_app):
    """The live app with forms accepted without a CSRF token (the threads post directly)."""
    live_app.config["WTF_CSRF_ENABLED"] = False
    return live_app


def seed(app, **settings):
    """A learner who read both modules of a course with a five-question quiz; their id."""
    with app.app_context():
        user = make_user(make_unit("P"))
        course = make_course("alpha", 2)
        make_bank(course, 5, **settings)
        read(user, *course.modules)
        _db.session.commit()
        return user.id


def clients(app, user_id, n=THREADS):
    """n browsers signed in as the user."""
    with app.app_context():
        user = _db.session.get(User, user_id)
        return [_login_as(app.test_client(), user) for _ in range(n)]


def counts(app):
    with app.app_context():
        return tuple(_db.session.scalar(select(func.count(model.id))) for model in (
            QuizAttempt, CourseCompletion, Certificate))


def test_simultaneous_submits_grade_once_whatever_each_one_sends(web):
    user_id = seed(web)
    with web.app_context():
        attempt = services.start_attempt(_db.session.get(User, user_id),
                                         _db.session.scalar(select(QuizBank)))
        forms = [as_form(attempt, right_answers(attempt)),
                 as_form(attempt, wrong_answers(attempt))]
        _db.session.commit()
        attempt_id = attempt.id
    browsers = clients(web, user_id)

    def submit(barrier):
        n = barrier.wait()
        response = browsers[n].post(f"/quiz/attempts/{attempt_id}/submit", data=forms[n % 2])
        return response.status_code, response.headers.get("Location", "")

    results = race(web, THREADS, submit)
    assert {status for status, _ in results} == {302}
    assert all(location.endswith(f"/quiz/attempts/{attempt_id}/result")
               for _, location in results)
    with web.app_context():
        attempt = _db.session.get(QuizAttempt, attempt_id)
        credits = _db.session.scalars(select(QuizAnswer.credit).where(
            QuizAnswer.attempt_id == attempt_id)).all()
        assert attempt.status == "submitted"
        # One sender's answers, whole: all right or all wrong, never a mix of two.
        assert (attempt.score, attempt.passed, sorted(credits)) in (
            (5.0, True, [1.0] * 5), (0.0, False, [0.0] * 5))
        passed = attempt.passed
    assert counts(web) == ((1, 1, 1) if passed else (1, 0, 0))


def test_simultaneous_starts_open_one_attempt_within_the_limit(web):
    user_id = seed(web, max_attempts=1)
    browsers = clients(web, user_id)

    def begin(barrier):
        n = barrier.wait()
        response = browsers[n].post("/courses/alpha/quiz/start")
        return response.status_code, response.headers.get("Location", "")

    results = race(web, THREADS, begin)
    assert {status for status, _ in results} == {302}
    with web.app_context():
        attempt_id = _db.session.scalar(select(QuizAttempt.id))
    assert {location for _, location in results} == {f"/quiz/attempts/{attempt_id}"}
    assert counts(web) == (1, 0, 0)
