"""The certificate register: HR sees, filters and exports the certificates of its subtree,
revokes (with a reason) and re-issues them, audit-logged; heads read their subtree's register
but change nothing; learners have no register; outside the subtree a certificate is 404."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.certificates.models import Certificate
from lms.certificates.register import (
    CSV_HEADER,
    RegisterError,
    register_page,
    register_rows,
    reissue_certificate,
    revoke_certificate,
)
from lms.certificates.services import issue
from lms.org.services import fill_derived
from lms.reports.exports import csv_stream
from tests.conftest import make_user
from tests.course_factories import make_course


def give(user, course, when=None, expires_on=None, score=None):
    """A course certificate for `user`, issued at `when`."""
    return issue(user, kind="course", title=f"Khoá học {course.slug}", course=course,
                 expires_on=expires_on, score=score, now=when)


def serials(page):
    return [row[0].serial for row in page.items]


def events(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.fixture
def certs(db, org, users):
    """Certificates: two in HR's department (office, department), one in the district."""
    for user in users.values():
        user.locale = "en"
    alpha, beta = make_course("alpha", 1), make_course("beta", 1)
    lan = make_user(org["dept"], full_name="Nguyễn Thị Lan", employee_id="L0003")
    return {
        "alpha": alpha, "beta": beta,
        "mai": give(users["office_learner"], alpha, datetime(2026, 1, 10, 9)),
        "lan": give(lan, beta, datetime(2026, 2, 20, 9), expires_on=date(2026, 3, 1)),
        "hung": give(users["learner"], alpha, datetime(2026, 3, 5, 9)),
    }


# Who sees what ---------------------------------------------------------------------------

def test_hr_sees_only_its_subtree_newest_first(certs, users):
    page = register_page(users["hr"], today=date(2026, 4, 1))
    assert serials(page) == [certs["lan"].serial, certs["mai"].serial]
    assert page.total == 2


def test_admin_sees_everything_and_head_its_own_subtree(certs, users):
    assert register_page(users["admin"]).total == 3
    assert serials(register_page(users["head"])) == [certs["hung"].serial]


def test_register_page_for_hr_head_and_learner(client, login_as, certs, users):
    login_as(users["hr"])
    html = client.get("/certificates/register").get_data(as_text=True)
    assert f'id="certificate-{certs["mai"].id}"' in html
    assert f'id="certificate-{certs["hung"].id}"' not in html
    assert "/reissue" in html
    assert f"/certificates/{certs['mai'].id}/revoke" in html
    login_as(users["head"])
    html = client.get("/certificates/register").get_data(as_text=True)
    assert f'id="certificate-{certs["hung"].id}"' in html
    assert f'id="certificate-{certs["mai"].id}"' not in html
    assert "/reissue" not in html  # read-only
    assert "/revoke" not in html
    assert client.post(f"/certificates/{certs['hung'].id}/reissue").status_code == 403
    login_as(users["learner"])
    assert client.get("/certificates/register").status_code == 403
    assert client.get("/certificates/register.csv").status_code == 403


def test_a_unit_outside_the_subtree_is_not_found(as_hr, certs):
    assert as_hr.get("/certificates/register?unit=P.H1").status_code == 404
    assert as_hr.get("/certificates/register?unit=NOPE").status_code == 404


# Filters and search ----------------------------------------------------------------------

def test_search_ignores_diacritics_and_case_and_finds_serials(certs, users):
    hr = users["hr"]
    assert serials(register_page(hr, query="nguyen")) == [certs["lan"].serial]
    assert serials(register_page(hr, query="NGUYỄN lan")) == [certs["lan"].serial]
    assert serials(register_page(hr, query="pham mai")) == [certs["mai"].serial]
    assert serials(register_page(hr, query=certs["mai"].serial)) == [certs["mai"].serial]
    assert register_page(hr, query="hung").total == 0  # outside the subtree


def test_filters_by_course_unit_status_and_issue_date(certs, org, users):
    hr, today = users["hr"], date(2026, 4, 1)

    def found(**filters):
        return serials(register_page(hr, today=today, **filters))

    assert found(course_id=certs["alpha"].id) == [certs["mai"].serial]
    assert found(unit_id=org["office"].id) == [certs["mai"].serial]
    assert found(status="expired") == [certs["lan"].serial]
    assert found(status="valid") == [certs["mai"].serial]
    assert found(status="revoked") == []
    assert found(issued_from=date(2026, 2, 1)) == [certs["lan"].serial]
    assert found(issued_to=date(2026, 1, 10)) == [certs["mai"].serial]
    assert found(issued_from=date(2026, 1, 11), issued_to=date(2026, 2, 19)) == []
    revoke_certificate(hr, certs["mai"], "typo")
    assert found(status="revoked") == [certs["mai"].serial]


def test_pagination(certs, users):
    first = register_page(users["admin"], per_page=2)
    second = register_page(users["admin"], per_page=2, page=2)
    assert (first.pages, first.has_next, second.has_prev) == (2, True, True)
    assert serials(first) + serials(second) == [
        certs["hung"].serial, certs["lan"].serial, certs["mai"].serial]
    assert register_page(users["admin"], per_page=2, page=99).page == 2


def test_page_filters_come_from_the_query_string(as_hr, certs):
    html = as_hr.get("/certificates/register?q=nguyen&status=expired&from=2026-02-01"
                     "&to=bad").get_data(as_text=True)
    assert f'id="certificate-{certs["lan"].id}"' in html
    assert f'id="certificate-{certs["mai"].id}"' not in html
    assert "register.csv?q=nguyen&amp;status=expired&amp;from=2026-02-01" in html


# CSV -------------------------------------------------------------------------------------

def test_csv_export_has_the_bom_the_header_and_the_rows_in_scope(as_hr, certs):
    response = as_hr.get("/certificates/register.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["serial", "name", "employee_id", "unit", "title", "issued_on",
                       "expires_on", "status", "revoked_on", "revoked_reason"]
    assert {row[0] for row in rows[1:]} == {certs["mai"].serial, certs["lan"].serial}
    lan = next(row for row in rows if row[0] == certs["lan"].serial)
    assert lan[1:7] == ["Nguyễn Thị Lan", "L0003", "Sở Khoa học và Công nghệ",
                        "Khoá học beta", "2026-02-20", "2026-03-01"]
    assert lan[7] in ("valid", "expired")  # depends on today's date
    assert lan[8:] == ["", ""]


def test_csv_keeps_the_filters_and_defuses_formulas(certs, users):
    revoke_certificate(users["hr"], certs["mai"], "=HYPERLINK(\"x\")")
    lines = list(csv_stream(CSV_HEADER, register_rows(users["hr"], today=date(2026, 4, 1),
                                                      status="revoked")))
    rows = list(csv.reader(io.StringIO("".join(lines).removeprefix("\ufeff"))))
    assert len(rows) == 2
    assert rows[1][0] == certs["mai"].serial
    assert rows[1][7] == "revoked"
    assert rows[1][9].startswith("'=")


# Revocation ------------------------------------------------------------------------------

def test_revoking_needs_a_reason_and_is_audit_logged(as_hr, db, certs, users):
    mai = certs["mai"]
    page = as_hr.get(f"/certificates/{mai.id}/revoke")
    assert 'id="revoke-form"' in page.get_data(as_text=True)
    response = as_hr.post(f"/certificates/{mai.id}/revoke", data={"reason": "  "})
    assert response.status_code == 200
    assert mai.revoked_at is None
    assert events(db, "certificate_revoked") == []
    response = as_hr.post(f"/certificates/{mai.id}/revoke", data={"reason": "Sai họ tên"})
    assert response.status_code == 302
    db.session.refresh(mai)
    assert mai.revoked_at is not None
    assert (mai.revoked_reason, mai.revoked_by_id) == ("Sai họ tên", users["hr"].id)
    [event] = events(db, "certificate_revoked")
    assert (event.actor_id, event.object_type, event.object_id) == (
        users["hr"].id, "certificates", str(mai.id))
    assert event.detail == {"serial": mai.serial, "reason": "Sai họ tên"}


def test_revoking_needs_the_csrf_token(csrf_app, client, login_as, certs, users):
    login_as(users["hr"])
    response = client.post(f"/certificates/{certs['mai'].id}/revoke", data={"reason": "x"})
    assert response.status_code == 400
    assert certs["mai"].revoked_at is None


def test_revoking_outside_the_subtree_is_not_found(as_hr, db, certs):
    hung = certs["hung"]
    assert as_hr.get(f"/certificates/{hung.id}/revoke").status_code == 404
    assert as_hr.post(f"/certificates/{hung.id}/revoke",
                      data={"reason": "x"}).status_code == 404
    assert as_hr.post(f"/certificates/{hung.id}/reissue").status_code == 404
    assert as_hr.post("/certificates/999999/reissue").status_code == 404
    db.session.refresh(hung)
    assert hung.revoked_at is None
    assert events(db, "certificate_revoked") == []


def test_revoke_service_refuses_empty_reasons_and_revoked_certificates(certs, users):
    with pytest.raises(RegisterError, match="reason_required"):
        revoke_certificate(users["hr"], certs["mai"], " ")
    revoke_certificate(users["hr"], certs["mai"], "typo")
    with pytest.raises(RegisterError, match="already_revoked"):
        revoke_certificate(users["hr"], certs["mai"], "again")


# Re-issue --------------------------------------------------------------------------------

def in_force(db, user_id, course_id):
    return db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.user_id == user_id, Certificate.course_id == course_id,
        Certificate.revoked_at.is_(None)))


def test_reissue_uses_the_current_name_and_replaces_the_old_one(as_hr, db, certs, users):
    mai, person = certs["mai"], users["office_learner"]
    person.full_name = "Phạm Thị Mai Anh"
    fill_derived(person)
    response = as_hr.post(f"/certificates/{mai.id}/reissue")
    assert response.status_code == 302
    db.session.refresh(mai)
    new = db.session.get(Certificate, mai.replaced_by_id)
    assert new is not None
    assert (new.serial, new.code) != (mai.serial, mai.code)
    assert new.name == "Phạm Thị Mai Anh"
    assert (new.kind, new.title, new.course_id, new.score, new.expires_on) == (
        mai.kind, mai.title, mai.course_id, mai.score, mai.expires_on)
    assert new.revoked_at is None
    assert (mai.revoked_reason, mai.revoked_by_id) == ("re-issued", users["hr"].id)
    assert in_force(db, person.id, mai.course_id) == 1
    [event] = events(db, "certificate_reissued")
    assert event.detail == {"serial": mai.serial, "new_serial": new.serial, "new_id": new.id}


def test_reissue_of_a_revoked_certificate_and_never_twice(db, certs, users):
    lan, hr = certs["lan"], users["hr"]
    revoke_certificate(hr, lan, "typo")
    new = reissue_certificate(hr, lan)
    assert lan.revoked_reason == "typo"  # kept as it was
    assert lan.replaced_by_id == new.id
    assert new.expires_on == date(2026, 3, 1)
    with pytest.raises(RegisterError, match="already_replaced"):
        reissue_certificate(hr, lan)
    assert in_force(db, lan.user_id, lan.course_id) == 1


def test_reissue_refused_while_another_certificate_is_in_force(db, certs, users):
    mai, hr = certs["mai"], users["hr"]
    revoke_certificate(hr, mai, "typo")
    current = give(users["office_learner"], certs["alpha"],
                   datetime.now() - timedelta(days=1))
    with pytest.raises(RegisterError, match="other_in_force"):
        reissue_certificate(hr, mai)
    assert mai.replaced_by_id is None
    assert current.revoked_at is None
    assert in_force(db, mai.user_id, mai.course_id) == 1


def test_reissue_needs_the_csrf_token(csrf_app, client, login_as, certs, users):
    login_as(users["hr"])
    assert client.post(f"/certificates/{certs['mai'].id}/reissue").status_code == 400
    assert certs["mai"].replaced_by_id is None
