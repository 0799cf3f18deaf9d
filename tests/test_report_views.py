"""The progress dashboard: what a head, HR and an admin see of a unit, and nothing of
another unit."""

from datetime import date, timedelta

import pytest

from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from tests.conftest import make_user
from tests.course_factories import make_course, make_programme


@pytest.fixture
def programme(db, org):
    courses = [make_course("one", 2, title="Thiết bị số"), make_course("two", 2,
                                                                      title="An toàn thông tin")]
    programme = make_programme("basic", courses)
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=date.today() + timedelta(days=30)))
    db.session.flush()
    return programme, courses


def test_the_head_sees_the_district_dashboard(client, db, org, users, programme, login_as):
    _programme, (one, two) = programme
    trained = make_user(org["commune"], full_name="Đỗ Thị Lan")
    for course in (one, two):
        issue(trained, kind="course", title=course.slug, course=course)
    reader = make_user(org["commune"], full_name="Bùi Văn Nam")
    mark_read(reader, one.modules[0])
    db.session.commit()
    login_as(users["head"])
    page = client.get("/reports/units/P.H1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="n-active">4<' in html  # the head and learner of the fixture, Lan, Nam
    assert 'id="n-trained">1<' in html
    assert "Bùi Văn Nam" in html
    assert "Nguyễn Văn Hùng" in html
    assert "Đỗ Thị Lan" not in html.split('id="untrained"')[1]  # trained: not listed
    assert "An toàn thông tin" in html  # what Nam still lacks
    assert "<svg" in html
    assert 'role="img"' in html
    assert client.get("/reports/units/P.STTTT").status_code == 404  # another unit
    assert client.get("/reports/").headers["Location"].endswith("/reports/units/P.H1")


def test_learners_cannot_see_dashboards(client, users, programme, login_as):
    login_as(users["learner"])
    assert client.get("/reports/units/P.H1.X1").status_code == 403


def test_the_admin_sees_the_province_with_its_sub_units(client, db, users, programme,
                                                         login_as):
    login_as(users["admin"])
    html = client.get("/reports/units/P").get_data(as_text=True)
    assert "Sở Khoa học và Công nghệ" in html
    assert "Huyện Đông Sơn" in html
    assert 'href="/reports/units/P.H1' in html


def test_holdings_per_course_and_competence(client, db, org, users, programme, login_as):
    _programme, (one, two) = programme
    one.digcomp, two.digcomp = ["1.1", "5.1"], ["4.1", "5.1"]
    person = make_user(org["commune"])
    issue(person, kind="course", title="x", course=one)
    other = make_user(org["office"])
    issue(other, kind="course", title="x", course=two)
    db.session.commit()
    login_as(users["admin"])
    html = client.get("/reports/units/P/courses").get_data(as_text=True)
    rows = html.split('id="by-competence"')[1]
    assert "<th scope=\"row\">5.1</th><td>2</td>" in rows  # two people, one each course
    assert "<th scope=\"row\">1.1</th><td>1</td>" in rows
    login_as(users["head"])
    assert client.get("/reports/units/P/courses").status_code == 404


def test_people_without_a_unit_are_not_listed(client, db, users, programme, login_as):
    login_as(users["admin"])  # the admin has no unit
    html = client.get("/reports/units/P").get_data(as_text=True)
    assert "Quản Trị Viên" not in html.split('id="untrained"')[1]
    assert 'id="n-active">4<' in html


def _statements_of(client, db, url):
    from sqlalchemy import event

    statements = []

    def log(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_queries_do_not_grow_with_staff_or_units(client, db, org, users, programme, login_as):
    from tests.conftest import make_unit

    _programme, (one, two) = programme
    login_as(users["admin"])
    client.get("/reports/units/P")  # warm per-process caches
    small = _statements_of(client, db, "/reports/units/P")
    for n in range(6):  # more units, more staff at every status
        unit = make_unit(f"P.H{n + 2}", f"Huyện {n + 2}", org["province"])
        for k in range(5):
            person = make_user(unit, full_name=f"Trần Văn {n}{k}")
            if k % 2:
                issue(person, kind="course", title="x", course=one)
            if k == 4:
                mark_read(person, two.modules[0])
    db.session.commit()
    large = _statements_of(client, db, "/reports/units/P")
    assert len(large) == len(small), (len(small), len(large))
