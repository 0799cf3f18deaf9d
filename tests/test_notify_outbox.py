"""The outbox against a real SMTP server on 127.0.0.1: every email queued once, sent once,
kept when the server is down or refuses it, recovered after a crash."""

import email
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.notify import outbox
from lms.notify.models import OutboxMessage
from lms.org.models import utcnow
from tests.conftest import make_user


@pytest.fixture
def people(db, org):
    names = ["Nguyễn Thị Hồng Nhung", "Trần Văn Bình", "Lê Thị Thu Hà"]
    return [make_user(org["commune"], full_name=name, email=f"p{i}@example.gov.vn")
            for i, name in enumerate(names)]


def queue(people, kind="reminder", period="2026-W48"):
    for person in people:
        outbox.enqueue(kind, period, person, f"Nhắc việc cho {person.full_name}",
                       f"Chào {person.full_name},\nHạn chót: 30/11/2026.",
                       f"<p>Chào <b>{person.full_name}</b></p>")


def statuses(db):
    return dict(db.session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all())


@pytest.fixture
def smtp_url(app, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    return smtp


def test_a_message_is_queued_once_per_kind_period_and_recipient(db, people):
    queue(people)
    queue(people)  # a second run of the job
    assert outbox.enqueue("reminder", "2026-W48", people[0], "x", "y") is False
    assert outbox.enqueue("reminder", "2026-W49", people[0], "x", "y") is True
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 4
    assert outbox.queued("reminder", "2026-W48") == {p.id for p in people}


def test_queued_messages_arrive_once_with_vietnamese_text(db, people, smtp_url):
    queue(people)
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.failed, result.retried) == (3, 0, 0)
    assert outbox.send_due().handled == 0  # nothing left: nothing sent twice
    inbox = smtp_url.inbox
    assert len(inbox.messages) == 3
    [message] = inbox.to("p0@example.gov.vn")
    assert message["Subject"] == "Nhắc việc cho Nguyễn Thị Hồng Nhung"
    assert "Chào Nguyễn Thị Hồng Nhung," in message.get_body(("plain",)).get_content()
    assert "<b>Nguyễn Thị Hồng Nhung</b>" in message.get_body(("html",)).get_content()
    row = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.to_address == "p0@example.gov.vn"))
    assert message["Message-ID"] == outbox.message_id(row)
    assert message["Auto-Submitted"] == "auto-generated"
    assert row.status == "sent"
    assert row.sent_at is not None


def test_with_the_server_down_messages_wait_and_all_go_out_once_it_is_back(db, people,
                                                                          smtp_url):
    queue(people)
    db.session.commit()
    smtp_url.stop()
    result = outbox.send_due()
    assert (result.sent, result.retried) == (0, 3)
    assert set(statuses(db).values()) == {"pending"}
    row = db.session.scalar(select(OutboxMessage).limit(1))
    assert row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at > utcnow()  # backs off
    assert outbox.send_due().handled == 0  # not due yet
    smtp_url.start()
    result = outbox.send_due(now=utcnow() + timedelta(minutes=5))
    assert result.sent == 3
    assert set(statuses(db).values()) == {"sent"}
    assert len(smtp_url.inbox.messages) == 3


def test_a_refused_recipient_fails_and_the_others_are_sent(db, people, smtp_url):
    smtp_url.inbox.refuse.add("p1@example.gov.vn")
    smtp_url.inbox.defer.add("p2@example.gov.vn")
    queue(people)
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.failed, result.retried) == (1, 1, 1)
    assert statuses(db) == {"p0@example.gov.vn": "sent", "p1@example.gov.vn": "failed",
                            "p2@example.gov.vn": "pending"}
    failed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
    assert "550" in failed.last_error
    assert "No such user" in failed.last_error
    smtp_url.inbox.defer.clear()
    assert outbox.send_due(now=utcnow() + timedelta(minutes=5)).sent == 1
    assert len(smtp_url.inbox.messages) == 2


def test_transient_failures_back_off_then_give_up_but_keep_the_row(db, people, smtp_url):
    smtp_url.inbox.defer.add("p0@example.gov.vn")
    queue(people[:1])
    db.session.commit()
    later = utcnow()
    for _ in range(outbox.MAX_ATTEMPTS):
        later += timedelta(hours=5)
        outbox.send_due(now=later)
    row = db.session.scalar(select(OutboxMessage))
    assert row.status == "failed"
    assert row.last_error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts")
    assert [outbox.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 9, 20)] == \
        [1, 2, 4, 240, 240]


def test_a_crash_between_claiming_and_sending_is_recovered(db, people, smtp_url):
    queue(people)
    db.session.commit()
    claimed = outbox.claim()  # ... and the sender dies here
    db.session.commit()
    assert {row.status for row in claimed} == {"sending"}
    assert outbox.send_due().handled == 0  # another sender leaves them during the lease
    result = outbox.send_due(now=utcnow() + outbox.LEASE + timedelta(seconds=1))
    assert result.sent == 3
    assert len(smtp_url.inbox.messages) == 3


def test_a_deactivated_recipient_is_cancelled_not_sent(db, people, smtp_url):
    queue(people)
    people[0].active = False
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.cancelled) == (2, 1)
    assert statuses(db)["p0@example.gov.vn"] == "cancelled"
    assert not smtp_url.inbox.to("p0@example.gov.vn")


def test_a_digest_goes_only_to_the_current_head_of_its_unit(db, org, users, smtp_url):
    head = users["head"]
    outbox.enqueue("digest", "2026-W48", head, "Báo cáo tuần", "...", unit=org["district"])
    outbox.enqueue("digest", "2026-W49", head, "Báo cáo tuần", "...", unit=org["district"])
    db.session.commit()
    head.role = "learner"  # replaced before Monday
    db.session.commit()
    assert outbox.send_due().cancelled == 2
    head.role = "head"
    db.session.commit()
    week49 = db.session.scalar(select(OutboxMessage).where(OutboxMessage.period == "2026-W49"))
    outbox.resend(users["admin"], week49)
    db.session.commit()
    assert outbox.send_due().sent == 1


def test_without_smtp_messages_become_eml_files_once(app, db, people, tmp_path,
                                                     monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    queue(people)
    db.session.commit()
    assert outbox.send_due().sent == 3
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Nhắc việc cho Nguyễn Thị Hồng Nhung"
    # A message sent again replaces its own file rather than adding one.
    row = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id).limit(1))
    row.status = "failed"
    outbox.resend(None, row)
    db.session.commit()
    assert outbox.send_due().sent == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_the_send_outbox_command_sends_everything_due(db, people, smtp_url, runner):
    queue(people)
    db.session.commit()
    result = runner.invoke(args=["lms", "send-outbox", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "3 sent, 0 to retry later, 0 failed, 0 cancelled" in result.output
    assert len(smtp_url.inbox.messages) == 3


# The admin page ---------------------------------------------------------------------------

def test_the_admin_sees_the_outbox_and_resends_a_failed_message(client, db, users, people,
                                                               smtp_url, login_as):
    smtp_url.inbox.refuse.add("p1@example.gov.vn")
    queue(people)
    db.session.commit()
    outbox.send_due()
    login_as(users["admin"])
    html = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "p1@example.gov.vn" in html
    assert "p0@example.gov.vn" not in html
    assert "550" in html
    assert "Gửi lại" in html
    assert 'id="count-sent">2<' in html
    failed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
    page = client.get(f"/admin/outbox/{failed.id}").get_data(as_text=True)
    assert "Chào Trần Văn Bình," in page
    smtp_url.inbox.refuse.clear()
    response = client.post(f"/admin/outbox/{failed.id}/resend")
    assert response.status_code == 302
    db.session.refresh(failed)
    assert failed.status == "pending"
    assert failed.attempts == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "email_resent"))
    assert event.actor_id == users["admin"].id
    assert event.detail["to"] == "p1@example.gov.vn"
    assert outbox.send_due().sent == 1
    assert len(smtp_url.inbox.to("p1@example.gov.vn")) == 1
    sent = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.to_address == "p0@example.gov.vn"))
    client.post(f"/admin/outbox/{sent.id}/resend")  # a sent message is not sent again
    db.session.refresh(sent)
    assert sent.status == "sent"


def test_only_admins_resend(client, db, users, people, login_as):
    queue(people[:1])
    db.session.commit()
    row = db.session.scalar(select(OutboxMessage))
    login_as(users["hr"])
    assert client.post(f"/admin/outbox/{row.id}/resend").status_code == 403


def test_a_message_that_cannot_be_built_fails_alone(db, people, smtp_url):
    """A line break in a stored address (never accepted by the forms or imports) would
    inject a header: that message fails for good, the others still go out."""
    queue(people)
    db.session.commit()
    broken = db.session.scalar(select(OutboxMessage)
                               .where(OutboxMessage.to_address == "p1@example.gov.vn"))
    broken.to_address = "p1@example.gov.vn\r\nBcc: spy@evil.example"
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.failed) == (2, 1)
    assert broken.status == "failed"
    assert "cannot be built" in broken.last_error
    assert len(smtp_url.inbox.messages) == 2
    assert not any("spy@evil.example" in str(message) for message in smtp_url.inbox.messages)
    assert outbox.send_due().handled == 0  # not claimed again
