"""Signing in, throttling, one-time links, sessions that end when they must."""

import email
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.auth.models import LoginThrottle
from lms.auth.services import authenticate, make_token, read_token, set_password
from lms.org.models import utcnow
from tests.conftest import PASSWORD, make_user


def outbox_messages(app):
    folder = Path(app.instance_path) / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime) if folder.exists() \
        else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in files]


@pytest.fixture
def outbox(app):
    folder = Path(app.instance_path) / "outbox"
    for old in folder.glob("*.eml"):
        old.unlink()
    return lambda: outbox_messages(app)


def link_in(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/\S+)", text).group(1)


@pytest.mark.parametrize("login", ["hung@example.gov.vn", "HUNG@example.gov.vn", "L0001"])
def test_sign_in_with_email_or_employee_id(client, auth, users, login):
    response = auth.login(login)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/home")
    page = client.get("/home").get_data(as_text=True)
    assert "Nguyễn Văn Hùng" in page


def test_wrong_password_is_refused_and_audited(client, auth, users, db):
    response = auth.login("L0001", "wrong password")
    assert response.status_code == 401
    assert client.get("/home").status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login_failed"))
    assert event.object_id == str(users["learner"].id)
    assert event.ip == "127.0.0.1"


def test_successful_sign_in_is_audited(auth, users, db):
    auth.login("L0001")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login"))
    assert event.actor_id == users["learner"].id


def test_session_is_renewed_on_sign_in(client, auth, users):
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    auth.login("L0001")
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == users["learner"].get_id()


def test_account_locks_after_repeated_failures_even_with_the_right_password(auth, users, db):
    for _ in range(5):
        assert auth.login("L0001", "nope nope nope").status_code == 401
    response = auth.login("L0001")
    assert response.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in response.get_data(as_text=True)
    row = db.session.get(LoginThrottle, "login:l0001")
    assert row.failures == 5
    assert row.locked_until > utcnow()


def test_lock_back_off_grows_and_expires(app, users, db):
    now = utcnow()
    with app.test_request_context():
        for _ in range(5):
            authenticate("L0001", "bad", "10.0.0.9", now=now)
        row = db.session.get(LoginThrottle, "login:l0001")
        assert row.locked_until - now == timedelta(seconds=30)
        assert authenticate("L0001", PASSWORD, "10.0.0.9", now=now).locked_seconds == 31
        now += timedelta(seconds=31)
        authenticate("L0001", "bad again", "10.0.0.9", now=now)
        assert row.locked_until - now == timedelta(seconds=60)
        later = now + timedelta(seconds=61)
        assert authenticate("L0001", PASSWORD, "10.0.0.9", now=later).user == users["learner"]
        assert db.session.get(LoginThrottle, "login:l0001").failures == 0


def test_lock_is_stored_in_the_database_so_every_worker_sees_it(app, auth, users, db):
    for _ in range(5):
        auth.login("L0001", "bad")
    other_worker = app.test_client()
    assert other_worker.post("/login", data={"login": "L0001", "password": PASSWORD}) \
        .status_code == 429


def test_unknown_login_gets_the_same_answer(auth, users):
    response = auth.login("nobody@example.gov.vn")
    assert response.status_code == 401
    assert "Sai email, mã cán bộ hoặc mật khẩu" in response.get_data(as_text=True)


def test_deactivated_or_not_activated_staff_cannot_sign_in(auth, org, db):
    gone = make_user(org["office"], active=False)
    new = make_user(org["office"], activated=False)
    assert auth.login(gone.employee_id).status_code == 401
    assert auth.login(new.employee_id, "").status_code in (200, 401)


def test_open_redirect_after_login_is_refused(client, users):
    for target in ("https://evil.example", "//evil.example/x", "/\\evil.example"):
        response = client.post("/login", data={"login": "L0001", "password": PASSWORD,
                                               "next": target})
        assert response.headers["Location"].endswith("/home"), target
        client.post("/logout")


def test_next_inside_the_site_is_followed(client, users):
    response = client.post("/login", data={"login": "L0001", "password": PASSWORD,
                                           "next": "/me"})
    assert response.headers["Location"].endswith("/me")


def test_activation_link_by_email_works_once(client, as_hr, org, outbox, db):
    newcomer = make_user(org["office"], full_name="Nguyễn Thị Hồng Nhung", activated=False)
    response = as_hr.post(f"/org/staff/{newcomer.id}/send-link")
    assert response.status_code == 302
    [message] = outbox()
    assert message["To"] == newcomer.email
    assert "Nguyễn Thị Hồng Nhung" in message.get_body(("plain",)).get_content()
    path = link_in(message)
    assert path.startswith("/activate/")
    client.post("/logout")
    assert client.get(path).status_code == 200
    new_password = "mật khẩu rất dài 2026"
    response = client.post(path, data={"password": new_password, "confirm": new_password})
    assert response.status_code == 302
    assert newcomer.is_activated
    assert newcomer.activated_at is not None
    assert client.get(path).status_code == 400  # used: no longer valid
    assert client.post("/login", data={"login": newcomer.email, "password": new_password}) \
        .status_code == 302


def test_reset_link_for_unknown_email_says_the_same_and_sends_nothing(client, users, outbox):
    response = client.post("/account/link", data={"email": "ghost@example.gov.vn"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert outbox() == []


def test_reset_link_sets_a_new_password_and_ends_other_sessions(app, client, users, outbox):
    other_device = app.test_client()
    other_device.post("/login", data={"login": "L0001", "password": PASSWORD})
    assert other_device.get("/home").status_code == 200
    client.post("/account/link", data={"email": "hung@example.gov.vn"})
    [message] = outbox()
    path = link_in(message)
    assert path.startswith("/reset/")
    client.post(path, data={"password": "một mật khẩu mới", "confirm": "một mật khẩu mới"})
    assert other_device.get("/home").status_code == 302
    assert client.post("/login", data={"login": "L0001", "password": "một mật khẩu mới"}) \
        .status_code == 302


def test_tokens_are_purpose_bound_and_tamper_proof(app, users):
    with app.test_request_context():
        token = make_token(users["learner"], "reset")
        assert read_token(token, "reset") == users["learner"]
        assert read_token(token, "activate") is None
        assert read_token(token[:-2] + "xx", "reset") is None


def test_expired_token_is_refused(app, users):
    with app.test_request_context():
        token = make_token(users["learner"], "reset")
        app.config["RESET_MAX_AGE"] = -1
        try:
            assert read_token(token, "reset") is None
        finally:
            app.config["RESET_MAX_AGE"] = 3600


def test_password_change_ends_sessions_elsewhere_but_not_here(app, client, auth, users):
    other_device = app.test_client()
    other_device.post("/login", data={"login": "L0001", "password": PASSWORD})
    auth.login("L0001")
    response = client.post("/me", data={"current": PASSWORD, "password": "mật khẩu mới dài",
                                        "confirm": "mật khẩu mới dài"})
    assert response.status_code == 302
    assert client.get("/home").status_code == 200
    assert other_device.get("/home").status_code == 302


def test_password_change_needs_the_current_password(client, auth, users):
    auth.login("L0001")
    response = client.post("/me", data={"current": "wrong", "password": "mật khẩu mới dài",
                                        "confirm": "mật khẩu mới dài"})
    assert response.status_code == 200
    assert client.post("/logout").status_code == 302
    assert auth.login("L0001").status_code == 302


def test_weak_passwords_are_refused(client, auth, users):
    auth.login("L0001")
    for weak in ("short", "aaaaaaaaaaaa"):
        response = client.post("/me", data={"current": PASSWORD, "password": weak,
                                            "confirm": weak})
        assert response.status_code == 200
        assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_deactivation_ends_the_session_at_once(app, client, as_admin, users):
    learner_browser = app.test_client()
    learner_browser.post("/login", data={"login": "L0001", "password": PASSWORD})
    assert learner_browser.get("/home").status_code == 200
    as_admin.post(f"/org/staff/{users['learner'].id}/deactivate")
    assert learner_browser.get("/home").status_code == 302


def test_set_password_bumps_the_session_version(users):
    user = users["learner"]
    before = user.session_version
    set_password(user, "another long password")
    assert user.session_version == before + 1
