"""Quiz logic abuse: answers outside the paper or another question's options, writing to a
closed or overdue attempt, replays, forged score fields, quizzes one may not take, the
attempt limit, and someone else's attempt named in the form. Each attack earns nothing; the
honest way still passes. (Simultaneous replays: test_quiz_races.py.)"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.courses.models import CourseCompletion
from lms.extensions import db as _db
from lms.org.models import utcnow
from lms.quizzes import services as quizzes
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizBank, QuizQuestion
from tests.conftest import make_user
from tests.course_factories import assign, make_course, make_programme, read
from tests.quiz_factories import SETTINGS, make_bank, right_answers, wrong_answers


def count(model, *where):
    return _db.session.scalar(select(func.count(model.id)).where(*where))


def as_form(attempt, responses):
    """The attempt page's form fields that send these {key: response}."""
    kinds = {entry["key"]: entry["kind"] for entry in attempt.paper}
    form = {}
    for key, value in responses.items():
        name, kind = "q-" + key, kinds.get(key, "single")
        if kind == "multiple":
            form[name], form[name + "-shown"] = value, "1"
        elif kind == "true_false":
            form[name] = "true" if value else "false"
        elif kind == "ordering":
            form.update({f"{name}-{choice}": str(n) for n, choice in enumerate(value, 1)})
        else:
            form[name] = value
    return form


def fresh(attempt):
    _db.session.expire_all()
    return _db.session.get(QuizAttempt, attempt.id)


def credits(attempt):
    return dict(_db.session.execute(select(QuizAnswer.question_key, QuizAnswer.credit)
                                    .where(QuizAnswer.attempt_id == attempt.id)).all())


@pytest.fixture
def learner(users, login_as):
    login_as(users["learner"])
    return users["learner"]


@pytest.fixture
def course(learner):
    """An open course of two modules the learner has read: passing its quiz completes it."""
    course = make_course("alpha", 2)
    read(learner, *course.modules)
    return course


def start(client):
    response = client.post("/courses/alpha/quiz/start")
    assert response.status_code == 302, response.status_code
    return _db.session.scalar(select(QuizAttempt).order_by(QuizAttempt.id.desc()))


def outcome():
    """(completions, certificates) in the database."""
    return count(CourseCompletion), count(Certificate)


class TestAnswersOutsideThePaper:
    """Responses to questions the attempt did not draw, or with other questions' options."""

    def test_questions_not_drawn_and_unknown_keys_are_ignored(self, client, course):
        make_bank(course, 5, draw=3)
        attempt = start(client)
        drawn = {entry["key"] for entry in attempt.paper}
        undrawn = {f"q0{n}" for n in range(1, 6)} - drawn
        assert len(drawn) == 3
        form = {f"q-{key}": "b" for key in (*undrawn, "q99", "../q01", "q01 ")}
        response = client.post(f"/quiz/attempts/{attempt.id}/save", data=form,
                               headers={"Accept": "application/json"})
        assert response.get_json() == {"saved": 0}
        assert count(QuizAnswer) == 0
        client.post(f"/quiz/attempts/{attempt.id}/submit", data=form)
        attempt = fresh(attempt)
        assert (attempt.score, attempt.max_score, attempt.passed) == (0, 3, False)
        assert set(credits(attempt)) == drawn
        assert outcome() == (0, 0)

    @pytest.fixture
    def own_ids_bank(self, course):
        """Three questions whose options all have ids of their own."""
        bank = QuizBank(slug="alpha-quiz", course_id=course.id,
                        settings={**SETTINGS, "draw": 3, "pass_mark": 0.3})

        def choices(prefix, n):
            return [{"id": f"{prefix}{i}", "text": {"vi": f"Lựa chọn {prefix}{i}"}}
                    for i in range(1, n + 1)]

        for position, (key, kind, data) in enumerate([
                ("single", "single", {"choices": choices("x", 3), "answer": "x2"}),
                ("multi", "multiple", {"choices": choices("y", 4), "answer": ["y1", "y3"]}),
                ("order", "ordering", {"choices": choices("z", 3),
                                       "answer": ["z1", "z2", "z3"]})], 1):
            bank.questions.append(QuizQuestion(key=key, kind=kind, position=position,
                                               data={"text": {"vi": key}, **data}))
        course.quiz_slug = bank.slug
        _db.session.add(bank)
        _db.session.flush()
        return bank

    def test_options_of_other_questions_and_hedged_answers_earn_nothing(self, client,
                                                                       own_ids_bank):
        attempt = start(client)
        form = {
            "q-single": ["y1", "x2"],  # another question's option first, the right one after
            "q-multi": ["y1", "y2", "y3", "y4", "x2", "z1"], "q-multi-shown": "1",
            "q-order-x1": "1", "q-order-z1": "1", "q-order-z2": "1", "q-order-z3": "1",
        }
        client.post(f"/quiz/attempts/{attempt.id}/submit", data=form)
        attempt = fresh(attempt)
        assert credits(attempt) == {"single": 0, "multi": 0, "order": 0}
        assert (attempt.score, attempt.passed) == (0, False)
        saved = dict(_db.session.execute(select(QuizAnswer.question_key, QuizAnswer.response)
                                         .where(QuizAnswer.attempt_id == attempt.id)).all())
        assert saved["single"] == "y1"  # one response per question: the first sent
        assert outcome() == (0, 0)

    def test_foreign_ids_neither_help_nor_hurt_a_right_answer(self, client, own_ids_bank):
        attempt = start(client)
        client.post(f"/quiz/attempts/{attempt.id}/submit", data={
            "q-single": "x2", "q-multi": ["y1", "y3", "x2", "z9"], "q-multi-shown": "1"})
        assert credits(fresh(attempt)) == {"single": 1, "multi": 1, "order": 0}

    def test_malformed_values_earn_nothing(self, client, course):
        make_bank(course, 5)  # q01 single, q02 multiple, q03 true/false, q04 ordering, q05 short
        attempt = start(client)
        client.post(f"/quiz/attempts/{attempt.id}/submit", data={
            "q-q01": "B", "q-q02": "a,c", "q-q02-shown": "1", "q-q03": "1",
            "q-q04-a": "-1", "q-q04-b": "x", "q-q04-c": "", "q-q04-d": "4.0",
            "q-q05": "Cổng Dịch vụ công quốc gia / National Public Service Portal / Bộ "
                     + "x" * 5000})
        attempt = fresh(attempt)
        assert set(credits(attempt).values()) == {0}
        short = _db.session.scalar(select(QuizAnswer.response).where(
            QuizAnswer.attempt_id == attempt.id, QuizAnswer.question_key == "q05"))
        assert len(short) == 500

    def test_answers_saved_out_of_order_are_graded_by_their_question(self, client, course):
        bank = make_bank(course, 5, shuffle_questions=True)
        attempt = start(client)
        right, wrong = right_answers(attempt), wrong_answers(attempt)
        for key, response in [("q05", right["q05"]), ("q01", right["q01"]),
                              ("q03", wrong["q03"]), ("q01", right["q01"])]:
            client.post(f"/quiz/attempts/{attempt.id}/save",
                        data=as_form(attempt, {key: response}))
        client.post(f"/quiz/attempts/{attempt.id}/submit", data={})
        assert credits(fresh(attempt)) == {"q01": 1, "q02": 0, "q03": 0, "q04": 0, "q05": 1}
        assert bank.settings["shuffle_questions"] is True


class TestClosedAttempts:
    """Saving or submitting again once the attempt is submitted, or its time is up."""

    def test_after_submitting_nothing_changes_the_grade(self, client, course):
        make_bank(course, 5)
        attempt = start(client)
        wrong, right = wrong_answers(attempt), right_answers(attempt)
        client.post(f"/quiz/attempts/{attempt.id}/submit", data=as_form(attempt, wrong))
        graded = fresh(attempt)
        first = (graded.score, graded.passed, graded.submitted_at)
        assert first[:2] == (0, False)
        saved = client.post(f"/quiz/attempts/{attempt.id}/save", data=as_form(attempt, right),
                            headers={"Accept": "application/json"})
        assert saved.status_code == 409
        assert saved.get_json()["error"] == "closed"
        page = client.post(f"/quiz/attempts/{attempt.id}/save", data=as_form(attempt, right))
        assert page.headers["Location"].endswith(f"/quiz/attempts/{attempt.id}/result")
        for _ in range(3):  # a replayed submit, with the right answers this time
            replay = client.post(f"/quiz/attempts/{attempt.id}/submit",
                                 data=as_form(attempt, right))
            assert replay.headers["Location"].endswith(f"/quiz/attempts/{attempt.id}/result")
        graded = fresh(attempt)
        assert (graded.score, graded.passed, graded.submitted_at) == first
        assert set(credits(graded).values()) == {0}
        assert outcome() == (0, 0)
        assert client.get(f"/quiz/attempts/{attempt.id}").status_code == 302  # to the result

    def test_a_passed_submit_replayed_gives_one_result_and_one_certificate(self, client,
                                                                          course):
        make_bank(course, 5)
        attempt = start(client)
        form = as_form(attempt, right_answers(attempt))
        for _ in range(3):
            client.post(f"/quiz/attempts/{attempt.id}/submit", data=form)
        assert (fresh(attempt).score, fresh(attempt).passed) == (5, True)
        assert outcome() == (1, 1)
        assert count(QuizAttempt) == 1

    @pytest.fixture
    def timed(self, course, learner):
        """A bank with a ten-minute limit and an attempt started 20 minutes ago, one right
        answer saved in time."""
        bank = make_bank(course, 5, time_limit_minutes=10)
        started = utcnow() - timedelta(minutes=20)
        attempt = quizzes.start_attempt(learner, bank, now=started)
        quizzes.save_answers(attempt, {"q01": "b"}, now=started + timedelta(minutes=5))
        _db.session.flush()
        return attempt

    def test_answers_sent_after_the_time_limit_are_not_counted(self, client, timed):
        attempt = timed
        client.post(f"/quiz/attempts/{attempt.id}/submit",
                    data=as_form(attempt, right_answers(attempt)))
        attempt = fresh(attempt)
        assert (attempt.status, attempt.timed_out) == ("submitted", True)
        assert attempt.submitted_at == attempt.deadline_at
        assert (attempt.score, attempt.passed) == (1, False)
        assert outcome() == (0, 0)

    def test_a_save_after_the_time_limit_closes_the_attempt(self, client, timed):
        attempt = timed
        response = client.post(f"/quiz/attempts/{attempt.id}/save",
                               data=as_form(attempt, right_answers(attempt)),
                               headers={"Accept": "application/json"})
        assert response.status_code == 409
        assert response.get_json()["error"] == "expired"
        attempt = fresh(attempt)
        assert (attempt.status, attempt.score, attempt.timed_out) == ("submitted", 1, True)

    def test_within_the_grace_the_answers_still_count(self, client, course, learner):
        bank = make_bank(course, 5, time_limit_minutes=10)
        attempt = quizzes.start_attempt(learner, bank,
                                        now=utcnow() - timedelta(minutes=10, seconds=10))
        client.post(f"/quiz/attempts/{attempt.id}/submit",
                    data=as_form(attempt, right_answers(attempt)))
        attempt = fresh(attempt)
        assert (attempt.score, attempt.passed, attempt.timed_out) == (5, True, False)
        assert outcome() == (1, 1)


class TestForgedFields:
    """Fields for a score, a verdict or a certificate sent with the answers."""

    FORGED = {"score": "5", "max_score": "1", "passed": "1", "points": "100", "grade": "A",
              "certificate": "1", "status": "submitted", "credit": "1", "q-q01-credit": "1",
              "pass_mark": "0", "timed_out": "0", "course_id": "1", "completed": "1"}

    def test_they_are_ignored(self, client, course, users):
        make_bank(course, 5)
        attempt = start(client)
        data = {**as_form(attempt, wrong_answers(attempt)), **self.FORGED,
                "user_id": str(users["office_learner"].id)}
        saved = client.post(f"/quiz/attempts/{attempt.id}/save", data=data,
                            headers={"Accept": "application/json"})
        assert saved.get_json() == {"saved": 5}
        client.post(f"/quiz/attempts/{attempt.id}/submit", data=data)
        attempt = fresh(attempt)
        assert (attempt.score, attempt.max_score, attempt.passed, attempt.pass_mark) == (
            0, 5, False, 0.8)
        assert (attempt.user_id, attempt.timed_out) == (users["learner"].id, False)
        assert outcome() == (0, 0)
        assert count(QuizAnswer, QuizAnswer.credit > 0) == 0


class TestQuizzesOneMayNotTake:
    """Starting the quiz of a course that is unpublished, closed and not assigned, or
    unknown; an open course's quiz starts."""

    def test_only_a_readable_course_starts(self, client, org, learner):
        hidden = make_course("hidden", 1, published=False)
        closed = make_course("closed", 1, open=False)
        elsewhere = make_course("elsewhere", 1, open=False)
        for course in (hidden, closed, elsewhere):
            make_bank(course, 3)
        assign(make_programme("office", [elsewhere]), org["office"])  # another department
        make_course("no-quiz", 1)
        for slug in ("hidden", "closed", "elsewhere", "no-quiz", "nope", "alpha-quiz"):
            assert client.get(f"/courses/{slug}/quiz").status_code == 404, slug
            assert client.post(f"/courses/{slug}/quiz/start").status_code == 404, slug
        assert count(QuizAttempt) == 0
        assign(make_programme("district", [closed]), org["district"])
        assert client.post("/courses/closed/quiz/start").status_code == 302
        assert count(QuizAttempt) == 1


class TestAttemptLimit:
    """The number of attempts, the wait after a failure, and re-drawing an open paper."""

    def test_no_attempt_beyond_the_limit(self, client, course):
        make_bank(course, 5, max_attempts=2)
        for _ in range(2):
            attempt = start(client)
            client.post(f"/quiz/attempts/{attempt.id}/submit", data={})
        for _ in range(3):
            response = client.post("/courses/alpha/quiz/start")
            assert response.headers["Location"].endswith("/courses/alpha/quiz")
        assert count(QuizAttempt) == 2
        assert 'id="quiz-no-attempts"' in client.get("/courses/alpha/quiz").get_data(
            as_text=True)

    def test_restarting_an_open_attempt_never_draws_a_new_paper(self, client, course):
        make_bank(course, 10, draw=3, max_attempts=1)
        first = start(client)
        for _ in range(5):
            again = start(client)
            assert (again.id, again.paper) == (first.id, first.paper)
        assert count(QuizAttempt) == 1

    def test_the_wait_after_a_failure_holds(self, client, course):
        make_bank(course, 5, wait_minutes=30)
        attempt = start(client)
        client.post(f"/quiz/attempts/{attempt.id}/submit", data={})
        response = client.post("/courses/alpha/quiz/start")
        assert response.headers["Location"].endswith("/courses/alpha/quiz")
        assert count(QuizAttempt) == 1
        fresh(attempt).submitted_at = utcnow() - timedelta(minutes=31)
        _db.session.flush()
        assert start(client).number == 2


class TestSomeoneElsesAttempt:
    """An attempt id put in the form: the address decides, and only the owner's counts."""

    def test_an_attempt_id_in_the_form_is_ignored(self, client, course, org, users):
        bank = make_bank(course, 5)
        victim = quizzes.start_attempt(make_user(org["commune"]), bank)
        mine = start(client)
        data = {**as_form(mine, wrong_answers(mine)), "attempt_id": str(victim.id),
                "attempt": str(victim.id), "id": str(victim.id)}
        for action in ("save", "submit"):
            assert client.post(f"/quiz/attempts/{mine.id}/{action}", data=data) \
                .status_code == 302
        assert fresh(mine).status == "submitted"
        assert fresh(victim).status == "open"
        assert count(QuizAnswer, QuizAnswer.attempt_id == victim.id) == 0
        for action in ("save", "submit"):
            assert client.post(f"/quiz/attempts/{victim.id}/{action}",
                               data=as_form(victim, right_answers(victim))).status_code == 404
        assert fresh(victim).status == "open"
        assert count(QuizAnswer, QuizAnswer.attempt_id == victim.id) == 0
