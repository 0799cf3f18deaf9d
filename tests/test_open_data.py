"""Public open data: off unless switched on; aggregates of the top unit and two levels below,
never a person; the number trained suppressed where it could point at someone."""

from datetime import timedelta

import pytest
from babel.dates import format_date

from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.reports.open_data import suppressed_units
from lms.reports.views import today
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme


@pytest.fixture
def open_data(app, monkeypatch):
    monkeypatch.setitem(app.config, "OPEN_DATA", True)


@pytest.fixture
def province(app, db, org):
    """A programme assigned to the province (due in 60 days). The office: 5 staff, 1 trained.
    In the district: the commune X1 with 5 staff and a team of 1 below it (3 trained),
    X2 with 2 staff, X3 with 5. Returns (programme, deadline, everyone)."""
    one = make_course("one", 1)
    programme = make_programme("basic", [one])
    with app.test_request_context():
        deadline = today() + timedelta(days=60)
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=deadline))
    x2 = make_unit("P.H1.X2", "Xã Đông Lĩnh", org["district"])
    x3 = make_unit("P.H1.X3", "Xã Đông Tiến", org["district"])
    team = make_unit("P.H1.X1.T", "Tổ một cửa", org["commune"])
    people = []
    for unit, size in ((org["office"], 5), (org["commune"], 5), (team, 1), (x2, 2), (x3, 5)):
        people += [make_user(unit, full_name=f"Trịnh Văn {unit.code} {n}",
                             employee_id=f"OD-{unit.code}-{n}") for n in range(size)]
    trained = [people[0], people[5], people[6], people[10]]  # office 1; X1 2 and the team
    for person in trained:
        issue(person, kind="course", title=one.slug, course=one)
    db.session.commit()
    return programme, deadline, people


def units_of(client):
    data = client.get("/open-data.json").get_json()
    [programme] = data["programmes"]
    return {unit["code"]: unit for unit in programme["units"]}


def test_off_by_default(app, client, province):
    assert not app.config["OPEN_DATA"]
    assert client.get("/open-data").status_code == 404
    response = client.get("/open-data.json")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not Found", "status": 404}


def test_the_figures_of_the_top_unit_and_two_levels_below(client, province, open_data):
    _programme, deadline, _people = province
    response = client.get("/open-data.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    data = response.get_json()
    assert data["date"] == today().isoformat()
    assert data["min_active"] == 5
    [programme] = data["programmes"]
    assert (programme["slug"], programme["title"], programme["target"]) == (
        "basic", "Chương trình basic", 0.8)
    units = {unit["code"]: unit for unit in programme["units"]}
    assert programme["units"][0]["code"] == "P"
    assert set(units) == {"P", "P.STTTT", "P.STTTT.VP", "P.H1", "P.H1.X1", "P.H1.X2",
                          "P.H1.X3"}  # not the team, three levels down
    assert units["P"] == {"code": "P", "name": "Tỉnh Thử Nghiệm", "depth": 0,
                          "parent_code": None, "active": 18, "trained": 4, "ratio": 0.2222,
                          "suppressed": False, "target": 0.8,
                          "deadline": deadline.isoformat()}
    assert units["P.H1.X1"] == {"code": "P.H1.X1", "name": "Xã Đông Hòa", "depth": 2,
                                "parent_code": "P.H1", "active": 6, "trained": 3,
                                "ratio": 0.5, "suppressed": False, "target": 0.8,
                                "deadline": deadline.isoformat()}
    assert (units["P.H1"]["active"], units["P.H1"]["trained"]) == (13, 3)
    assert (units["P.STTTT"]["trained"], units["P.STTTT.VP"]["trained"]) == (1, 1)


def test_small_units_are_suppressed(client, province, open_data):
    units = units_of(client)
    small = units["P.H1.X2"]  # 2 people
    assert (small["active"], small["trained"], small["ratio"], small["suppressed"]) == (
        2, None, None, True)
    # X3 too: with X2 hidden, the district minus X1 and X3 would give X2's count.
    assert units["P.H1.X3"]["suppressed"] is True
    assert units["P.H1.X3"]["trained"] is None
    assert [code for code, unit in units.items() if unit["suppressed"]] == [
        "P.H1.X2", "P.H1.X3"]


def test_no_personal_data(client, users, province, open_data):
    _programme, _deadline, people = province
    everyone = [*people, *users.values()]
    for path in ("/open-data.json", "/open-data"):
        body = client.get(path).get_data(as_text=True)
        if path.endswith(".json"):
            assert "@" not in body
        for person in everyone:
            assert person.employee_id not in body, (path, person.employee_id)
            assert person.full_name not in body, path
            assert person.email not in body, path


def test_the_page_is_in_vietnamese(client, province, open_data):
    _programme, deadline, _people = province
    response = client.get("/open-data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Chương trình basic" in html
    for words in ("Đơn vị", "Nhân sự đang hoạt động", "Chỉ tiêu", "Hạn hoàn thành"):
        assert words in html
    assert format_date(deadline, "long", locale="vi") in html
    assert 'id="suppression-note"' in html
    row = html.split('id="unit-basic-P.H1.X2"')[1].split("</tr>")[0]
    assert 'data-suppressed="true"' in row
    assert "—" in row
    assert ">50%<" in html.split('id="unit-basic-P.H1.X1"')[1].split("</tr>")[0]
    assert 'href="/open-data.json"' in html


def test_the_page_is_shared_only_without_a_session_being_set(client, users, login_as,
                                                            province, open_data):
    # The first visits start the visitor's session (the forms' token, then the sign-in
    # check's mark): a response setting a cookie is never for shared caches.
    for _ in range(3):
        response = client.get("/open-data")
        sets_cookie = bool(response.headers.getlist("Set-Cookie"))
        assert response.headers["Cache-Control"] == (
            "private, max-age=300" if sets_cookie else "public, max-age=300")
    assert not sets_cookie  # a returning visitor's page may be shared
    login_as(users["hr"])
    signed_in = client.get("/open-data")
    assert signed_in.headers["Cache-Control"] == "private, max-age=300"
    assert "Trần Thị Nhân Sự" in signed_in.get_data(as_text=True)  # hence never shared


def test_no_programme_at_the_top(client, db, org, open_data):
    programme = make_programme("local", [make_course("one", 1)])
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["district"]))
    db.session.commit()
    assert client.get("/open-data.json").get_json()["programmes"] == []
    assert 'id="no-open-data"' in client.get("/open-data").get_data(as_text=True)


# The suppression rule ----------------------------------------------------------------------

@pytest.mark.parametrize(("units", "hidden"), [
    # (id, parent, active) of the units shown
    ([(1, None, 20), (2, 1, 10), (3, 1, 10)], set()),
    ([(1, None, 4)], {1}),
    ([(1, None, 5)], set()),  # exactly the minimum: shown
    ([(1, None, 0), (2, 1, 0)], {1, 2}),
    # A child of 3: hidden, and then so is its sibling, else 20 - 17 gives it away.
    ([(1, None, 20), (2, 1, 17), (3, 1, 3)], {2, 3}),
    # Staff of the parent itself, 2 of them, beyond its shown children: the smallest child
    # goes, leaving 2 + 6 hidden.
    ([(1, None, 20), (2, 1, 12), (3, 1, 6)], {3}),
    # A remainder of 5 or more is safe.
    ([(1, None, 20), (2, 1, 10), (3, 1, 5)], set()),
    # One level down the same: a grandchild of 2 hidden, then its sibling (15 - 13).
    ([(1, None, 30), (2, 1, 15), (3, 1, 15), (4, 2, 13), (5, 2, 2)], {4, 5}),
    # A small child hidden: its sibling is all that is left to hide.
    ([(1, None, 12), (2, 1, 4), (3, 1, 8)], {2, 3}),
    # A child hidden by the rule keeps its shown children, which count in the remainder:
    # 40 - 30 - 5 leaves 5 people (the hidden child's 3 and the top's own 2).
    ([(1, None, 40), (2, 1, 8), (3, 1, 30), (4, 2, 5), (5, 2, 3)], {2, 5}),
])
def test_suppression(units, hidden):
    assert suppressed_units(units) == hidden
