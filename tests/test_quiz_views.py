"""The quiz pages: start, answer (saved as you go), submit once, see the result; statistics
for HR; nobody touches someone else's attempt; the page never carries the answers."""

import re

from sqlalchemy import func, select

from lms.quizzes import services
from lms.quizzes.models import QuizAnswer, QuizAttempt
from tests.conftest import make_user
from tests.course_factories import assign, make_course, make_programme, read
from tests.quiz_factories import make_bank


def html_of(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def quiz_course(org, modules=2, **settings):
    course = make_course("alpha", modules)
    assign(make_programme("p", [course]), org["district"])
    return course, make_bank(course, 5, **settings)


def start(client):
    response = client.post("/courses/alpha/quiz/start")
    assert response.status_code == 302
    return int(re.search(r"/quiz/attempts/(\d+)$", response.headers["Location"]).group(1))


def right_form(db, attempt_id, wrong=()):
    """The form a learner sends with every answer right (but the keys in `wrong`)."""
    attempt = db.session.get(QuizAttempt, attempt_id)
    form = {}
    for entry in attempt.paper:
        key, kind, name = entry["key"], entry["kind"], "q-" + entry["key"]
        right = key not in wrong
        if kind == "single":
            form[name] = "b" if right else "a"
        elif kind == "multiple":
            form[name] = ["a", "c"] if right else ["b"]
            form[name + "-shown"] = "1"
        elif kind == "true_false":
            form[name] = "true" if right else "false"
        elif kind == "ordering":
            order = "abcd" if right else "dcba"
            for position, choice in enumerate(order, 1):
                form[f"{name}-{choice}"] = str(position)
        else:
            form[name] = "Cong dich vu cong Quoc gia" if right else "?"
    return form


def test_the_course_page_leads_to_the_quiz_and_the_quiz_page_explains_the_rules(
        as_learner, org):
    quiz_course(org, time_limit_minutes=20, max_attempts=3)
    assert 'href="/courses/alpha/quiz"' in html_of(as_learner.get("/courses/alpha"))
    html = html_of(as_learner.get("/courses/alpha/quiz"))
    rules = html[html.index('id="quiz-rules"'):html.index("</ul>", html.index('id="quiz-rules"'))]
    assert "5 câu hỏi" in rules
    assert "80%" in rules
    assert "20 phút" in rules
    assert 'id="start"' in html


def test_a_learner_answers_submits_and_completes_the_course(as_learner, org, users, db):
    course, _bank = quiz_course(org)
    read(users["learner"], *course.modules)
    assert "còn bài kiểm tra" in html_of(as_learner.get("/learn"))  # "the quiz is left"
    attempt_id = start(as_learner)
    html = html_of(as_learner.get(f"/quiz/attempts/{attempt_id}"))
    assert html.count('<fieldset class="question"') == 5
    response = as_learner.post(f"/quiz/attempts/{attempt_id}/submit",
                               data=right_form(db, attempt_id))
    assert response.headers["Location"].endswith(f"/quiz/attempts/{attempt_id}/result")
    html = html_of(as_learner.get(f"/quiz/attempts/{attempt_id}/result"))
    assert 'id="verdict"' in html
    assert "Đạt" in html or "Passed" in html
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert (attempt.status, attempt.score, attempt.passed) == ("submitted", 5, True)
    assert 'id="completed"' in html_of(as_learner.get("/courses/alpha"))
    assert "đã hoàn thành" in html_of(as_learner.get("/learn"))  # "completed", in My training


def test_answers_are_saved_as_the_learner_goes_and_survive_a_reload(as_learner, org, db):
    quiz_course(org)
    attempt_id = start(as_learner)
    form = right_form(db, attempt_id)
    first = next(k for k in form if k.startswith("q-"))
    response = as_learner.post(f"/quiz/attempts/{attempt_id}/save", data={first: form[first]},
                               headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.get_json() == {"saved": 1}
    assert db.session.scalar(select(func.count(QuizAnswer.id))) == 1
    html = html_of(as_learner.get(f"/quiz/attempts/{attempt_id}"))
    assert re.search(rf'name="{first}" value="{form[first]}" checked', html) or \
        f'value="{form[first]}"' in html
    # Without the script: the "Save my answers" button, then back to the page.
    response = as_learner.post(f"/quiz/attempts/{attempt_id}/save", data=form)
    assert response.headers["Location"].endswith(f"/quiz/attempts/{attempt_id}")
    assert db.session.scalar(select(func.count(QuizAnswer.id))) == 5


def test_submitting_twice_grades_once(as_learner, org, db):
    quiz_course(org)
    attempt_id = start(as_learner)
    form = right_form(db, attempt_id, wrong={"q01"})
    as_learner.post(f"/quiz/attempts/{attempt_id}/submit", data=form)
    first = db.session.get(QuizAttempt, attempt_id)
    graded = (first.score, first.submitted_at)
    again = as_learner.post(f"/quiz/attempts/{attempt_id}/submit", data=right_form(db, attempt_id))
    assert again.status_code == 302
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert (attempt.score, attempt.submitted_at) == graded
    assert attempt.score == 4
    assert db.session.scalar(select(func.count(QuizAttempt.id))) == 1


def test_the_attempt_page_never_carries_the_answers(as_learner, org, db):
    quiz_course(org)
    attempt_id = start(as_learner)
    html = html_of(as_learner.get(f"/quiz/attempts/{attempt_id}"))
    for n in range(1, 6):
        assert f"Giải thích câu {n}" not in html  # feedback
    assert "Cổng Dịch vụ công quốc gia" not in html  # the accepted short answer
    assert "correct" not in html.lower()
    assert "data-answer" not in html
    assert 'class="feedback"' not in html


def test_nobody_opens_answers_or_submits_someone_elses_attempt(client, login_as, org, users,
                                                               db):
    quiz_course(org)
    login_as(users["learner"])
    attempt_id = start(client)
    other = make_user(org["district"], full_name="Phạm Văn Đức")
    login_as(other)
    for method, path in [("get", f"/quiz/attempts/{attempt_id}"),
                         ("get", f"/quiz/attempts/{attempt_id}/result"),
                         ("post", f"/quiz/attempts/{attempt_id}/save"),
                         ("post", f"/quiz/attempts/{attempt_id}/submit")]:
        assert getattr(client, method)(path).status_code == 404, path
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt.status == "open"
    assert db.session.scalar(select(func.count(QuizAnswer.id))) == 0


def test_a_score_or_pass_flag_sent_by_the_learner_is_ignored(as_learner, org, db):
    quiz_course(org)
    attempt_id = start(as_learner)
    form = right_form(db, attempt_id, wrong={"q01", "q02", "q03", "q04", "q05"})
    form.update(score="5", passed="1", max_score="5")
    as_learner.post(f"/quiz/attempts/{attempt_id}/submit", data=form)
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert (attempt.score, attempt.passed) == (0, False)


def test_answers_after_submitting_are_refused(as_learner, org, db):
    quiz_course(org)
    attempt_id = start(as_learner)
    as_learner.post(f"/quiz/attempts/{attempt_id}/submit", data={})
    response = as_learner.post(f"/quiz/attempts/{attempt_id}/save",
                               data=right_form(db, attempt_id),
                               headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "closed"
    assert db.session.scalar(select(func.count(QuizAnswer.credit))) == 0 or all(
        answer.response is None or answer.credit is not None
        for answer in db.session.scalars(select(QuizAnswer)))
    attempt = db.session.get(QuizAttempt, attempt_id)
    assert attempt.score == 0


def test_the_maximum_of_attempts_is_enforced(as_learner, org, db):
    quiz_course(org, max_attempts=1)
    attempt_id = start(as_learner)
    as_learner.post(f"/quiz/attempts/{attempt_id}/submit", data={})
    response = as_learner.post("/courses/alpha/quiz/start")
    assert response.headers["Location"].endswith("/courses/alpha/quiz")
    assert db.session.scalar(select(func.count(QuizAttempt.id))) == 1
    assert 'id="quiz-no-attempts"' in html_of(as_learner.get("/courses/alpha/quiz"))


def test_a_quiz_of_a_course_not_open_to_the_learner_is_404(as_learner, org, db):
    course = make_course("closed", 1, open=False)
    make_bank(course, 3)
    assert as_learner.get("/courses/closed/quiz").status_code == 404
    assert as_learner.post("/courses/closed/quiz/start").status_code == 404
    assert db.session.scalar(select(func.count(QuizAttempt.id))) == 0


def test_start_and_submit_need_the_csrf_token(csrf_app, client, login_as, org, users, db):
    _course, bank = quiz_course(org)
    login_as(users["learner"])
    assert client.post("/courses/alpha/quiz/start").status_code == 400
    assert db.session.scalar(select(func.count(QuizAttempt.id))) == 0
    attempt = services.start_attempt(users["learner"], bank)
    for action in ("save", "submit"):
        assert client.post(f"/quiz/attempts/{attempt.id}/{action}").status_code == 400
    db.session.refresh(attempt)
    assert attempt.status == "open"


def test_hr_sees_the_statistics_and_a_learner_does_not(as_hr, client, login_as, org, users,
                                                        db):
    quiz_course(org)
    html = html_of(as_hr.get("/quizzes/alpha-quiz/stats"))
    assert 'id="quiz-figures"' in html
    login_as(users["learner"])
    assert client.get("/quizzes/alpha-quiz/stats").status_code == 403

