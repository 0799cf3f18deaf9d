"""Reminders to learners: a weekly one while their training is due within two weeks or
overdue, saying what is left; one per certificate about to expire, saying until when it
counts and how to renew it. Never to someone who left, never twice."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.certificates.services import issue
from lms.notify import outbox
from lms.notify.digests import local_today
from lms.notify.models import OutboxMessage
from lms.notify.reminders import queue_expiry_reminders, queue_reminders
from lms.org.models import utcnow
from tests.conftest import make_user
from tests.course_factories import assign, make_course, make_programme

TODAY = date(2026, 11, 18)  # a Wednesday of week 47


@pytest.fixture
def courses(db):
    return [make_course("one", 2, title="Thiết bị số", title_en="Digital devices"),
            make_course("two", 2, title="An toàn thông tin", title_en="Information safety")]


@pytest.fixture
def programme(db, courses):
    """Both courses required; assigned by each test."""
    programme = make_programme("basic", courses, title_en="Basic digital skills")
    programme.titles = {**programme.titles, "vi": "Kỹ năng số cơ bản"}
    return programme


@pytest.fixture
def due_in_ten_days(db, org, programme):
    """The programme assigned to the province, due in 10 days."""
    return assign(programme, org["province"], deadline=TODAY + timedelta(days=10))


def messages(db, kind="reminder"):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()


def message_to(db, user, kind="reminder"):
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == kind,
                                                         OutboxMessage.user_id == user.id))


def holds(person, *courses, expires_on=None):
    return [issue(person, kind="course", title=course.slug, course=course,
                  expires_on=expires_on) for course in courses]


# Training reminders -----------------------------------------------------------------------

def test_a_learner_due_soon_is_told_what_is_left(db, users, courses, due_in_ten_days):
    learner = users["learner"]
    holds(learner, courses[0])
    # the HR officer, the head, Hùng and Mai have a unit; the admin has none
    assert queue_reminders(TODAY) == 4
    row = message_to(db, learner)
    assert (row.to_address, row.period, row.lang) == ("hung@example.gov.vn", "2026-W47", "vi")
    assert row.subject == ("Nhắc việc: hoàn thành chương trình bồi dưỡng chậm nhất ngày "
                           "28 tháng 11, 2026")
    text = row.text_body
    assert "Kính gửi Ông/Bà Nguyễn Văn Hùng," in text
    assert "Kỹ năng số cơ bản" in text
    assert "Hạn hoàn thành: 28 tháng 11, 2026. Còn 10 ngày." in text
    assert "- An toàn thông tin: http://localhost/courses/two" in text
    assert "Thiết bị số" not in text  # held already
    assert "http://localhost/learn" in text
    html = row.html_body
    assert '<a href="http://localhost/courses/two"' in html
    assert 'href="http://localhost/learn"' in html
    assert "Còn 10 ngày." in html
    assert "<script" not in html
    assert message_to(db, users["admin"]) is None


def test_overdue_and_due_today_are_said_so(db, org, users, programme):
    assign(programme, org["district"], deadline=TODAY - timedelta(days=3))
    assign(programme, org["dept"], deadline=TODAY)
    assert queue_reminders(TODAY) == 4
    overdue = message_to(db, users["learner"])
    assert overdue.subject == ("Nhắc việc: Ông/Bà đã quá hạn hoàn thành chương trình "
                               "bồi dưỡng")
    assert "Đã quá hạn 3 ngày." in overdue.text_body
    assert "- Thiết bị số: http://localhost/courses/one" in overdue.text_body
    assert "- An toàn thông tin: http://localhost/courses/two" in overdue.text_body
    today = message_to(db, users["office_learner"])
    assert "Hạn chót là hôm nay." in today.text_body


def test_only_the_untrained_active_and_due_are_reminded(db, org, users, courses,
                                                        due_in_ten_days):
    trained = make_user(org["commune"], full_name="Đỗ Thị Lan")
    holds(trained, *courses)
    left = make_user(org["commune"], full_name="Vũ Văn Cũ", active=False)
    expired = make_user(org["commune"], full_name="Trịnh Văn Cũ")
    holds(expired, courses[0])
    holds(expired, courses[1], expires_on=TODAY - timedelta(days=1))
    users["hr"].active = False
    queue_reminders(TODAY)
    reminded = {row.user_id for row in messages(db)}
    assert reminded == {users["head"].id, users["learner"].id, users["office_learner"].id,
                        expired.id}
    assert trained.id not in reminded
    assert left.id not in reminded
    # an expired certificate is a course to take again
    assert "- An toàn thông tin" in message_to(db, expired).text_body


@pytest.mark.parametrize(("days", "reminded"), [(14, True), (15, False), (0, True),
                                                 (-40, True)])
def test_the_deadline_must_be_within_two_weeks_or_past(db, org, users, programme, days,
                                                       reminded):
    assign(programme, org["commune"], deadline=TODAY + timedelta(days=days))
    assert queue_reminders(TODAY) == (1 if reminded else 0)


def test_the_programmes_deadline_applies_when_the_assignment_has_none(db, org, users,
                                                                      programme):
    programme.deadline = TODAY + timedelta(days=7)
    assign(programme, org["commune"])
    assert queue_reminders(TODAY) == 1
    assert "Còn 7 ngày." in message_to(db, users["learner"]).text_body


def test_the_nearest_assignment_decides(db, org, users, programme):
    assign(programme, org["province"], deadline=TODAY + timedelta(days=60))
    assign(programme, org["commune"], deadline=TODAY + timedelta(days=5))
    assert queue_reminders(TODAY) == 1
    assert "Còn 5 ngày." in message_to(db, users["learner"]).text_body


def test_a_later_deadline_below_overrides_an_earlier_one_above(db, org, users, programme):
    assign(programme, org["province"], deadline=TODAY + timedelta(days=5))
    assign(programme, org["district"], deadline=TODAY + timedelta(days=60))
    queue_reminders(TODAY)
    assert {row.user_id for row in messages(db)} == {users["hr"].id,
                                                     users["office_learner"].id}


def test_at_most_one_reminder_a_week(db, users, due_in_ten_days):
    assert queue_reminders(TODAY) == 4
    assert queue_reminders(TODAY) == 0
    assert queue_reminders(TODAY + timedelta(days=4)) == 0  # Sunday: the same week
    assert queue_reminders(TODAY + timedelta(days=5)) == 4  # Monday: week 48
    assert sorted({row.period for row in messages(db)}) == ["2026-W47", "2026-W48"]
    assert len(messages(db)) == 8
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "emails_queued")
                                ).all()
    assert [(e.detail["kind"], e.detail["queued"]) for e in events] == [("reminder", 4)] * 2


def test_one_reminder_lists_every_programme_due(db, org, users, courses, due_in_ten_days):
    third = make_course("three", 1, title="Chuyển đổi số")
    other = make_programme("more", [third])
    other.titles = {**other.titles, "vi": "Chuyển đổi số trong cơ quan"}
    assign(other, org["commune"], deadline=TODAY + timedelta(days=2))
    assert queue_reminders(TODAY) == 4
    row = message_to(db, users["learner"])
    assert "chậm nhất ngày 20 tháng 11, 2026" in row.subject  # the earliest deadline
    text = row.text_body
    assert text.index("Chuyển đổi số trong cơ quan") < text.index("Kỹ năng số cơ bản")
    assert "- Chuyển đổi số: http://localhost/courses/three" in text


def test_a_dry_run_queues_nothing(db, users, due_in_ten_days):
    assert queue_reminders(TODAY, dry_run=True) == 4
    assert messages(db) == []
    assert queue_reminders(TODAY) == 4


def test_an_english_learner_reads_english(db, users, due_in_ten_days):
    learner = users["learner"]
    learner.locale = "en"
    queue_reminders(TODAY)
    row = message_to(db, learner)
    assert row.lang == "en"
    assert row.subject == "Reminder: complete your training by November 28, 2026"
    assert "Basic digital skills" in row.text_body
    assert "- Information safety: http://localhost/courses/two" in row.text_body
    assert "10 days left." in row.text_body


def test_choosing_who_costs_the_same_queries_whatever_the_staff(db, org, users, courses,
                                                                due_in_ten_days, statements):
    def count():
        statements.clear()
        queue_reminders(TODAY, dry_run=True)
        return len(statements)

    count()
    small = count()
    for n in range(15):
        person = make_user(org["commune"])
        if n % 2:
            holds(person, courses[n % 4 // 2])
    assert count() == small


def test_a_learner_who_left_before_sending_gets_nothing(app, db, users, due_in_ten_days,
                                                        smtp, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    queue_reminders(TODAY)
    db.session.commit()
    users["office_learner"].active = False
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.cancelled) == (3, 1)
    assert smtp.inbox.to("mai@example.gov.vn") == []
    [message] = smtp.inbox.to("hung@example.gov.vn")
    assert message["Subject"] == ("Nhắc việc: hoàn thành chương trình bồi dưỡng chậm nhất "
                                  "ngày 28 tháng 11, 2026")
    text = message.get_body(("plain",)).get_content()
    assert "Kính gửi Ông/Bà Nguyễn Văn Hùng," in text
    assert "An toàn thông tin" in text


# Expiry reminders -------------------------------------------------------------------------

def test_a_certificate_expiring_within_30_days_is_reminded_once(db, users, courses):
    learner = users["learner"]
    [certificate] = holds(learner, courses[0], expires_on=TODAY + timedelta(days=30))
    assert queue_expiry_reminders(TODAY) == 1
    assert queue_expiry_reminders(TODAY) == 0
    assert queue_expiry_reminders(TODAY + timedelta(days=10)) == 0
    [row] = messages(db, "expiry")
    assert (row.period, row.to_address) == (certificate.serial, "hung@example.gov.vn")
    assert row.subject == ("Chứng nhận khóa học “Thiết bị số” chỉ còn hiệu lực đến hết "
                           "ngày 18 tháng 12, 2026")
    text = row.text_body
    assert "Kính gửi Ông/Bà Nguyễn Văn Hùng," in text
    assert (f"Chứng nhận số {certificate.serial} của Ông/Bà cho khóa học “Thiết bị số” có "
            "hiệu lực đến hết ngày 18 tháng 12, 2026.") in text
    assert "Từ ngày 19 tháng 12, 2026, Ông/Bà có thể gia hạn" in text
    assert "Hãy đọc lại tất cả các bài học để được cấp chứng nhận mới." in text  # no quiz
    assert "http://localhost/courses/one" in text
    assert 'href="http://localhost/courses/one"' in row.html_body
    assert "“Thiết bị số”" in row.html_body


@pytest.mark.parametrize(("days", "reminded"), [(31, False), (30, True), (0, True),
                                                 (-1, False)])
def test_only_certificates_that_still_count_and_expire_soon(db, users, courses, days,
                                                            reminded):
    holds(users["learner"], courses[0], expires_on=TODAY + timedelta(days=days))
    assert queue_expiry_reminders(TODAY) == (1 if reminded else 0)


def test_no_expiry_reminder_for_revoked_renewed_or_departed(db, users, courses, programme):
    soon = TODAY + timedelta(days=20)
    [revoked] = holds(users["learner"], courses[0], expires_on=soon)
    revoked.revoked_at = utcnow()
    [renewed] = holds(users["office_learner"], courses[0], expires_on=soon)
    renewed.renewed_at = utcnow()
    holds(users["hr"], courses[0], expires_on=soon)
    users["hr"].active = False
    holds(users["head"], courses[0])  # never expires
    issue(users["head"], kind="programme", title="x", programme=programme, expires_on=soon)
    assert queue_expiry_reminders(TODAY) == 0


def test_the_expiry_reminder_says_how_to_renew(db, users, courses):
    courses[1].quiz_slug = "two"
    learner = users["learner"]
    learner.locale = "en"
    holds(learner, courses[1], expires_on=TODAY + timedelta(days=3))
    assert queue_expiry_reminders(TODAY, dry_run=True) == 1
    assert messages(db, "expiry") == []
    queue_expiry_reminders(TODAY)
    [row] = messages(db, "expiry")
    assert row.subject == "Your certificate for Information safety is valid until " \
                          "November 21, 2026"
    assert "From November 22, 2026 you can renew it on the course page." in row.text_body
    assert "pass the quiz" in row.text_body


# The commands -----------------------------------------------------------------------------

def test_the_commands_queue_and_say_who_sends(runner, db, org, users, courses, programme):
    today = local_today()
    assign(programme, org["commune"], deadline=today + timedelta(days=3))
    holds(users["head"], courses[0], expires_on=today + timedelta(days=5))
    result = runner.invoke(args=["lms", "send-reminders", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 reminder would be queued" in result.output
    assert messages(db) == []
    result = runner.invoke(args=["lms", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert "1 reminder queued" in result.output
    assert "flask lms send-outbox" in result.output
    assert [row.to_address for row in messages(db)] == ["hung@example.gov.vn"]
    result = runner.invoke(args=["lms", "send-expiry-reminders"])
    assert result.exit_code == 0, result.output
    assert "1 reminder about expiring certificates queued" in result.output
    assert [row.to_address for row in messages(db, "expiry")] == ["head@example.gov.vn"]
