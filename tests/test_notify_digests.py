"""The weekly digest to unit heads: what a head reads (in Vietnamese, or English if they chose
it), one per head and week however often the job runs, none for a head replaced before it
was sent."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.notify import outbox
from lms.notify.digests import (
    UnknownUnit,
    parse_week,
    queue_digests,
    week_period,
)
from lms.notify.models import OutboxMessage
from lms.reports.models import UnitSnapshot
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme

TODAY = date(2026, 11, 18)  # a Wednesday of week 47
WEEK = date(2026, 11, 16)


@pytest.fixture
def programme(db, org):
    """Two required courses, assigned to the province, due on 31 December 2026."""
    courses = [make_course("one", 2, title="Thiết bị số", title_en="Digital devices"),
               make_course("two", 2, title="An toàn thông tin", title_en="Information safety")]
    programme = make_programme("basic", courses, title_en="Basic digital skills")
    programme.titles = {**programme.titles, "vi": "Kỹ năng số cơ bản"}
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=date(2026, 12, 31)))
    db.session.flush()
    return programme, courses


@pytest.fixture
def staff(db, org, users, programme):
    """In the commune, beside the fixture's learner (Hùng): Lan trained, Nam holding the
    first course only, someone who left. The district's head is not trained either."""
    _programme, (one, two) = programme
    lan = make_user(org["commune"], full_name="Đỗ Thị Lan")
    for course in (one, two):
        issue(lan, kind="course", title=course.slug, course=course)
    nam = make_user(org["commune"], full_name="Bùi Văn Nam")
    issue(nam, kind="course", title=one.slug, course=one)
    mark_read(nam, two.modules[0])
    make_user(org["commune"], full_name="Vũ Văn Cũ", active=False)
    db.session.flush()
    return {"lan": lan, "nam": nam}


def rows(db, kind="digest"):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()


def row_for(db, user):
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "digest",
                                                         OutboxMessage.user_id == user.id))


def snapshot(db, programme, unit, week, trained, active):
    db.session.add(UnitSnapshot(unit_id=unit.id, programme_id=programme.id, week=week,
                                active=active, trained=trained, in_progress=0,
                                not_started=active - trained, overdue=0, on_time=trained,
                                target=0.8))
    db.session.flush()


# Weeks ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "period"), [
    (date(2026, 11, 16), "2026-W47"),
    (date(2026, 11, 22), "2026-W47"),  # a Sunday: still week 47
    (date(2027, 1, 1), "2026-W53"),  # 2026 has 53 ISO weeks
    (date(2024, 12, 30), "2025-W01"),
])
def test_week_period_is_the_iso_week(day, period):
    assert week_period(day) == period


def test_parse_week_gives_the_monday():
    assert parse_week("2026-W47") == date(2026, 11, 16)
    assert parse_week(" 2026-w05 ") == date(2026, 1, 26)
    assert week_period(parse_week("2026-W53")) == "2026-W53"


@pytest.mark.parametrize("text", ["", "2026-47", "W47", "2026-W", "2026-W00", "2025-W53",
                                  "2026-W47-1", "47/2026"])
def test_parse_week_refuses_anything_else(text):
    with pytest.raises(ValueError, match="2026-W47|has no week"):
        parse_week(text)


# What a head reads ------------------------------------------------------------------------

def test_the_head_reads_the_figures_of_the_unit_in_vietnamese(db, org, users, programme,
                                                              staff):
    record, _courses = programme
    snapshot(db, record, org["district"], WEEK - timedelta(days=7), trained=0, active=4)
    run = queue_digests(WEEK, today=TODAY)
    assert (run.period, run.queued, run.heads) == ("2026-W47", 1, 1)
    row = row_for(db, users["head"])
    assert (row.to_address, row.lang, row.unit_id, row.status) == (
        "head@example.gov.vn", "vi", org["district"].id, "pending")
    assert row.subject == ("Báo cáo tuần 47/2026: Huyện Đông Sơn, 25% đã đạt "
                           "(chỉ tiêu 80%)")
    text = row.text_body
    assert "Kính gửi Ông/Bà Lê Văn Trưởng," in text
    assert "Huyện Đông Sơn" in text
    assert "Chương trình: Kỹ năng số cơ bản" in text
    # the head, Hùng, Lan and Nam are active; Lan is trained; the one who left is not counted
    assert "25% cán bộ, công chức, viên chức đang công tác đã đạt (1 trên 4); " \
           "chỉ tiêu là 80%." in text
    assert "Cần thêm 3 người đạt để hoàn thành chỉ tiêu." in text
    assert "So với tuần trước: +25,0 điểm phần trăm (tuần trước: 0%)." in text
    assert "Hạn hoàn thành: 31 tháng 12, 2026." in text
    assert "- Xã Đông Hòa: 1/3 (33%), thêm 2 người" in text
    assert "3 người chưa đạt." in text
    assert "- Thiết bị số: 2" in text  # the head and Hùng; Nam holds it
    assert "- An toàn thông tin: 3" in text
    assert "http://localhost/reports/units/P.H1" in text
    assert "Bùi Văn Nam" not in text  # counts, never names
    html = row.html_body
    assert "<script" not in html
    assert "<style" not in html
    assert 'href="http://localhost/reports/units/P.H1"' in html
    assert "Xã Đông Hòa" in html
    assert "An toàn thông tin" in html
    assert "+25,0" in html


def test_without_last_weeks_figure_the_digest_says_so(db, users, programme, staff):
    queue_digests(WEEK, today=TODAY)
    text = row_for(db, users["head"]).text_body
    assert "Chưa có số liệu của tuần trước nên chưa so sánh được sự thay đổi." in text
    assert "So với tuần trước" not in text


def test_the_target_met_and_sub_units_at_target_are_said_so(db, org, users, programme):
    _record, courses = programme
    for person in [users["head"], users["learner"]]:
        for course in courses:
            issue(person, kind="course", title=course.slug, course=course)
    queue_digests(WEEK, today=TODAY)
    row = row_for(db, users["head"])
    assert "100% đã đạt" in row.subject
    assert "Đã đạt chỉ tiêu." in row.text_body
    assert "Tất cả đơn vị trực thuộc đã đạt chỉ tiêu." in row.text_body
    assert "0 người chưa đạt." in row.text_body


def test_an_english_head_reads_english(db, org, users, programme, staff):
    head = users["head"]
    head.locale = "en"
    queue_digests(WEEK, today=TODAY)
    row = row_for(db, head)
    assert row.lang == "en"
    assert row.subject == "Weekly report, week 47/2026: Huyện Đông Sơn, 25% trained (target 80%)"
    assert "Programme: Basic digital skills" in row.text_body
    assert "- Information safety: 3" in row.text_body
    assert "Digital devices" in row.html_body
    assert "Kính gửi" not in row.text_body


def test_a_unit_without_a_programme_gets_a_short_note(db, users):
    queue_digests(WEEK, today=TODAY)
    row = row_for(db, users["head"])
    assert row.subject == "Báo cáo tuần 47/2026: Huyện Đông Sơn"
    assert "Đơn vị này chưa được giao chương trình nào." in row.text_body
    assert "http://localhost/reports/units/P.H1" in row.text_body


def test_an_expired_certificate_is_a_course_still_lacking(db, org, users, programme):
    _record, (one, two) = programme
    person = make_user(org["commune"], full_name="Trịnh Thị Hạn")
    issue(person, kind="course", title=one.slug, course=one)
    issue(person, kind="course", title=two.slug, course=two, expires_on=TODAY - timedelta(days=1))
    queue_digests(WEEK, today=TODAY)
    text = row_for(db, users["head"]).text_body
    assert "3 người chưa đạt." in text  # the head, Hùng and her
    assert "- Thiết bị số: 2" in text
    assert "- An toàn thông tin: 3" in text


def test_a_second_programme_is_named_and_the_link_shows_the_first(db, org, users, programme):
    other = make_programme("more", [make_course("three", 1)])
    other.titles = {**other.titles, "vi": "Văn hóa số trong cơ quan"}
    db.session.add(ProgrammeAssignment(programme=other, unit=org["district"]))
    db.session.flush()
    queue_digests(WEEK, today=TODAY)
    text = row_for(db, users["head"]).text_body
    assert "Chương trình: Kỹ năng số cơ bản" in text  # the dashboard's first, by title
    assert "Đơn vị còn được giao: Văn hóa số trong cơ quan." in text
    assert "http://localhost/reports/units/P.H1?programme=basic" in text


def test_names_are_escaped_in_html_and_kept_in_text(db, org, users, programme):
    org["district"].name = "Huyện <Đông Sơn> & Ba Vì"
    queue_digests(WEEK, today=TODAY)
    row = row_for(db, users["head"])
    assert "Huyện &lt;Đông Sơn&gt; &amp; Ba Vì" in row.html_body
    assert "<Đông Sơn>" not in row.html_body
    assert "Huyện <Đông Sơn> & Ba Vì" in row.text_body
    assert "&lt;" not in row.text_body


# Who gets one, and how many ---------------------------------------------------------------

@pytest.fixture
def heads(db, org, users):
    """Four active heads with a unit; besides them, a head who left and one without a unit."""
    found = [users["head"],
             make_user(org["dept"], "head", "Hoàng Thị Thu", "thu@example.gov.vn"),
             make_user(org["province"], "head", "Ngô Quang Vinh", "vinh@example.gov.vn"),
             make_user(org["district"], "head", "Đặng Văn Phó", "pho@example.gov.vn")]
    make_user(org["commune"], "head", "Lý Văn Nghỉ", "nghi@example.gov.vn", active=False)
    make_user(None, "head", "Mai Văn Trống", "trong@example.gov.vn")
    return found


def test_every_head_gets_one_digest_a_week(db, programme, staff, heads):
    run = queue_digests(WEEK, today=TODAY)
    assert (run.heads, run.queued, run.skipped_already) == (4, 4, 0)
    assert sorted(row.to_address for row in rows(db)) == sorted(h.email for h in heads)
    assert {row.period for row in rows(db)} == {"2026-W47"}
    again = queue_digests(WEEK + timedelta(days=3), today=TODAY + timedelta(days=2))
    assert (again.queued, again.skipped_already) == (0, 4)
    assert len(rows(db)) == 4
    assert queue_digests(WEEK + timedelta(days=7), today=TODAY + timedelta(days=7)).queued == 4
    assert len(rows(db)) == 8  # next week's
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "emails_queued")
                                ).all()
    assert [(e.detail["kind"], e.detail["period"], e.detail["queued"]) for e in events] == [
        ("digest", "2026-W47", 4), ("digest", "2026-W48", 4)]


def test_two_heads_of_one_unit_each_get_theirs(db, org, programme, heads):
    district = [row for row in rows(db) if row.unit_id == org["district"].id]
    assert district == []
    queue_digests(WEEK, today=TODAY)
    district = [row for row in rows(db) if row.unit_id == org["district"].id]
    assert sorted(row.to_address for row in district) == ["head@example.gov.vn",
                                                          "pho@example.gov.vn"]
    assert "Kính gửi Ông/Bà Đặng Văn Phó," in next(
        row.text_body for row in district if row.to_address == "pho@example.gov.vn")


def test_a_dry_run_queues_nothing(db, programme, heads):
    run = queue_digests(WEEK, dry_run=True, today=TODAY)
    assert run.queued == 0
    assert sorted(email for email, _subject in run.would_queue) == sorted(
        h.email for h in heads)
    assert ("head@example.gov.vn", "Báo cáo tuần 47/2026: Huyện Đông Sơn, 0% đã đạt "
            "(chỉ tiêu 80%)") in run.would_queue
    assert rows(db) == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "emails_queued")) == 0


def test_a_unit_code_limits_the_run_to_its_subtree(db, org, programme, heads):
    run = queue_digests(WEEK, unit_code="P.H1", today=TODAY)
    assert run.queued == 2
    assert {row.unit_id for row in rows(db)} == {org["district"].id}
    with pytest.raises(UnknownUnit, match="unknown unit code 'NOPE'"):
        queue_digests(WEEK, unit_code="NOPE", today=TODAY)


def test_the_figures_cost_the_same_queries_whatever_the_staff(db, org, programme, staff,
                                                              statements):
    _record, (one, two) = programme
    def count():
        statements.clear()
        queue_digests(WEEK, dry_run=True, today=TODAY)
        return len(statements)

    count()  # warm caches
    small = count()
    for n in range(12):
        person = make_user(org["commune"] if n % 2 else make_unit(f"P.H1.X{n + 2}",
                                                                    f"Xã {n}", org["district"]))
        if n % 3 == 0:
            issue(person, kind="course", title="x", course=one)
    db.session.flush()
    assert count() == small


# Sending ----------------------------------------------------------------------------------

def test_a_head_replaced_before_sending_gets_nothing(app, db, org, users, programme, staff,
                                                     heads, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    queue_digests(WEEK, today=TODAY)
    db.session.commit()
    demoted, moved = heads[1], heads[2]
    demoted.role = "learner"  # no longer a head
    moved.unit_id = org["district"].id  # heads another unit now
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.cancelled) == (2, 2)
    assert smtp.inbox.to(demoted.email) == []
    assert smtp.inbox.to(moved.email) == []
    assert {row.to_address: row.status for row in rows(db)}[demoted.email] == "cancelled"
    [message] = smtp.inbox.to("head@example.gov.vn")
    # 1 of 5: the district's second head counts among its staff
    assert message["Subject"] == ("Báo cáo tuần 47/2026: Huyện Đông Sơn, 20% đã đạt "
                                  "(chỉ tiêu 80%)")
    text = message.get_body(("plain",)).get_content()
    assert "Kính gửi Ông/Bà Lê Văn Trưởng," in text
    assert "Chương trình: Kỹ năng số cơ bản" in text
    assert "Xã Đông Hòa" in text
    html = message.get_body(("html",)).get_content()
    assert 'href="http://localhost/reports/units/P.H1"' in html
    assert outbox.send_due().handled == 0  # nothing twice


# The command ------------------------------------------------------------------------------

def test_the_command_queues_and_says_who_sends(runner, db, programme, heads):
    result = runner.invoke(args=["lms", "send-digests", "--week", "2026-W47", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "head@example.gov.vn: Báo cáo tuần 47/2026: Huyện Đông Sơn" in result.output
    assert "Nothing was queued" in result.output
    assert rows(db) == []
    result = runner.invoke(args=["lms", "send-digests", "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert "2026-W47: 4 digests queued" in result.output
    assert "flask lms send-outbox" in result.output
    assert len(rows(db)) == 4
    result = runner.invoke(args=["lms", "send-digests", "--week", "2026-W47"])
    assert "0 digests queued" in result.output
    assert "4 already queued" in result.output


def test_the_command_refuses_a_bad_week_or_unit(runner, db, heads):
    result = runner.invoke(args=["lms", "send-digests", "--week", "2026-47"])
    assert result.exit_code == 2
    assert "--week" in result.output
    assert "2026-W47" in result.output
    result = runner.invoke(args=["lms", "send-digests", "--unit", "NOPE"])
    assert result.exit_code == 2
    assert "unknown unit code 'NOPE'" in result.output
    assert rows(db) == []
