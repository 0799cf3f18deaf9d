"""A learner follows the bundled programme in a real browser, in Vietnamese and in English,
and the learner's pages pass an axe-core scan (no serious or critical violation)."""

import re
from urllib.parse import urlsplit

import pytest
from flask import current_app
from playwright.sync_api import expect
from sqlalchemy import select

from lms.courses.content import load_content
from lms.courses.models import Programme, ProgrammeAssignment
from lms.courses.sync import apply_sync, plan_sync
from lms.extensions import db
from tests.browser.axe import AXE_CONTEXT, describe, require_axe, scan
from tests.browser.conftest import add_person, add_unit, sign_in

pytestmark = pytest.mark.browser

PROGRAMME = "basic-digital-skills"
MY_TRAINING = {"vi": "Đào tạo của tôi", "en": "My training"}
READ_ONE = {"vi": re.compile(r"\b1\b.*\b5\b"), "en": "1 of 5 modules read"}
MODULE_URL = re.compile(r"/courses/[\w-]+/[\w-]+$")


@pytest.fixture
def learner(seed):
    """The bundled content synced for real, a learner in a unit the programme is assigned to."""
    def create():
        catalogue = load_content(current_app.config["CONTENT_DIR"])
        assert not catalogue.errors, catalogue.errors
        plan = plan_sync(catalogue)
        assert not plan.errors, plan.errors
        apply_sync(plan)
        db.session.flush()
        add_unit("T", "Tỉnh Thử Nghiệm")
        office = add_unit("T.VP", "Văn phòng UBND tỉnh", "T")
        programme = db.session.scalar(select(Programme).where(Programme.slug == PROGRAMME))
        db.session.add(ProgrammeAssignment(programme_id=programme.id, unit_id=office.id))
        return add_person("NV0042", "Nguyễn Thị Hồng Nhung", "T.VP").employee_id
    return seed(create)


def open_my_training(page):
    """GET /learn; skip while the learner pages are not built."""
    response = page.goto("/learn")
    if response.status == 404:
        pytest.skip("the learner pages (GET /learn, lms/courses/views.py) are not built yet")
    assert response.status == 200, f"GET /learn -> {response.status}"


def choose_language(page, lang):
    """Press the header's language button (Vietnamese is the default)."""
    if lang != "vi":
        page.locator(f"header form.lang button[value={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_learner_reads_a_module_and_sees_the_progress(page, learner, lang):
    sign_in(page, learner)
    expect(page).to_have_url(re.compile(r"/home$"))
    choose_language(page, lang)
    open_my_training(page)
    expect(page.locator("h1")).to_contain_text(MY_TRAINING[lang])

    page.locator("a#continue").click()
    expect(page).to_have_url(MODULE_URL)
    first_url = page.url
    first_path = urlsplit(first_url).path
    article = page.locator("article#module")
    expect(article).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("a[rel=prev]")).to_have_count(0)  # the first module has no previous

    expect(page.locator("#read-on")).to_have_count(0)  # not read yet
    page.locator("form#mark-read button").click()
    expect(page.locator(".flash-success[role=status]")).to_be_visible()
    if page.url == first_url:  # the form may stay on the module or move on by itself
        page.locator("a[rel=next]").click()
    expect(page).not_to_have_url(first_url)
    expect(page).to_have_url(MODULE_URL)
    expect(page.locator("article#module")).to_be_visible()
    expect(page.locator("a[rel=prev]")).to_have_attribute(
        "href", re.compile(re.escape(first_path) + "$"))
    second_path = urlsplit(page.url).path

    page.locator("header nav").get_by_role("link", name=MY_TRAINING[lang]).click()
    expect(page).to_have_url(re.compile(r"/learn$"))
    expect(page.locator("h1")).to_contain_text(MY_TRAINING[lang])
    first_course = page.locator(f"section#programme-{PROGRAMME} ul.course-progress li").first
    expect(first_course.locator("progress")).to_have_attribute("value", "1")
    expect(first_course.locator(".progress-text")).to_contain_text(READ_ONE[lang])
    # "Continue" now leads to the first module not read yet: the second.
    expect(page.locator("a#continue")).to_have_attribute(
        "href", re.compile(re.escape(second_path) + "$"))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_learner_pages_have_no_serious_accessibility_violations(new_page, learner, lang):
    require_axe()
    page = new_page(**AXE_CONTEXT)  # bypass_csp: only so that axe can be injected
    found = {}

    page.goto("/login")
    found["/login"] = scan(page)
    sign_in(page, learner)
    expect(page).to_have_url(re.compile(r"/home$"))
    choose_language(page, lang)
    open_my_training(page)
    found["/learn"] = scan(page)
    page.locator("a#continue").click()
    expect(page.locator("article#module")).to_be_visible()
    module_url = page.url
    found[module_url] = scan(page)
    course_url = module_url.rsplit("/", 1)[0]
    page.goto(course_url)
    expect(page.locator("ol#modules")).to_be_visible()
    found[course_url] = scan(page)

    bad = {url: violations for url, violations in found.items() if violations}
    assert not bad, "\n".join(f"{url}:\n{describe(v)}" for url, v in bad.items())


PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


def fits_the_width(page):
    """Nothing overflows sideways: the page scrolls only down."""
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def press_tab_until(page, selector, limit=60):
    """Tab through the page until `selector` has the focus, as a keyboard user does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never received the focus after {limit} presses of Tab")


def test_a_learner_on_a_phone_with_the_keyboard_alone_reads_a_module(new_page, learner):
    page = new_page(**PHONE)
    sign_in(page, learner)
    expect(page).to_have_url(re.compile(r"/home$"))
    open_my_training(page)
    assert fits_the_width(page), "My training overflows a 360 px wide screen"

    # The skip link comes first, then the way on.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    press_tab_until(page, "a#continue")
    page.keyboard.press("Enter")
    expect(page).to_have_url(MODULE_URL)
    expect(page.locator("article#module")).to_be_visible()
    assert fits_the_width(page), "the module page overflows a 360 px wide screen"

    press_tab_until(page, "form#mark-read button")
    page.keyboard.press("Enter")
    expect(page.locator(".flash-success[role=status]")).to_be_visible()

    course_url = urlsplit(page.url).path.rsplit("/", 1)[0]
    page.goto(course_url)
    expect(page.locator("ol#modules li.done")).to_have_count(1)
    assert fits_the_width(page), "the course page overflows a 360 px wide screen"


def test_every_bundled_module_fits_a_phone_screen(new_page, learner, live_server):
    """Tables scroll inside the text, long words wrap: no module page is wider than a phone."""
    with live_server.app.app_context():
        catalogue = load_content(current_app.config["CONTENT_DIR"])
        paths = [f"/courses/{course.slug}/{module.slug}"
                 for course in catalogue.courses.values() for module in course.modules
                 if not module.draft]
    assert len(paths) >= 32
    page = new_page(**PHONE)
    sign_in(page, learner)
    too_wide = []
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        if not fits_the_width(page):
            too_wide.append(path)
    assert not too_wide, too_wide
