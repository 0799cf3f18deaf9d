"""The admin's audit log: filtered by actor (any case, with or without diacritics), action,
object, local dates and address, 50 a page newest first with seq and hash; exported as CSV
or Excel (itself audit-logged); only admins; bad filters get a message, never a 500."""

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.audit.services import record_event
from lms.audit.verify import verify_trail
from tests.conftest import make_user
from tests.downloads import read_csv, read_xlsx

HEADER = ["Seq", "Time (Asia/Ho_Chi_Minh)", "Employee ID", "Actor", "Action code", "Action",
          "Object type", "Object ID", "Address", "Details (JSON)", "Hash"]


def event_at(action, at, **kwargs):
    """An event recorded at a given UTC time."""
    event = record_event(action, **kwargs)
    event.at = at
    return event


@pytest.fixture
def log(db, org, users):
    """A week of events (UTC times; Hà Nội is 7 hours ahead), committed so they are chained,
    and an admin reading in English."""
    admin, learner, hr = users["admin"], users["learner"], users["hr"]
    formula = make_user(org["office"], full_name="=HYPERLINK(\"http://x\")",
                        employee_id="@F0001", email="formula@example.gov.vn")
    events = {
        "sign_in": event_at("login", datetime(2026, 11, 20, 1, 0), actor=learner,
                            ip="203.0.113.7"),
        "late_sign_in": event_at("login", datetime(2026, 11, 23, 18, 30), actor=learner,
                                 ip="203.0.113.8"),  # 01:30 on the 24th, local
        "role": event_at("role_changed", datetime(2026, 11, 22, 3, 0), actor=admin,
                         obj=learner, ip="198.51.100.2", before="learner", after="hr",
                         note="Nguyễn Văn Hùng → nhân sự"),
        "import": event_at("import_staff", datetime(2026, 11, 22, 4, 0), actor=hr,
                           object_type="units", object_id="P.STTTT", added=3),
        "formula": event_at("login_failed", datetime(2026, 11, 24, 2, 0), actor=formula,
                            ip="=1+1", login="-2+3"),
    }
    db.session.commit()
    admin.locale = "en"
    db.session.commit()
    return events


def page(client, query=""):
    response = client.get("/admin/audit" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shown(html):
    """The ids of the events listed, in order."""
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)"', html)]


def ids(log, *names):
    return [log[name].id for name in names]


def exports(db):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit_exported")
                              .order_by(AuditEvent.id)).all()


# The list ---------------------------------------------------------------------------------

def test_the_log_lists_every_event_newest_first_with_seq_and_short_hash(as_admin, log):
    html = page(as_admin)
    assert shown(html) == ids(log, "formula", "import", "role", "late_sign_in", "sign_in")
    assert "5 entries" in html
    role = log["role"]
    row = html[html.index(f'id="event-{role.id}"'):].split("</tr>")[0]
    assert f"<td>{role.seq}</td>" in row
    assert f'<code title="{role.hash}">{role.hash[:12]}</code>' in row
    for text in ("Changed a role", "Quản Trị Viên", "A0001", "198.51.100.2",
                 "Nguyễn Văn Hùng → nhân sự"):
        assert text in row


@pytest.mark.parametrize(("query", "expected"), [
    ("?actor=hung", ["late_sign_in", "sign_in"]),  # Nguyễn Văn Hùng, without diacritics
    ("?actor=NGUYỄN+văn", ["late_sign_in", "sign_in"]),
    ("?actor=H0001", ["import"]),  # employee ID
    ("?actor=hr%40example.gov.vn", ["import"]),  # email
    ("?actor=nobody", []),
    ("?action=login", ["late_sign_in", "sign_in"]),
    ("?action=no_such_action", []),
    ("?object_type=units", ["import"]),
    ("?object_type=users&object_id=", ["role"]),
    ("?object_id=P.STTTT", ["import"]),
    ("?ip=203.0.113.7", ["sign_in"]),
    ("?since=2026-11-24", ["formula", "late_sign_in"]),  # local dates
    ("?until=2026-11-23", ["import", "role", "sign_in"]),
    ("?since=2026-11-22&until=2026-11-22", ["import", "role"]),
    ("?actor=hung&action=login&since=2026-11-21", ["late_sign_in"]),
])
def test_filters(as_admin, log, query, expected):
    assert shown(page(as_admin, query)) == ids(log, *expected)


def test_the_action_filter_offers_the_human_labels(as_admin, log):
    html = page(as_admin, "?action=role_changed")
    assert '<option selected value="role_changed">Changed a role</option>' in html
    assert '<option value="audit_exported">Exported the audit log</option>' in html


def test_fifty_a_page_and_the_filters_kept_from_page_to_page(db, as_admin, users):
    users["admin"].locale = "en"
    for n in range(120):
        record_event("login", actor=users["learner"], ip="192.0.2.1", n=n)
    record_event("login", actor=users["hr"], ip="192.0.2.1")
    db.session.commit()
    first = page(as_admin, "?actor=hung&ip=192.0.2.1")
    assert "120 entries" in first
    assert len(shown(first)) == 50
    assert "Page 1 of 3" in first
    assert 'href="/admin/audit?page=2&amp;actor=hung&amp;ip=192.0.2.1"' in first
    last = page(as_admin, "?actor=hung&ip=192.0.2.1&page=3")
    assert len(shown(last)) == 20
    seqs = [int(s) for s in re.findall(r'<tr id="event-\d+">\s*<td>(\d+)</td>', last)]
    assert seqs == list(range(20, 0, -1))


def test_only_admins_see_and_export_the_log(client, login_as, users, log):
    urls = ("/admin/audit", "/admin/audit.csv", "/admin/audit.xlsx")
    assert [client.get(url).status_code for url in urls] == [302] * 3
    for role in ("hr", "head", "learner"):
        login_as(users[role])
        assert [client.get(url).status_code for url in urls] == [403] * 3


# Export -----------------------------------------------------------------------------------

def test_the_csv_export_holds_the_filtered_events_in_local_time(db, as_admin, log):
    response = as_admin.get("/admin/audit.csv?since=2026-11-22&until=2026-11-24")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "nhat-ky-he-thong-" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == \
        [str(log[name].seq) for name in ("formula", "import", "role", "late_sign_in")]
    role = log["role"]
    assert rows[3] == [str(role.seq), "2026-11-22 10:00:00", "A0001", "Quản Trị Viên",
                       "role_changed", "Changed a role", "users", role.object_id,
                       "198.51.100.2", json.dumps(role.detail, ensure_ascii=False,
                                                  sort_keys=True), role.hash]
    assert "Nguyễn Văn Hùng → nhân sự" in rows[3][9]
    formula = rows[1]
    assert formula[2:4] == ["'@F0001", "'=HYPERLINK(\"http://x\")"]
    assert formula[8] == "'=1+1"
    assert rows[4][1] == "2026-11-24 01:30:00"


def test_the_xlsx_export_holds_the_same(db, as_admin, log):
    response = as_admin.get("/admin/audit.xlsx?action=login_failed")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    rows = read_xlsx(response)
    assert rows[0] == HEADER
    assert len(rows) == 2
    seq, at, employee_id, name, code, label, _type, _id, ip, detail, digest = rows[1]
    assert (seq, at, code, label) == (log["formula"].seq, "2026-11-24 09:00:00",
                                      "login_failed", "Failed sign-in")
    assert (employee_id, name, ip) == ("'@F0001", "'=HYPERLINK(\"http://x\")", "'=1+1")
    assert json.loads(detail) == {"login": "-2+3"}
    assert digest == log["formula"].hash


def test_an_export_is_itself_audit_logged_and_the_trail_stays_intact(db, as_admin, users,
                                                                    log):
    as_admin.get("/admin/audit.xlsx?actor=hùng&action=login").get_data()
    [event] = exports(db)
    assert (event.actor_id, event.action) == (users["admin"].id, "audit_exported")
    assert event.detail == {"format": "xlsx", "filters": {"actor": "hùng", "action": "login"}}
    assert event.seq == log["formula"].seq + 1
    assert verify_trail().intact
    assert "Exported the audit log" in page(as_admin, "?action=audit_exported")


def test_the_export_in_vietnamese(db, as_admin, users, log):
    users["admin"].locale = "vi"
    db.session.commit()
    rows = read_csv(as_admin.get("/admin/audit.csv?action=role_changed"))
    assert [row[3] for row in rows[1:]] == ["Quản Trị Viên"]
    assert rows[1][5] != "Changed a role"  # the label in Vietnamese


# Bad filters ------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "message"), [
    ("?since=2026-13-45", "Enter a date, for example 2026-12-31."),
    ("?until=yesterday", "Enter a date, for example 2026-12-31."),
    ("?since=0001-01-01", "Enter a date between 2000-01-01 and 2999-12-31."),
    ("?until=9999-12-31", "Enter a date between 2000-01-01 and 2999-12-31."),
    ("?since=2026-11-24&until=2026-11-20", "The end date is before the start date."),
    ("?actor=" + "x" * 101, "Use at most 100 characters."),
])
def test_bad_filters_get_a_message_and_no_list(db, as_admin, log, query, message):
    html = page(as_admin, query)
    assert message in html
    assert "Correct the filters above to see the audit log." in html
    assert shown(html) == []
    response = as_admin.get("/admin/audit.csv" + query)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert exports(db) == []


@pytest.mark.parametrize("query", [
    "?page=abc", "?page=-3", "?page=0", "?page=" + "9" * 40, "?page=99999",
    "?action=%00", "?object_type=%3Cscript%3E", "?ip=" + "1" * 65, "?actor=%25_%25",
    "?since=&until=", "?object_id=%F0%9F%98%80",
])
def test_odd_values_never_give_a_500(as_admin, log, query):
    assert as_admin.get("/admin/audit" + query).status_code in (200, 400)
    assert as_admin.get("/admin/audit.csv" + query).status_code in (200, 400)


def test_the_bad_date_message_in_vietnamese(as_admin, users, log):
    users["admin"].locale = None
    html = page(as_admin, "?since=31/12/2026")
    assert "Nhập một ngày, ví dụ 2026-12-31." in html


def test_the_queries_do_not_grow_with_the_events(db, as_admin, users, log, statements):
    def count(url):
        statements.clear()
        as_admin.get(url).get_data()
        return len(statements)

    few = count("/admin/audit"), count("/admin/audit.csv")
    for n in range(60):
        record_event("login", actor=make_user(), n=n)
    db.session.commit()
    assert (count("/admin/audit"), count("/admin/audit.csv")) == few
