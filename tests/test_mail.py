"""Email leaves through a real SMTP server (aiosmtpd on 127.0.0.1) or the .eml outbox."""

import email
from email import policy
from pathlib import Path

import pytest

from lms.notify.services import send_email


@pytest.fixture
def smtp_server(smtp):
    return smtp.controller, smtp.inbox


@pytest.mark.parametrize("credentials", ["", "mailer:s3cret@"])
def test_message_with_vietnamese_text_arrives_over_smtp(app, smtp_server, credentials):
    controller, inbox = smtp_server
    app.config["SMTP_URL"] = f"smtp://{credentials}127.0.0.1:{controller.port}"
    try:
        with app.test_request_context():
            send_email("nhung@example.gov.vn", "Kích hoạt tài khoản",
                       "Chào chị Nguyễn Thị Hồng Nhung,", "<p>Chào chị <b>Nhung</b></p>")
    finally:
        app.config["SMTP_URL"] = None
    [(sender, recipients, message)] = inbox.messages
    assert recipients == ["nhung@example.gov.vn"]
    assert message["Subject"] == "Kích hoạt tài khoản"
    assert message.get_body(("plain",)).get_content().strip() == \
        "Chào chị Nguyễn Thị Hồng Nhung,"
    assert "<b>Nhung</b>" in message.get_body(("html",)).get_content()
    assert message["Message-ID"]


def test_unsupported_smtp_scheme_is_a_clear_error(app):
    app.config["SMTP_URL"] = "imap://127.0.0.1:1"
    try:
        with app.test_request_context(), pytest.raises(ValueError, match="unsupported scheme"):
            send_email("a@example.gov.vn", "x", "y")
    finally:
        app.config["SMTP_URL"] = None


def test_without_smtp_messages_are_written_to_the_outbox(app):
    with app.test_request_context():
        message_id = send_email("an@example.gov.vn", "Đặt lại mật khẩu", "Nội dung")
    files = list((Path(app.instance_path) / "outbox").glob("*.eml"))
    found = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    [message] = [m for m in found if m["Message-ID"] == message_id]
    assert message["Subject"] == "Đặt lại mật khẩu"


def test_a_sender_name_with_diacritics_survives(app, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    monkeypatch.setitem(app.config, "MAIL_FROM",
                        "Sở Thông tin và Truyền thông <no-reply@stttt.gov.vn>")
    with app.test_request_context():
        send_email("lan@example.gov.vn", "Chào chị Lan", "Nội dung", "<p>Nội dung</p>")
    [(sender, _rcpt, message)] = smtp.inbox.messages
    assert sender == "no-reply@stttt.gov.vn"
    assert message["From"].addresses[0].display_name == "Sở Thông tin và Truyền thông"
    assert message.get_body(("html",)).get_content().strip() == "<p>Nội dung</p>"
