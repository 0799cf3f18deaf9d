"""The figures agree everywhere: for the same unit, the dashboard, the summary export, the JSON
API and the weekly snapshot give the same numbers, on generated data with deactivated staff,
revoked and expired certificates, a renewal and a unit moved in the tree; and a head gets
nothing of another unit through any of them."""

import csv
import io
import random
import re
from datetime import timedelta

import pytest

from lms.api.tokens import create_token
from lms.certificates.services import issue, revoke
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.reports.progress import progress
from lms.reports.services import record_snapshots, snapshot_figures, week_of
from lms.reports.views import today as app_today
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme

FIELDS = ("active", "trained", "in_progress", "not_started", "overdue")


@pytest.fixture
def world(db, org):
    """Three courses, the programme at the province (deadline ahead) and at one district
    (deadline past); 60 people spread over six units with every kind of standing."""
    rng = random.Random(7)
    courses = [make_course(f"c{n}", 2) for n in range(3)]
    programme = make_programme("basic", courses)
    today = app_today()
    db.session.add_all([
        ProgrammeAssignment(programme=programme, unit=org["province"],
                            deadline=today + timedelta(days=40)),
        ProgrammeAssignment(programme=programme, unit=org["district"],
                            deadline=today - timedelta(days=2))])
    second = make_unit("P.H2", "Huyện Tây Sơn", org["province"])
    units = [org["office"], org["dept"], org["commune"], org["district"], second,
             make_unit("P.H2.X1", "Xã Tây Hòa", second)]
    for n in range(60):
        person = make_user(rng.choice(units), full_name=f"Nguyễn Văn Số {n}")
        roll = rng.random()
        if roll < 0.3:
            continue  # not started
        mark_read(person, courses[0].modules[0])
        held = courses if roll > 0.6 else courses[:rng.randrange(0, 3)]
        certificates = [issue(person, kind="course", title=c.slug, course=c) for c in held]
        if certificates and rng.random() < 0.15:
            revoke(certificates[0], "Cấp nhầm")
        elif certificates and rng.random() < 0.15:
            certificates[-1].expires_on = today - timedelta(days=1)
            from lms.reports.records import refresh

            db.session.flush()
            refresh([person.id])
        if rng.random() < 0.1:
            person.active = False
    # The second district's commune moves under the first district.
    moved = units[-1]
    moved.parent_id, moved.path = org["district"].id, org["district"].path + f"{moved.id}/"
    moved.depth = org["district"].depth + 1
    db.session.commit()
    return programme, today


def _dashboard(client, code):
    html = client.get(f"/reports/units/{code}").get_data(as_text=True)
    ids = {"active": "n-active", "trained": "n-trained", "in_progress": "n-in-progress",
           "not_started": "n-not-started", "overdue": "n-overdue"}
    return {field: int(re.search(rf'id="{ident}">([\d.,]+)<', html)[1].replace(".", "")
                       .replace(",", "")) for field, ident in ids.items()}


def _export(client, code):
    body = client.get(f"/reports/units/{code}/summary.csv").get_data().decode("utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(body)) if r and r[0] == code)
    return {"active": int(row[3]), "trained": int(row[4]), "in_progress": int(row[6]),
            "not_started": int(row[7]), "overdue": int(row[8])}


def _api(client, token, code):
    data = client.get(f"/api/v1/units/{code}/progress",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    return {field: data["figures"][field] for field in FIELDS}


def test_dashboard_export_api_and_snapshot_agree(app, client, db, org, users, world,
                                                 login_as):
    programme, today = world
    _row, token = create_token(users["admin"], "Nền tảng dữ liệu tỉnh", org["province"])
    record_snapshots(today)
    db.session.commit()
    login_as(users["admin"])
    checked = 0
    for code in ("P", "P.STTTT", "P.H1", "P.H2", "P.H1.X1"):
        unit = db.session.scalar(db.select(type(org["province"])).where(
            type(org["province"]).code == code))
        expected = progress(programme, unit, today).figures
        as_dict = {field: getattr(expected, field) for field in FIELDS}
        snapshot = snapshot_figures(programme, unit, week_of(today))
        assert _dashboard(client, code) == as_dict, code
        assert _export(client, code) == as_dict, code
        assert _api(client, token, code) == as_dict, code
        assert {field: getattr(snapshot, field) for field in FIELDS} == as_dict, code
        checked += expected.active
    figures = progress(programme, org["province"], today).figures
    assert figures.active > 30
    assert figures.trained > 5
    assert figures.overdue > 0
    assert figures.in_progress > 0
    assert figures.not_started > 0
    assert checked > figures.active  # every unit checked holds people


@pytest.mark.parametrize("url", [
    "/reports/units/P.STTTT", "/reports/units/P.STTTT/courses",
    "/reports/units/P.STTTT/summary.csv", "/reports/units/P.STTTT/staff.xlsx",
    "/reports/units/P.STTTT/record-2026.csv", "/reports/units/P/summary.csv",
    "/reports/units/P.STTTT.VP/staff.csv"])
def test_a_head_gets_nothing_of_another_unit(client, db, users, world, login_as, url):
    login_as(users["head"])  # head of the district P.H1
    response = client.get(url)
    assert response.status_code == 404
    assert "Nguyễn Văn Số" not in response.get_data(as_text=True)


def test_a_district_token_reads_nothing_above_or_beside_it(client, db, org, users, world):
    _row, token = create_token(users["admin"], "Huyện", org["district"])
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for code in ("P", "P.STTTT", "P.H2"):
        for suffix in ("progress", "staff"):
            response = client.get(f"/api/v1/units/{code}/{suffix}", headers=headers)
            assert response.status_code == 404
            assert "Nguyễn" not in response.get_data(as_text=True)
    assert client.get("/api/v1/units/P.H1/progress", headers=headers).status_code == 200

