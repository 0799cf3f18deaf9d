"""Bulk activation links for staff who have not activated their account."""

from datetime import timedelta

from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.org.models import utcnow
from tests.conftest import make_user
from tests.test_auth import outbox_messages


def _clear_outbox(app):
    from pathlib import Path

    for old in (Path(app.instance_path) / "outbox").glob("*.eml"):
        old.unlink()


def test_hr_invites_everyone_pending_in_the_subtree_once(app, as_hr, org, users, db):
    _clear_outbox(app)
    new1 = make_user(org["office"], full_name="Đặng Thị Thu Trang", activated=False)
    new2 = make_user(org["dept"], activated=False)
    make_user(org["commune"], activated=False)  # outside the HR officer's subtree
    make_user(org["office"], activated=False, active=False)  # has left
    page = as_hr.get("/org/units/P.STTTT").get_data(as_text=True)
    assert "2 người thuộc đơn vị này và các đơn vị trực thuộc chưa kích hoạt" in page
    response = as_hr.post("/org/units/P.STTTT/invite", follow_redirects=True)
    assert response.status_code == 200
    sent = {m["To"] for m in outbox_messages(app)}
    assert sent == {new1.email, new2.email}
    assert new1.invited_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitations_sent"))
    assert event.detail["count"] == 2
    # A second click the same day sends nothing more.
    as_hr.post("/org/units/P.STTTT/invite")
    assert len(outbox_messages(app)) == 2


def test_invitation_is_repeated_after_a_day(app, as_hr, org, db):
    _clear_outbox(app)
    late = make_user(org["office"], activated=False)
    late.invited_at = utcnow() - timedelta(days=2)
    db.session.flush()
    as_hr.post("/org/units/P.STTTT/invite")
    assert [m["To"] for m in outbox_messages(app)] == [late.email]


def test_head_and_out_of_scope_hr_cannot_invite(as_head, org, users, login_as, client):
    assert as_head.post("/org/units/P.H1/invite").status_code == 403
    login_as(users["hr"])
    assert client.post("/org/units/P.H1/invite").status_code == 404


def test_cli_send_invites(app, runner, org, db):
    _clear_outbox(app)
    pending = make_user(org["commune"], full_name="Nguyễn Thị Hồng Nhung", activated=False)
    result = runner.invoke(args=["lms", "send-invites", "--unit", "P.H1", "--dry-run"])
    assert "1 people would be invited" in result.output
    assert outbox_messages(app) == []
    result = runner.invoke(args=["lms", "send-invites", "--unit", "P.H1"])
    assert result.exit_code == 0, result.output
    [message] = outbox_messages(app)
    assert message["To"] == pending.email
    assert "Nguyễn Thị Hồng Nhung" in message.get_body(("plain",)).get_content()
    assert runner.invoke(args=["lms", "send-invites", "--unit", "NOPE"]).exit_code == 2
