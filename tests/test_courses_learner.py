"""A learner's pages: My training, the catalogue, a course, a module, in their language."""

import re
from datetime import timedelta

import pytest

from lms.courses.services import continue_module, my_training
from lms.org.models import utcnow
from tests.conftest import make_user
from tests.course_factories import assign, make_course, make_programme, read


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def between(html, start, end="</section>"):
    """The part of the page from `start` to the next `end`."""
    at = html.index(start)
    return html[at:html.index(end, at)]


@pytest.fixture
def english(users, db):
    users["learner"].locale = "en"
    db.session.flush()


# My training -----------------------------------------------------------------------------

def test_my_training_without_assignments_says_so(as_learner):
    html = page(as_learner, "/learn")
    assert "<h1>" in html
    assert html.count("<h1") == 1
    assert 'id="no-programme"' in html
    assert 'id="continue"' not in html


def test_my_training_lists_programmes_of_the_unit_and_above_with_progress(as_learner, org,
                                                                           users, english):
    alpha, beta = make_course("alpha", 5, title_en="Alpha"), make_course("beta", 2)
    make_course("gamma", 1)  # open but not required: not in My training
    near = make_programme("near", [alpha, beta], title_en="Near programme")
    far = make_programme("far", [beta], title_en="Far programme")
    assign(near, org["district"])
    assign(far, org["province"])
    assign(make_programme("other", [alpha]), org["dept"])  # another branch of the tree
    read(users["learner"], *alpha.modules[:3])
    html = page(as_learner, "/learn")
    assert "Near programme" in html
    assert "Far programme" in html
    assert 'id="programme-other"' not in html
    assert "gamma" not in html
    section = between(html, 'id="programme-near"')
    assert 'max="5" value="3"' in section
    assert "3 of 5 modules read" in section
    assert "0 of 2 modules read" in section


def test_deadlines_days_left_overdue_and_nearest_unit_wins(as_learner, org, users, english):
    today = utcnow().date()
    course = make_course("alpha", 2)
    late = make_programme("late", [course], deadline=today - timedelta(days=3))
    soon = make_programme("soon", [course], deadline=today + timedelta(days=100))
    assign(late, org["province"])
    assign(soon, org["province"])
    assign(soon, org["commune"], deadline=today + timedelta(days=10))  # nearer: wins
    html = page(as_learner, "/learn")
    assert "overdue" in between(html, 'id="programme-late"')
    soon_section = between(html, 'id="programme-soon"')
    assert re.search(r"(9|10|11) days left", soon_section)
    assert "overdue" not in soon_section
    # Read everything: past the deadline is no longer "overdue".
    read(users["learner"], *course.modules)
    html = page(as_learner, "/learn")
    assert "overdue" not in between(html, 'id="programme-late"')
    assert "all modules read" in between(html, 'id="programme-late"')


def test_programme_deadline_applies_when_the_assignment_has_none(db, org, users):
    today = utcnow().date()
    programme = make_programme("p", [make_course("alpha", 1)], deadline=today)
    assign(programme, org["district"])
    [status] = my_training(users["learner"], "vi", today)
    assert status.deadline == today
    assert status.days_left == 0
    assert not status.overdue


def test_continue_goes_to_the_first_unread_module_of_the_course_read_last(as_learner, org,
                                                                          users):
    alpha, beta = make_course("alpha", 3), make_course("beta", 3)
    assign(make_programme("p", [alpha, beta]), org["district"])
    read(users["learner"], alpha.modules[0], read_at=utcnow() - timedelta(days=2))
    read(users["learner"], beta.modules[0], beta.modules[1], read_at=utcnow())
    html = page(as_learner, "/learn")
    assert re.search(r'<a id="continue"[^>]*href="/courses/beta/03-module-3"', html)
    # The button is described by the module's title, which is on the page.
    assert re.search(r'<a id="continue"[^>]*aria-describedby="continue-title"', html)
    assert re.search(r'<span id="continue-title" class="muted">Bài 3</span>', html)


def test_continue_falls_back_to_the_first_unfinished_required_course(as_learner, org, users):
    alpha, beta = make_course("alpha", 2), make_course("beta", 2)
    assign(make_programme("p", [alpha, beta]), org["district"])
    html = page(as_learner, "/learn")
    assert re.search(r'<a id="continue"[^>]*href="/courses/alpha/01-module-1"', html)
    read(users["learner"], *alpha.modules)  # the course read last is finished
    html = page(as_learner, "/learn")
    assert re.search(r'<a id="continue"[^>]*href="/courses/beta/01-module-1"', html)
    read(users["learner"], *beta.modules)
    assert continue_module(users["learner"], []) is None
    assert 'id="continue"' not in page(as_learner, "/learn")


def test_every_role_has_its_own_my_training(client, login_as, org, users):
    assign(make_programme("p", [make_course("alpha", 1)]), org["dept"])
    login_as(users["hr"])
    assert 'id="programme-p"' in page(client, "/learn")
    login_as(users["head"])
    assert 'id="programme-p"' not in page(client, "/learn")


def test_home_has_a_prominent_link_to_my_training(as_learner):
    html = page(as_learner, "/home")
    assert re.search(r'<a id="my-training"[^>]*href="/learn"', html)


# Catalogue -------------------------------------------------------------------------------

def test_catalogue_shows_open_and_assigned_courses_only(as_learner, org, users, english):
    make_course("open-one", 2, title_en="Open one", minutes=75, digcomp=("2.6",))
    closed = make_course("closed-assigned", 2, open=False, title_en="Closed assigned")
    make_course("closed-other", 2, open=False, title_en="Closed other")
    make_course("unpublished", 2, published=False, title_en="Unpublished one")
    assign(make_programme("p", [closed]), org["province"])
    read(users["learner"], closed.modules[0])
    html = page(as_learner, "/courses")
    assert "Open one" in html
    assert "Closed assigned" in html
    assert "Closed other" not in html
    assert "Unpublished one" not in html
    assert "Summary open-one" in html
    assert "75 minutes" in html
    assert "2.6" in html
    assert "1 of 2 modules read" in between(html, 'id="course-closed-assigned"', "</li>")


def test_admin_catalogue_includes_unpublished_courses_marked(as_admin):
    make_course("hidden", 1, published=False)
    html = page(as_admin, "/courses")
    assert "Khoá học hidden" in between(html, 'id="course-hidden"', "</li>")


# Course and module pages -----------------------------------------------------------------

def test_course_page_ticks_read_modules_and_hides_drafts(as_learner, users):
    course = make_course("alpha", 4, drafts=(3,))
    read(users["learner"], course.modules[0])
    html = page(as_learner, "/courses/alpha")
    modules = between(html, '<ol id="modules"', "</ol>")
    assert modules.count("<li") == 3
    assert "03-module-3" not in modules
    done = re.findall(r'<li class="done">.*?</li>', modules, re.S)
    assert len(done) == 1
    assert "01-module-1" in done[0]
    assert "Đã xong" in done[0]
    assert "Giới thiệu <strong>alpha</strong>" in html  # the introduction, rendered
    assert "Đã đọc 1/3 học phần" in html


def test_module_page_has_body_reading_time_form_breadcrumbs_and_neighbours(as_learner):
    make_course("alpha", 3)
    html = page(as_learner, "/courses/alpha/02-module-2")
    assert html.count("<h1") == 1
    article = between(html, '<article id="module"', "</article>")
    assert "Nội dung bài 2." in article
    assert "Thời gian đọc: 10 phút" in article
    assert '<form id="mark-read"' in html
    assert "Tôi đã đọc xong học phần này" in html
    assert 'rel="prev" href="/courses/alpha/01-module-1"' in html
    assert 'rel="next" href="/courses/alpha/03-module-3"' in html
    crumbs = between(html, 'class="breadcrumbs"', "</nav>")
    assert 'href="/courses"' in crumbs
    assert 'href="/courses/alpha"' in crumbs
    assert 'aria-current="page">Bài 2<' in crumbs


def test_first_and_last_modules_have_one_neighbour(as_learner):
    make_course("alpha", 2)
    first = page(as_learner, "/courses/alpha/01-module-1")
    last = page(as_learner, "/courses/alpha/02-module-2")
    assert 'rel="prev"' not in first
    assert 'rel="next"' in first
    assert 'rel="prev"' in last
    assert 'rel="next"' not in last


def test_a_read_module_shows_when_and_still_leads_on(as_learner, users):
    course = make_course("alpha", 2)
    read(users["learner"], course.modules[0])
    html = page(as_learner, "/courses/alpha/01-module-1")
    assert 'id="read-on"' in html
    assert "Tôi đã đọc xong học phần này" not in html
    assert '<form id="mark-read"' in html
    assert 'rel="next"' in html


def test_drafts_are_skipped_by_neighbours_and_404_for_learners(as_learner):
    make_course("alpha", 3, drafts=(2,))
    html = page(as_learner, "/courses/alpha/01-module-1")
    assert 'rel="next" href="/courses/alpha/03-module-3"' in html
    assert as_learner.get("/courses/alpha/02-module-2").status_code == 404


def test_unpublished_and_closed_courses_are_404_for_learners(as_learner):
    make_course("hidden", 1, published=False)
    make_course("closed", 1, open=False)
    for url in ("/courses/hidden", "/courses/hidden/01-module-1", "/courses/closed",
                "/courses/closed/01-module-1", "/courses/nope", "/courses/hidden/nope"):
        assert as_learner.get(url).status_code == 404, url


def test_admin_previews_drafts_without_the_mark_read_form(as_admin):
    make_course("hidden", 2, published=False, drafts=(2,))
    html = page(as_admin, "/courses/hidden/02-module-2")
    assert "Bản nháp: học viên không thấy học phần này." in html
    assert 'id="mark-read"' not in html


def test_no_writes_on_get(as_learner, db):
    from lms.courses.models import ModuleRead

    make_course("alpha", 1)
    page(as_learner, "/courses/alpha/01-module-1")
    page(as_learner, "/learn")
    assert db.session.query(ModuleRead).count() == 0


# Language --------------------------------------------------------------------------------

def test_english_interface_shows_english_texts(as_learner, english):
    make_course("alpha", 2, title_en="Alpha in English")
    html = page(as_learner, "/courses/alpha/01-module-1")
    assert "Lesson 1" in html
    assert "Body of lesson 1." in html
    assert "Bài 1" not in html
    assert "Alpha in English" in page(as_learner, "/courses")
    assert "Introduction to <strong>alpha</strong>" in page(as_learner, "/courses/alpha")


def test_a_course_without_english_falls_back_to_vietnamese(as_learner, english):
    make_course("beta", 1)
    html = page(as_learner, "/courses/beta/01-module-1")
    assert "Bài 1" in html
    assert "Nội dung bài 1." in html
    assert '<article id="module" aria-labelledby="module-title" lang="vi">' in html
    assert "shown in Vietnamese" in html


def test_vietnamese_interface_shows_vietnamese_texts(as_learner):
    make_course("alpha", 1, title_en="Alpha in English")
    html = page(as_learner, "/courses/alpha/01-module-1")
    assert "Bài 1" in html
    assert "Lesson 1" not in html


def test_a_module_page_costs_three_queries_and_reads_only_the_body_it_shows(as_learner, org, db):
    """The learner's busiest page: the signed-in user with their unit, the course with its
    text, the outline with titles and reads; a body is read only until it is rendered once."""
    from sqlalchemy import event

    course = make_course("alpha", 3)
    assign(make_programme("p", [course]), org["district"])
    page(as_learner, "/courses/alpha/02-module-2")  # renders the body into the cache
    statements = []

    def log(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", log)
    try:
        html = page(as_learner, "/courses/alpha/02-module-2")
    finally:
        event.remove(engine, "before_cursor_execute", log)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # In tests the signed-in user may come from the shared session's identity map.
    others = [s for s in selects if "FROM users" not in s]
    assert len(others) == 2, selects
    assert len(selects) <= 3, selects
    assert not any("module_texts.body " in s or "module_texts.body," in s for s in selects), selects
    assert "Nội dung bài 2." in html


def test_a_cached_module_text_follows_a_content_change_and_no_reader_leaks_into_it(
        client, login_as, org, users, db):
    """The text and pager of a module are rendered once for everyone: what one reader did
    never shows to another, and new content shows at once."""
    import hashlib

    course = make_course("alpha", 2)
    assign(make_programme("p", [course]), org["district"])
    first = course.modules[0]
    other = make_user(org["district"], full_name="Lê Thị Bình")
    read(users["learner"], first)

    login_as(users["learner"])
    html = page(client, "/courses/alpha/01-module-1")
    assert 'id="read-on"' in html
    login_as(other)
    html = page(client, "/courses/alpha/01-module-1")
    assert 'id="read-on"' not in html  # the learner's read is theirs alone
    assert "Tôi đã đọc xong học phần này" in html

    text = first.texts[0]
    text.title, text.body = "Bài 1 (sửa)", "Nội dung mới."
    text.body_hash = hashlib.sha256(text.body.encode()).hexdigest()
    db.session.flush()
    html = page(client, "/courses/alpha/01-module-1")
    assert '<h1 id="module-title">Bài 1 (sửa)</h1>' in html
    assert "Nội dung mới." in html
    assert "Bài 1 (sửa)" in page(client, "/courses/alpha/02-module-2")  # the pager of the next
