"""The JSON API's progress and staff-status endpoints: the dashboard's figures for a unit of
the token's subtree, and its staff a page at a time, with no email or other personal detail."""

from datetime import timedelta

import pytest

from lms.api import tokens
from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.reports import services
from lms.reports.progress import progress
from lms.reports.views import today
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme


@pytest.fixture
def programme(app, db, org):
    """Two required courses; the programme assigned to the province, due in 30 days."""
    courses = [make_course("one", 2, title="Thiết bị số"),
               make_course("two", 2, title="An toàn thông tin")]
    programme = make_programme("basic", courses)
    with app.test_request_context():
        deadline = today() + timedelta(days=30)
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=deadline))
    db.session.flush()
    return programme, courses


@pytest.fixture
def staff(db, org, users, programme):
    """In the commune: Lan trained, Nam in progress, beside the fixture's learner (not
    started); the district's head not started; someone who left."""
    _programme, (one, two) = programme
    lan = make_user(org["commune"], full_name="Đỗ Thị Lan", employee_id="C0001")
    for course in (one, two):
        issue(lan, kind="course", title=course.slug, course=course)
    nam = make_user(org["commune"], full_name="Bùi Văn Nam", employee_id="C0002")
    mark_read(nam, one.modules[0])
    make_user(org["commune"], full_name="Vũ Văn Cũ", active=False)
    db.session.commit()
    return {"lan": lan, "nam": nam}


@pytest.fixture
def district_token(db, org, users):
    """A token that reads the district P.H1 and its commune."""
    return tokens.create_token(users["admin"], "Cổng dữ liệu huyện", org["district"])[1]


def get(client, plaintext, path):
    return client.get(path, headers={"Authorization": f"Bearer {plaintext}"})


# Progress ----------------------------------------------------------------------------------

def test_progress_equals_the_dashboards_figures(app, client, db, org, programme, staff,
                                                district_token):
    record, _courses = programme
    with app.test_request_context():
        day = today()
    services.record_snapshots(day)
    db.session.commit()
    response = get(client, district_token, "/api/v1/units/P.H1/progress")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()

    figures = progress(record, org["district"], day).figures
    assert data["figures"] == {
        "active": figures.active, "trained": figures.trained,
        "in_progress": figures.in_progress, "not_started": figures.not_started,
        "overdue": figures.overdue, "on_time": figures.on_time,
        "ratio": round(figures.ratio, 4), "on_time_rate": figures.on_time_rate}
    # the head, the fixture's learner, Lan and Nam; Lan trained, Nam started
    assert (figures.active, figures.trained, figures.in_progress) == (4, 1, 1)
    assert data["figures"]["ratio"] == 0.25
    assert data["unit"] == {"code": "P.H1", "name": "Huyện Đông Sơn"}
    assert data["programme"] == {"slug": "basic", "title": "Chương trình basic",
                                 "target": 0.8,
                                 "deadline": (day + timedelta(days=30)).isoformat()}
    assert data["date"] == day.isoformat()
    assert data["trend"] == [{"week": services.week_of(day).isoformat(), "ratio": 0.25}]
    assert set(data["forecast"]) == {"status", "date", "pace_per_week"}
    assert data["forecast"]["status"] == "no_progress"
    assert data["sub_units"] == [{"code": "P.H1.X1", "name": "Xã Đông Hòa", "active": 3,
                                  "trained": 1, "ratio": 0.3333, "overdue": 0}]


def test_sub_units_come_furthest_from_the_target_first(client, db, org, users, programme,
                                                        staff):
    _record, (one, two) = programme
    for _ in range(2):
        person = make_user(org["office"])
        for course in (one, two):
            issue(person, kind="course", title=course.slug, course=course)
    db.session.commit()
    plaintext = tokens.create_token(users["admin"], "Tỉnh", org["province"])[1]
    data = get(client, plaintext, "/api/v1/units/P/progress").get_json()
    assert [row["code"] for row in data["sub_units"]] == ["P.H1", "P.STTTT"]
    assert data["sub_units"][1] == {"code": "P.STTTT", "name": "Sở Khoa học và Công nghệ",
                                    "active": 4, "trained": 2, "ratio": 0.5, "overdue": 0}


def test_an_unknown_programme_or_none_at_all_is_a_json_404(client, db, org, users, programme,
                                                            district_token):
    response = get(client, district_token, "/api/v1/units/P.H1/progress?programme=nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"
    assert "slug" in response.get_json()["message"]
    other = make_unit("Q", "Tỉnh Khác")
    plaintext = tokens.create_token(users["admin"], "Khác", other)[1]
    db.session.commit()
    for path in ("/api/v1/units/Q/progress", "/api/v1/units/Q/staff"):
        response = get(client, plaintext, path)
        assert response.status_code == 404, path
        assert response.is_json
        assert response.get_json()["message"] == "No programme is assigned to this unit."


def test_a_programme_is_chosen_by_its_slug(client, db, org, programme, staff,
                                           district_token):
    local = make_programme("local", [make_course("three", 1)])
    assign(local, org["commune"])
    db.session.commit()
    data = get(client, district_token, "/api/v1/units/P.H1/progress?programme=local").get_json()
    assert data["programme"]["slug"] == "local"
    assert data["programme"]["deadline"] is None
    assert data["figures"]["active"] == 3  # the commune's staff only
    assert data["figures"]["trained"] == 0


# Scope -------------------------------------------------------------------------------------

def test_a_district_token_reads_nothing_of_another_district(client, db, org, programme,
                                                            staff, district_token):
    other = make_unit("P.H2", "Huyện Tây Sơn", org["province"])
    make_user(other, full_name="Hồ Văn Khác", employee_id="K0001")
    db.session.commit()
    for path in ("/api/v1/units/P.H2/progress", "/api/v1/units/P.H2/staff",
                 "/api/v1/units/P/progress", "/api/v1/units/P/staff",
                 "/api/v1/units/P.STTTT/staff", "/api/v1/units/NOPE/staff"):
        response = get(client, district_token, path)
        assert response.status_code == 404, path
        assert response.get_json() == {"error": "Not Found", "status": 404,
                                       "message": "No unit has this code."}
        assert "K0001" not in response.get_data(as_text=True)
    assert get(client, district_token, "/api/v1/units/P.H1.X1/staff").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/units/P.H1/progress", "/api/v1/units/P.H1/staff"])
def test_no_token_no_answer(client, programme, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(client, "cs_" + "x" * 43, path).status_code == 401


# Staff ----------------------------------------------------------------------------------

def test_staff_are_listed_by_name_without_email(client, users, staff, district_token):
    response = get(client, district_token, "/api/v1/units/P.H1/staff")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "@" not in body
    assert "email" not in body
    data = response.get_json()
    assert (data["total"], data["page"], data["per_page"]) == (4, 1, 100)
    # the Vietnamese way: by given name
    assert [item["full_name"] for item in data["items"]] == [
        "Nguyễn Văn Hùng", "Đỗ Thị Lan", "Bùi Văn Nam", "Lê Văn Trưởng"]
    for item in data["items"]:
        assert set(item) == {"employee_id", "full_name", "unit_code", "status",
                             "courses_held", "trained_on"}
    learner, lan, nam, head = data["items"]
    assert nam == {"employee_id": "C0002", "full_name": "Bùi Văn Nam", "unit_code": "P.H1.X1",
                   "status": "in_progress", "courses_held": 0, "trained_on": None}
    assert lan["status"] == "trained"
    assert lan["courses_held"] == 2
    assert lan["trained_on"] == today().isoformat()
    assert (head["unit_code"], head["status"]) == ("P.H1", "not_started")
    assert (learner["employee_id"], learner["status"]) == ("L0001", "not_started")
    assert "Vũ Văn Cũ" not in body  # left: not counted


@pytest.mark.parametrize(("status", "names"), [
    ("trained", ["Đỗ Thị Lan"]),
    ("in_progress", ["Bùi Văn Nam"]),
    ("not_started", ["Nguyễn Văn Hùng", "Lê Văn Trưởng"]),
    ("", ["Nguyễn Văn Hùng", "Đỗ Thị Lan", "Bùi Văn Nam", "Lê Văn Trưởng"]),
])
def test_the_status_filter(client, staff, district_token, status, names):
    data = get(client, district_token, f"/api/v1/units/P.H1/staff?status={status}").get_json()
    assert [item["full_name"] for item in data["items"]] == names
    assert data["total"] == len(names)
    assert {item["status"] for item in data["items"]} <= {status or "trained", "in_progress",
                                                         "not_started"}


def test_staff_counts_equal_the_figures(app, client, org, programme, staff, district_token):
    figures = progress(programme[0], org["district"], today()).figures
    for status, expected in (("trained", figures.trained), ("in_progress", figures.in_progress),
                             ("not_started", figures.not_started), ("", figures.active)):
        data = get(client, district_token,
                   f"/api/v1/units/P.H1/staff?status={status}&per_page=1").get_json()
        assert data["total"] == expected, status


@pytest.mark.parametrize("status", ["junk", "TRAINED", "trained,in_progress", "overdue"])
def test_a_bad_status_is_a_400(client, staff, district_token, status):
    response = get(client, district_token, f"/api/v1/units/P.H1/staff?status={status}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Bad Request"
    assert "trained, in_progress, not_started" in response.get_json()["message"]


def test_staff_pages(client, staff, district_token):
    def page(query):
        return get(client, district_token, f"/api/v1/units/P.H1/staff?{query}")

    first = page("per_page=3").get_json()
    second = page("per_page=3&page=2").get_json()
    assert [len(first["items"]), len(second["items"])] == [3, 1]
    assert (second["total"], second["page"], second["per_page"]) == (4, 2, 3)
    assert second["items"][0]["full_name"] == "Lê Văn Trưởng"
    beyond = page("per_page=3&page=3").get_json()
    assert (beyond["items"], beyond["total"]) == ([], 4)
    assert len(page("per_page=500").get_json()["items"]) == 4
    for query in ("page=0", "page=-1", "page=x", "per_page=0", "per_page=501", "page=1000001"):
        response = page(query)
        assert response.status_code == 400, query
        assert response.get_json()["error"] == "Bad Request"


def test_staff_of_a_programme_assigned_below_are_only_those_it_covers(client, db, org,
                                                                       staff, district_token):
    local = make_programme("local", [make_course("three", 1)])
    assign(local, org["commune"])
    db.session.commit()
    data = get(client, district_token, "/api/v1/units/P.H1/staff?programme=local").get_json()
    assert [item["unit_code"] for item in data["items"]] == ["P.H1.X1"] * 3
    assert data["total"] == progress(local, org["district"], today()).figures.active
