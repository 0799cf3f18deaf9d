"""Report downloads: a head gets the district's figures, staff and yearly record as CSV or
Excel, agreeing with the dashboard; nobody gets another unit's; staff lists are audit-logged."""

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.certificates.models import Certificate
from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.org.models import utcnow
from lms.reports.progress import progress
from lms.reports.views import today
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme
from tests.downloads import read_csv, read_xlsx

SUMMARY_HEADER = ["Unit code", "Unit name", "Parent unit code", "Active staff", "Trained",
                  "Share trained (%)", "In progress", "Not started", "Overdue", "Target (%)",
                  "Deadline"]
STAFF_HEADER = ["Employee ID", "Full name", "Unit code", "Unit name", "Category", "Status",
                "Courses held", "Trained on", "Last activity"]
RECORD_HEADER = ["Employee ID", "Full name", "Unit code", "Course or programme", "Issued on",
                 "Score", "Serial", "Valid until", "Status now"]


@pytest.fixture
def programme(db, org):
    courses = [make_course("one", 2, title="Thiết bị số"),
               make_course("two", 2, title="An toàn thông tin")]
    programme = make_programme("basic", courses)
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=date.today() + timedelta(days=30)))
    db.session.flush()
    return programme, courses


@pytest.fixture
def district(db, org, users, programme):
    """The district's staff beyond the fixture's head and learner: Lan trained, Nam in
    progress, a formula-looking name, someone who left (trained), and a second commune."""
    _programme, (one, two) = programme
    second = make_unit("P.H1.X2", "Xã Đông Tiến", org["district"])
    people = {
        "lan": make_user(org["commune"], full_name="Đỗ Thị Lan", employee_id="NV001"),
        "nam": make_user(second, full_name="Bùi Văn Nam", employee_id="NV002"),
        "formula": make_user(org["commune"], full_name="=HYPERLINK(\"x\")",
                             employee_id="NV003"),
        "left": make_user(org["commune"], full_name="Hoàng Văn Đi", employee_id="NV004"),
    }
    for course in (one, two):
        issue(people["lan"], kind="course", title=course.slug, course=course, score="92%")
        issue(people["left"], kind="course", title=course.slug, course=course)
    mark_read(people["nam"], one.modules[0])
    people["left"].active = False
    db.session.commit()
    users["head"].locale = "en"  # headers and words as written in the code
    db.session.commit()
    return people


def test_the_head_exports_the_figures_of_the_district_and_each_sub_unit(
        client, users, district, login_as):
    login_as(users["head"])
    response = client.get("/reports/units/P.H1/summary.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"tien-do-P.H1-{today().isoformat()}.csv" in response.headers["Content-Disposition"]
    deadline = (date.today() + timedelta(days=30)).isoformat()
    assert read_csv(response) == [
        SUMMARY_HEADER,
        # the head, Hùng, Lan, Nam, the formula name; Lan trained, Nam started
        ["P.H1", "Huyện Đông Sơn", "P", "5", "1", "20.0", "1", "3", "0", "80.0", deadline],
        ["P.H1.X1", "Xã Đông Hòa", "P.H1", "3", "1", "33.3", "0", "2", "0", "80.0", deadline],
        ["P.H1.X2", "Xã Đông Tiến", "P.H1", "1", "0", "0.0", "1", "0", "0", "80.0", deadline],
    ]
    sheet = read_xlsx(client.get("/reports/units/P.H1/summary.xlsx"))
    assert sheet[0] == SUMMARY_HEADER
    assert sheet[2][:6] == ["P.H1.X1", "Xã Đông Hòa", "P.H1", 3, 1, 33.3]  # numbers
    assert sheet[2][9] == 80


def test_the_staff_export_agrees_with_the_dashboard(client, db, org, users, programme,
                                                    district, login_as):
    login_as(users["head"])
    rows = read_csv(client.get("/reports/units/P.H1/staff.csv"))
    assert rows[0] == STAFF_HEADER
    figures = progress(programme[0], org["district"], today()).figures
    statuses = Counter(row[5] for row in rows[1:])
    assert statuses == {"Trained": figures.trained, "In progress": figures.in_progress,
                        "Not started": figures.not_started}
    assert len(rows) - 1 == figures.active
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["NV001"][:7] == ["NV001", "Đỗ Thị Lan", "P.H1.X1", "Xã Đông Hòa",
                                  "Civil servant", "Trained", "2"]
    assert by_id["NV001"][7] == today().isoformat()
    assert by_id["NV002"][1:3] == ["Bùi Văn Nam", "P.H1.X2"]
    assert by_id["NV002"][5:8] == ["In progress", "0", ""]
    assert by_id["NV002"][8].startswith(today().isoformat()[:4])  # the read, local time
    assert by_id["L0001"][5:] == ["Not started", "0", "", ""]
    assert by_id["NV003"][1] == "'=HYPERLINK(\"x\")"  # neutralised
    assert "NV004" not in by_id  # deactivated
    units = [row[2] for row in rows[1:]]
    assert units == sorted(units, key=["P.H1", "P.H1.X1", "P.H1.X2"].index)  # path order


def test_the_staff_workbook_holds_the_same_rows(client, users, district, login_as):
    login_as(users["head"])
    as_csv = read_csv(client.get("/reports/units/P.H1/staff.csv"))
    response = client.get("/reports/units/P.H1/staff.xlsx")
    assert response.status_code == 200
    assert f"nhan-su-P.H1-{today().isoformat()}.xlsx" in response.headers[
        "Content-Disposition"]
    sheet = read_xlsx(response)
    assert len(sheet) == len(as_csv)
    assert sheet[0] == STAFF_HEADER
    for in_sheet, in_csv in zip(sheet[1:], as_csv[1:], strict=True):
        assert in_sheet[:7] == [*in_csv[:6], int(in_csv[6])]
    assert ["Đỗ Thị Lan" in row for row in sheet].count(True) == 1


def test_a_staff_export_is_audit_logged(client, db, users, district, login_as):
    login_as(users["head"])
    client.get("/reports/units/P.H1/staff.xlsx").get_data()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report_exported"))
    assert event.actor_id == users["head"].id
    assert (event.object_type, event.object_id) == ("units", "P.H1")
    assert event.detail["kind"] == "staff"
    assert event.detail["format"] == "xlsx"


def test_the_yearly_record_lists_this_years_certificates_not_revoked(
        client, db, org, users, programme, district, login_as):
    _programme, (one, two) = programme
    year = today().year
    old = make_user(org["commune"], full_name="Trần Văn Cũ", employee_id="NV005")
    issue(old, kind="course", title="Khóa năm trước", course=one,
          now=datetime(year - 1, 6, 1, 3, 0))
    # 18:00 UTC on 31 December is already New Year's Day in Hà Nội.
    new_year = make_user(org["commune"], full_name="Vũ Thị Xuân", employee_id="NV006")
    issue(new_year, kind="course", title="Khóa đầu năm", course=one,
          now=datetime(year - 1, 12, 31, 18, 0))
    revoked = make_user(org["commune"], full_name="Phan Văn Hủy", employee_id="NV007")
    issue(revoked, kind="course", title="Khóa bị thu hồi", course=two).revoked_at = utcnow()
    issue(district["nam"], kind="course", title="Khóa hết hạn", course=two,
          expires_on=date.today() - timedelta(days=1))
    first = db.session.scalar(select(Certificate).where(
        Certificate.user_id == district["left"].id, Certificate.course_id == one.id))
    first.renewed_at = utcnow()
    db.session.commit()
    login_as(users["head"])
    response = client.get(f"/reports/units/P.H1/record-{year}.csv")
    assert response.status_code == 200
    assert f"ho-so-{year}-P.H1-" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == RECORD_HEADER
    people = [row[1] for row in rows[1:]]
    assert "Vũ Thị Xuân" in people
    assert "Trần Văn Cũ" not in people
    assert "Phan Văn Hủy" not in people
    assert people.count("Hoàng Văn Đi") == 2  # left since, still on record
    lan = [row for row in rows[1:] if row[0] == "NV001"]
    assert [row[3] for row in lan] == ["one", "two"]
    assert lan[0][5] == "92%"
    assert lan[0][6].startswith(f"{year}-")
    assert lan[0][8] == "Valid"
    assert [row[8] for row in rows[1:] if row[0] == "NV004"] == ["Renewed", "Valid"]
    assert [row[8] for row in rows[1:] if row[0] == "NV002"] == ["Expired"]
    [xuan] = [row for row in rows[1:] if row[0] == "NV006"]
    assert xuan[4] == f"{year}-01-01"
    sheet = read_xlsx(client.get(f"/reports/units/P.H1/record-{year}.xlsx"))
    assert [row[1] for row in sheet[1:]] == people
    past = read_csv(client.get(f"/reports/units/P.H1/record-{year - 1}.csv"))
    assert [row[1] for row in past[1:]] == ["Trần Văn Cũ"]


@pytest.mark.parametrize(("year", "status"), [(1999, 404), (2000, 200), ("next", 200),
                                              ("after next", 404)])
def test_years_from_2000_to_next_year_are_exported(client, users, district, login_as, year,
                                                    status):
    login_as(users["head"])
    year = {"next": today().year + 1, "after next": today().year + 2}.get(year, year)
    assert client.get(f"/reports/units/P.H1/record-{year}.csv").status_code == status


@pytest.mark.parametrize("path", ["summary.csv", "staff.xlsx", "record-2025.csv"])
def test_no_one_exports_a_unit_outside_their_scope(client, users, district, login_as, path):
    login_as(users["head"])
    assert client.get(f"/reports/units/P.STTTT/{path}").status_code == 404
    login_as(users["learner"])
    assert client.get(f"/reports/units/P.H1.X1/{path}").status_code == 403


def test_the_dashboard_links_to_the_exports(client, users, district, login_as):
    login_as(users["head"])
    html = client.get("/reports/units/P.H1").get_data(as_text=True)
    assert 'href="/reports/units/P.H1/summary.csv?programme=basic"' in html
    assert 'href="/reports/units/P.H1/staff.xlsx?programme=basic"' in html
    assert f'href="/reports/units/P.H1/record-{today().year}.csv"' in html


def test_an_unknown_programme_is_not_found(client, users, district, login_as):
    login_as(users["head"])
    assert client.get("/reports/units/P.H1/staff.csv?programme=nope").status_code == 404

