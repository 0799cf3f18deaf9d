"""A learner takes a quiz in a real browser: answers are saved as they go (a reload keeps
them), a double click on "Submit" grades once, and the pages pass an axe-core scan."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from lms.courses.models import Course, CourseCompletion
from lms.extensions import db
from lms.quizzes.models import QuizAnswer, QuizAttempt
from tests.browser.axe import AXE_CONTEXT, describe, require_axe, scan
from tests.browser.conftest import add_person, add_unit, sign_in
from tests.course_factories import assign, make_course, make_programme, read
from tests.quiz_factories import make_bank

pytestmark = pytest.mark.browser

ATTEMPT_URL = re.compile(r"/quiz/attempts/\d+$")
RESULT_URL = re.compile(r"/quiz/attempts/\d+/result$")


@pytest.fixture
def learner(seed):
    """A course of two modules, both read, with a five-question bank (one of each kind)."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        office = add_unit("T.VP", "Văn phòng UBND tỉnh", "T")
        course = make_course("alpha", 2)
        make_bank(course, 5)
        assign(make_programme("p", [course]), office)
        person = add_person("NV0042", "Nguyễn Thị Hồng Nhung", "T.VP")
        read(person, *course.modules)
        return person.employee_id
    return seed(create)


def counts(live_server):
    with live_server.app.app_context():
        return (db.session.scalar(select(func.count(QuizAttempt.id))),
                db.session.scalar(select(func.count(QuizAttempt.id))
                                  .where(QuizAttempt.score.is_not(None))),
                db.session.scalar(select(func.count(QuizAnswer.id))),
                db.session.scalar(select(func.count(CourseCompletion.id))))


def answer_everything(page):
    """The right answer to each of the factory's questions, whatever their order."""
    for fieldset in page.locator("fieldset.question").all():
        if fieldset.locator("input[type=radio][value=true]").count():
            fieldset.locator("input[value=true]").check()
        elif fieldset.locator("select").count():
            for choice, position in zip("abcd", "1234", strict=True):
                fieldset.locator(f"select[name$='-{choice}']").select_option(position)
        elif fieldset.locator("input[type=checkbox]").count():
            fieldset.locator("input[value=a]").check()
            fieldset.locator("input[value=c]").check()
        elif fieldset.locator("input[type=radio]").count():
            fieldset.locator("input[value=b]").check()
        else:
            fieldset.locator("input[type=text]").fill("Cổng dịch vụ công quốc gia")


def test_answers_survive_a_reload_and_a_double_click_grades_once(page, learner, live_server):
    sign_in(page, learner)
    page.goto("/courses/alpha")
    page.locator("a#quiz-link").click()
    page.locator("button#start").click()
    expect(page).to_have_url(ATTEMPT_URL)
    expect(page.locator("fieldset.question")).to_have_count(5)

    answer_everything(page)
    expect(page.locator("#save-status")).to_contain_text(re.compile(r"\d"))
    page.wait_for_function("() => document.querySelector('#save-status').textContent"
                           ".match(/\\d{1,2}:\\d{2}/)")  # "saved at hh:mm"
    page.reload()
    checked = page.locator("fieldset.question input:checked")
    expect(checked).to_have_count(4)  # single, two of multiple, true/false
    expect(page.locator("fieldset.question input[type=text]")).to_have_value(
        "Cổng dịch vụ công quốc gia")

    page.locator("button#submit").dblclick()
    expect(page).to_have_url(RESULT_URL)
    expect(page.locator("#verdict")).to_be_visible()
    attempts, graded, answers, completions = counts(live_server)
    assert (attempts, graded, completions) == (1, 1, 1)
    assert answers == 5
    with live_server.app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        assert (attempt.score, attempt.passed) == (5, True)
        assert db.session.scalar(select(Course.slug)) == "alpha"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_quiz_pages_have_no_serious_accessibility_violations(new_page, learner, lang):
    require_axe()
    page = new_page(**AXE_CONTEXT)
    sign_in(page, learner)
    if lang != "vi":
        page.locator(f"header form.lang button[value={lang}]").click()
    found = {}
    page.goto("/courses/alpha/quiz")
    found["quiz"] = scan(page)
    page.locator("button#start").click()
    expect(page).to_have_url(ATTEMPT_URL)
    found["attempt"] = scan(page)
    page.locator("button#submit").click()
    expect(page).to_have_url(RESULT_URL)
    found["result"] = scan(page)
    bad = {name: violations for name, violations in found.items() if violations}
    assert not bad, "\n".join(f"{name}:\n{describe(v)}" for name, v in bad.items())
