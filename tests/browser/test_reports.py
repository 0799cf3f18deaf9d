"""The progress dashboard in a real browser: a head follows the navigation to their
district's figures and charts, walks down to a sub-unit and back, searches and pages the
staff not yet trained, downloads the staff CSV, cannot open another district, reads the
dashboard on a phone; axe-core scans of the dashboard, the courses page and the public open
data page, in Vietnamese and in English (no serious or critical violation)."""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.extensions import db
from lms.org.models import Unit
from tests.browser.axe import AXE_CONTEXT, describe, require_axe, scan
from tests.browser.conftest import add_person, add_unit, sign_in
from tests.course_factories import make_course, make_programme

pytestmark = pytest.mark.browser

HEAD = "D0001"
DISTRICT, DISTRICT_NAME = "T.H1", "Huyện Đông Sơn"
COMMUNE, COMMUNE_NAME = "T.H1.X1", "Xã Đông Hòa"
OTHER_DISTRICT = "T.H2"
TRAINED = ("Đỗ Thị Lan", "Hoàng Văn Minh")
READER = "Bùi Văn Nam"
NOT_STARTED = "Nguyễn Thị Hoa"
CROWD_UNIT = "T.H1.X3"
NGUYEN = [f"Nguyễn Văn Thử {n:02d}" for n in range(1, 28)]  # 27, and Hoa above: 28
OTHERS = ["Trần Văn Bình", "Lê Thị Ánh", "Phạm Văn Đức", "Ngô Thị Uyên", "Vũ Văn Nguyệt"]

PROGRESS_LINK = {"vi": "Tiến độ", "en": "Progress"}
DASHBOARD_H1 = {"vi": "Tiến độ của {}", "en": "Progress of {}"}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
SCROLL_TOLERANCE = 2  # px: sub-pixel rounding


@pytest.fixture
def district(seed):
    """A province with two districts, a programme of two courses assigned at the top (due in
    30 days); the head of Đông Sơn and, below it, two trained staff, one who has started and
    one who has not: 5 active, 2 trained, 1 in progress, 2 not started (the head too)."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        add_unit(DISTRICT, DISTRICT_NAME, "T")
        add_unit(COMMUNE, COMMUNE_NAME, DISTRICT)
        add_unit("T.H1.X2", "Xã Đông Tiến", DISTRICT)
        add_unit(OTHER_DISTRICT, "Huyện Tây Sơn", "T")
        one = make_course("thiet-bi-so", 2, title="Thiết bị số", digcomp=("1.1", "5.1"))
        two = make_course("an-toan", 2, title="An toàn thông tin", digcomp=("4.1", "5.1"))
        programme = make_programme("ky-nang-so", [one, two], title_en="Digital skills")
        top = db.session.scalar(select(Unit).where(Unit.code == "T"))
        db.session.add(ProgrammeAssignment(programme_id=programme.id, unit_id=top.id,
                                           deadline=date.today() + timedelta(days=30)))
        add_person(HEAD, "Lê Văn Trưởng", DISTRICT, role="head")
        for n, name in enumerate(TRAINED, start=1):
            person = add_person(f"NV000{n}", name, COMMUNE, password=None)
            for course in (one, two):
                issue(person, kind="course", title=course.texts[0].title, course=course)
        reader = add_person("NV0003", READER, COMMUNE, password=None)
        mark_read(reader, one.modules[0])
        add_person("NV0004", NOT_STARTED, "T.H1.X2", password=None)
        # Another district, with its own head and staff, the head of Đông Sơn must not see.
        add_person("D0002", "Phan Văn Tây", OTHER_DISTRICT, role="head")
        for n in range(5):
            add_person(f"NV020{n}", f"Đinh Văn Tây {n}", OTHER_DISTRICT, password=None)
    seed(create)
    return HEAD


@pytest.fixture
def crowd(seed, district):
    """32 more untrained staff in one commune of the district: 27 Nguyễn and 5 others, so
    that the list and the search for "nguyen" (28 people) both take two pages of 25."""
    def create():
        add_unit(CROWD_UNIT, "Xã Đông Phú", DISTRICT)
        for n, name in enumerate(NGUYEN + OTHERS):
            add_person(f"NV1{n:03d}", name, CROWD_UNIT, password=None)
    seed(create)
    return district


@pytest.fixture
def open_data(live_server):
    """The public open data page switched on for the live app, for this test only."""
    config = live_server.app.config
    before = config.get("OPEN_DATA")
    config["OPEN_DATA"] = True
    yield
    config["OPEN_DATA"] = before


def choose_language(page, lang):
    """Press the header's language button (Vietnamese is the default)."""
    if lang != "vi":
        page.locator(f"header form.lang button[value={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def open_dashboard(page, lang="vi"):
    """Follow the header's progress link to the head's own dashboard."""
    page.locator("header nav").get_by_role("link", name=PROGRESS_LINK[lang], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/reports/units/{re.escape(DISTRICT)}$"))
    expect(page.locator("h1")).to_have_text(DASHBOARD_H1[lang].format(DISTRICT_NAME))


def listed_names(page):
    """The names of the staff on this page of the not-trained list."""
    return [text.split("\n")[0].strip() for text in
            page.locator("#untrained-list tbody th[scope=row]").all_inner_texts()]


# The dashboard ----------------------------------------------------------------------------

def test_the_head_follows_the_navigation_to_the_district_and_down_to_a_commune(
        page, district):
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    open_dashboard(page)

    expect(page.locator("#n-active")).to_have_text("5")
    expect(page.locator("#n-trained")).to_have_text("2")
    expect(page.locator("#n-in-progress")).to_have_text("1")
    expect(page.locator("#n-not-started")).to_have_text("2")
    expect(page.locator("#n-overdue")).to_have_text("0")
    expect(page.locator("#on-time")).to_have_text("100%")
    expect(page.locator("#ratio strong")).to_have_text("40%")

    # The server-drawn charts are images with a title and a desc (whether these really name
    # them: test_each_chart_is_named_by_its_own_title_and_desc).
    charts = page.locator("main svg[role=img]")
    expect(charts).to_have_count(3)  # progress, trend, sub-units
    for chart in charts.all():
        assert chart.get_attribute("aria-labelledby"), chart.get_attribute("class")
        assert chart.locator(":scope > title").text_content().strip(), chart.get_attribute("class")
        assert chart.locator(":scope > desc").text_content().strip(), chart.get_attribute("class")
    expect(page.locator("#summary svg[role=img]")).to_have_accessible_name(
        re.compile(r"^Nhân sự đã đạt\b.*40%"))

    # The sub-units, furthest from the target first, each a link to its own dashboard.
    rows = page.locator("#sub-units tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("th")).to_have_text("Xã Đông Tiến")  # 0 of 1
    expect(rows.nth(1).locator("th")).to_have_text(COMMUNE_NAME)  # 2 of 3
    expect(page.locator("#untrained-list")).to_contain_text(READER)
    expect(page.locator("#untrained-list")).not_to_contain_text(TRAINED[0])

    page.locator("#sub-units").get_by_role("link", name=COMMUNE_NAME, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/reports/units/{re.escape(COMMUNE)}(\?.*)?$"))
    expect(page.locator("h1")).to_have_text(f"Tiến độ của {COMMUNE_NAME}")
    expect(page.locator("#n-active")).to_have_text("3")
    expect(page.locator("#n-trained")).to_have_text("2")
    expect(page.locator("#n-in-progress")).to_have_text("1")
    expect(page.locator("#sub-units")).to_have_count(0)  # a commune has none

    # The breadcrumb leads back up to the district, but not to the province above the head.
    crumbs = page.get_by_role("navigation", name="Các đơn vị cấp trên")
    expect(crumbs.get_by_role("link")).to_have_count(1)
    expect(crumbs.locator("[aria-current=page]")).to_have_text(COMMUNE_NAME)
    crumbs.get_by_role("link", name=DISTRICT_NAME).click()
    expect(page).to_have_url(re.compile(rf"/reports/units/{re.escape(DISTRICT)}(\?.*)?$"))
    expect(page.locator("#n-active")).to_have_text("5")


CHART_NAMES = """() => [...document.querySelectorAll('main svg[role=img]')].map(svg => ({
    chart: svg.getAttribute('class'),
    title: svg.querySelector(":scope > title")?.textContent.trim(),
    desc: svg.querySelector(":scope > desc")?.textContent.trim(),
    duplicated: svg.getAttribute('aria-labelledby').split(/\\s+/)
      .filter(id => document.querySelectorAll(`[id="${id}"]`).length !== 1),
}))"""


def test_each_chart_is_named_by_its_own_title_and_desc(page, district):
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    open_dashboard(page)
    charts = page.locator("main svg[role=img]")
    expect(charts).to_have_count(3)
    found = page.evaluate(CHART_NAMES)
    assert not [c for c in found if c["duplicated"]], found
    for chart, facts in zip(charts.all(), found, strict=True):
        expect(chart).to_have_accessible_name(f"{facts['title']} {facts['desc']}")
    expect(page.locator("#trend svg[role=img]")).to_have_accessible_name(
        re.compile(r"^Tỷ lệ nhân sự đã đạt theo từng tuần "))
    expect(page.locator("#sub-units svg[role=img]")).to_have_accessible_name(
        re.compile(r"^Đơn vị trực thuộc "))


def test_the_staff_list_is_searched_without_diacritics_and_paged(page, crowd):
    sign_in(page, crowd)
    expect(page).to_have_url(re.compile(r"/home$"))
    open_dashboard(page)
    expect(page.locator("#untrained-total")).to_have_text("35 người")  # 3 + 32
    expect(page.locator("#untrained-list tbody tr")).to_have_count(25)

    page.get_by_label("Họ tên, mã cán bộ hoặc email").fill("nguyen")
    page.locator("#untrained").get_by_role("button", name="Tìm kiếm").click()
    expect(page).to_have_url(re.compile(r"[?&]q=nguyen\b"))
    expect(page.locator("#untrained-total")).to_have_text("28 người")
    expect(page.locator("#untrained-list tbody tr")).to_have_count(25)
    first = listed_names(page)
    assert all(name.startswith("Nguyễn ") for name in first), first
    expect(page.get_by_label("Họ tên, mã cán bộ hoặc email")).to_have_value("nguyen")

    pages = page.get_by_role("navigation", name="Trang")
    expect(pages).to_contain_text("Trang 1/2")
    expect(pages.locator("a[rel=prev]")).to_have_count(0)
    pages.get_by_role("link", name="Trang sau").click()
    expect(page).to_have_url(re.compile(r"[?&]page=2\b"))
    expect(page).to_have_url(re.compile(r"[?&]q=nguyen\b"))  # the search is kept
    expect(pages).to_contain_text("Trang 2/2")
    expect(page.locator("#untrained-list tbody tr")).to_have_count(3)
    second = listed_names(page)
    assert all(name.startswith("Nguyễn ") for name in second), second
    assert sorted(first + second) == sorted([*NGUYEN, NOT_STARTED])
    for name in OTHERS:  # "Vũ Văn Nguyệt" folds to "nguyet": not a match
        expect(page.locator("#untrained")).not_to_contain_text(name)

    pages.get_by_role("link", name="Trang trước").click()
    expect(pages).to_contain_text("Trang 1/2")
    expect(page.locator("#untrained-list tbody tr")).to_have_count(25)


def test_the_head_downloads_the_staff_csv_for_excel(page, district):
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    open_dashboard(page)
    with page.expect_download() as downloading:
        page.locator("#export-staff").get_by_role("link", name="CSV").first.click()
    download = downloading.value
    assert download.failure() is None
    assert re.fullmatch(rf"nhan-su-{re.escape(DISTRICT)}-\d{{4}}-\d\d-\d\d\.csv",
                        download.suggested_filename), download.suggested_filename
    with open(download.path(), "rb") as csv_file:
        data = csv_file.read()
    assert data.startswith(b"\xef\xbb\xbf"), data[:20]  # the BOM Excel needs for UTF-8
    text = data.decode("utf-8-sig")
    for name in (NOT_STARTED, READER, *TRAINED, "Lê Văn Trưởng"):
        assert name in text, name
    assert "Đinh Văn Tây" not in text  # another district's staff
    assert len(text.strip().splitlines()) == 1 + 5  # the header and the 5 active staff


def test_another_district_is_not_found_for_the_head(page, district):
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    for code in (OTHER_DISTRICT, "T"):  # a sibling district, and the province above
        for path in (f"/reports/units/{code}", f"/reports/units/{code}/courses"):
            response = page.goto(path)
            assert response.status == 404, (path, response.status)
            expect(page.locator("h1")).to_have_text("404 — Không tìm thấy trang")
            expect(page.locator("main")).not_to_contain_text("Đinh Văn Tây")
            expect(page.locator("#n-active")).to_have_count(0)


def test_the_dashboard_fits_a_phone(new_page, district):
    page = new_page(**PHONE)
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    response = page.goto(f"/reports/units/{DISTRICT}")
    assert response.status == 200
    expect(page.locator("#n-active")).to_be_visible()
    expect(page.locator("#sub-units table")).to_be_attached()
    expect(page.locator("#untrained-list")).to_be_attached()
    widths = page.evaluate("""() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        wide: [...document.querySelectorAll('main *')]
          .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 2)
          .filter(e => !e.parentElement.closest('table, svg'))
          .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                    + (e.className && typeof e.className === 'string' ? '.' + e.className : '')
                    + ' ' + Math.round(e.getBoundingClientRect().right))
      })""")
    assert widths["scroll"] <= 360 + SCROLL_TOLERANCE, (
        f"the page scrolls sideways on a 360 px phone: {widths}")
    for chart in page.locator("main svg[role=img]").all():
        box = chart.bounding_box()
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= 360 + SCROLL_TOLERANCE, box


# Accessibility ----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
def test_dashboard_pages_have_no_serious_accessibility_violations(new_page, district, lang):
    require_axe()
    page = new_page(**AXE_CONTEXT)  # bypass_csp: only so that axe can be injected
    found = {}
    sign_in(page, district)
    expect(page).to_have_url(re.compile(r"/home$"))
    choose_language(page, lang)
    open_dashboard(page, lang)
    expect(page.locator("#sub-units table")).to_be_visible()
    found[page.url] = scan(page)

    page.locator("#courses-link").click()
    expect(page).to_have_url(re.compile(rf"/reports/units/{re.escape(DISTRICT)}/courses$"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#by-course tbody tr")).to_have_count(2)
    expect(page.locator("#by-competence tbody tr")).to_have_count(3)  # 1.1, 4.1, 5.1
    found[page.url] = scan(page)

    bad = {url: violations for url, violations in found.items() if violations}
    assert not bad, "\n".join(f"{url} ({lang}):\n{describe(v)}" for url, v in bad.items())


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_open_data_has_no_serious_accessibility_violations(new_page, district, open_data,
                                                           lang):
    require_axe()
    page = new_page(**AXE_CONTEXT)  # bypass_csp: only so that axe can be injected
    response = page.goto("/open-data")
    assert response.status == 200
    choose_language(page, lang)
    expect(page.locator("h1")).to_have_text({"vi": "Dữ liệu mở", "en": "Open data"}[lang])
    table = page.locator("#open-ky-nang-so table")
    expect(table).to_be_visible()
    expect(table.locator(f"[id='unit-ky-nang-so-{DISTRICT}']")).to_be_attached()
    expect(page.locator("main")).not_to_contain_text(NOT_STARTED)  # aggregates only
    violations = scan(page)
    assert not violations, f"/open-data ({lang}):\n{describe(violations)}"
