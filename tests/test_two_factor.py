"""Two-factor sign-in: required for admin, HR and heads, optional for learners; TOTP codes
work once, recovery codes once each; set-up, recovery and an administrator's reset are
audit-logged."""

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.auth import twofactor
from lms.auth.models import LoginThrottle, RecoveryCode
from tests.conftest import PASSWORD

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enrol(db, user, secret=SECRET):
    """Give the user a working authenticator (the current step counts as used)."""
    assert twofactor.enable(user, secret, pyotp.TOTP(secret).now())
    codes = twofactor.new_recovery_codes(user)
    db.session.flush()
    return codes


def code_after(secret=SECRET, steps=1):
    """The code of a later time step (still accepted: one step either side is allowed)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def events(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def signed_in(client):
    return client.get("/me").status_code == 200


class TestPrivilegedRolesMustSetUp:
    def test_password_alone_leads_to_the_set_up_page_and_nowhere_else(self, client, users):
        response = client.post("/login", data={"login": "hr@example.gov.vn",
                                               "password": PASSWORD})
        assert response.status_code == 302
        for path in ("/home", "/org/", "/reports/", "/me"):
            response = client.get(path)
            assert response.status_code == 302
            assert response.location.endswith("/account/two-factor/setup")

    def test_set_up_with_the_right_code_shows_recovery_codes_once(self, client, db, users):
        hr = users["hr"]
        client.post("/login", data={"login": hr.email, "password": PASSWORD})
        page = client.get("/account/two-factor/setup").get_data(as_text=True)
        assert "<svg" in page  # the QR code, drawn inline
        with client.session_transaction() as sess:
            secret = sess["totp_setup"]
        assert " ".join(secret[i:i + 4] for i in range(0, 32, 4)) in page

        wrong = client.post("/account/two-factor/setup", data={"code": "000000"})
        assert wrong.status_code == 400
        assert hr.totp_secret is None

        shown = client.post("/account/two-factor/setup",
                            data={"code": pyotp.TOTP(secret).now()})
        codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.get_data(as_text=True))
        assert len(codes) == 10
        assert len(set(codes)) == 10
        assert hr.totp_secret == secret
        assert hr.has_two_factor
        stored = db.session.scalars(select(RecoveryCode.code_hash)
                                    .where(RecoveryCode.user_id == hr.id)).all()
        assert len(stored) == 10
        assert not set(codes) & set(stored)  # only hashes are kept
        assert client.get("/home").status_code == 200
        assert [e.actor_id for e in events(db, "two_factor_enabled")] == [hr.id]

    def test_a_learner_signs_in_with_the_password_alone(self, client, users):
        response = client.post("/login", data={"login": "hung@example.gov.vn",
                                               "password": PASSWORD})
        assert response.location.endswith("/home")
        assert client.get("/home").status_code == 200

    def test_the_roles_that_need_it_are_configurable(self, app, client, users, monkeypatch):
        monkeypatch.setitem(app.config, "TWO_FACTOR_ROLES", ("admin",))
        client.post("/login", data={"login": "head@example.gov.vn", "password": PASSWORD})
        assert client.get("/home").status_code == 200


class TestSecondStep:
    def test_password_then_code_signs_in_and_is_audited(self, client, db, users):
        head = users["head"]
        enrol(db, head)
        response = client.post("/login?next=/reports/",
                               data={"login": head.email, "password": PASSWORD,
                                     "next": "/reports/"})
        assert response.location.endswith("/login/code")
        assert not signed_in(client)  # the password alone signs nobody in
        response = client.post("/login/code", data={"code": code_after()})
        assert response.status_code == 302
        assert response.location.endswith("/reports/")
        assert signed_in(client)
        login = events(db, "login")[-1]
        assert login.actor_id == head.id
        assert login.detail["second_factor"] == "totp"

    def test_a_code_works_once(self, app, client, db, users):
        head = users["head"]
        enrol(db, head)
        code = code_after()
        client.post("/login", data={"login": head.email, "password": PASSWORD})
        assert client.post("/login/code", data={"code": code}).status_code == 302
        other = app.test_client()
        other.post("/login", data={"login": head.email, "password": PASSWORD})
        replay = other.post("/login/code", data={"code": code})
        assert replay.status_code == 401
        assert "not right, or was already used" in replay.get_data(as_text=True) \
            or "đã được dùng" in replay.get_data(as_text=True)
        assert not signed_in(other)

    def test_a_recovery_code_works_once(self, app, client, db, users):
        head = users["head"]
        codes = enrol(db, head)
        client.post("/login", data={"login": head.email, "password": PASSWORD})
        response = client.post("/login/code", data={"code": codes[3].upper()},
                               follow_redirects=True)
        assert signed_in(client)
        assert "9" in response.get_data(as_text=True)  # "… 9 are left"
        assert events(db, "login")[-1].detail["second_factor"] == "recovery"
        assert twofactor.recovery_codes_left(head) == 9
        other = app.test_client()
        other.post("/login", data={"login": head.email, "password": PASSWORD})
        assert other.post("/login/code", data={"code": codes[3]}).status_code == 401
        assert not signed_in(other)

    def test_wrong_codes_lock_the_second_step_out(self, client, db, users):
        head = users["head"]
        enrol(db, head)
        client.post("/login", data={"login": head.email, "password": PASSWORD})
        statuses = [client.post("/login/code", data={"code": "123456"}).status_code
                    for _ in range(6)]
        assert statuses[:5] == [401] * 5
        assert statuses[5] == 429
        # Locked: even the right code waits.
        assert client.post("/login/code", data={"code": code_after()}).status_code == 429
        row = db.session.get(LoginThrottle, f"code:{head.id}")
        assert row.failures == 5
        assert row.locked_until is not None
        assert len(events(db, "login_failed")) == 5

    def test_the_second_step_expires(self, client, db, users, monkeypatch):
        head = users["head"]
        enrol(db, head)
        client.post("/login", data={"login": head.email, "password": PASSWORD})
        with client.session_transaction() as sess:
            sess["pending"] = dict(sess["pending"], at=time.time() - 301)
        response = client.post("/login/code", data={"code": code_after()})
        assert response.location.endswith("/login")
        assert not signed_in(client)

    def test_no_second_step_without_the_password(self, client, db, users):
        enrol(db, users["head"])
        response = client.post("/login/code", data={"code": code_after()})
        assert response.location.endswith("/login")
        assert not signed_in(client)


class TestLearnerChoice:
    def test_a_learner_may_turn_it_on_and_off(self, client, db, users, as_learner):
        learner = users["learner"]
        client.get("/account/two-factor/setup")
        with client.session_transaction() as sess:
            secret = sess["totp_setup"]
        client.post("/account/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
        assert learner.has_two_factor
        assert "10" in client.get("/account/security").get_data(as_text=True)
        response = client.post("/account/two-factor/off")
        assert response.status_code == 302
        assert not learner.has_two_factor
        assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
        assert len(events(db, "two_factor_disabled")) == 1

    def test_a_head_may_not_turn_it_off(self, client, db, users, as_head):
        enrol(db, users["head"])
        client.post("/account/two-factor/off")
        assert users["head"].has_two_factor

    def test_new_recovery_codes_replace_the_old_ones(self, client, db, users, as_head):
        old = enrol(db, users["head"])
        page = client.post("/account/two-factor/recovery-codes").get_data(as_text=True)
        new = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", page)
        assert len(new) == 10
        assert not set(new) & set(old)
        assert not twofactor.use_recovery_code(users["head"], old[0])
        assert twofactor.use_recovery_code(users["head"], new[0])
        assert len(events(db, "recovery_codes_generated")) == 1


class TestAdministratorReset:
    def test_admin_resets_a_lost_phone_and_ends_the_sessions(self, app, client, db, users,
                                                            as_admin):
        head = users["head"]
        enrol(db, head)
        victim = app.test_client()
        from tests.conftest import _login_as
        _login_as(victim, head)
        assert signed_in(victim)
        page = client.get(f"/org/staff/{head.id}").get_data(as_text=True)
        assert f"/org/staff/{head.id}/reset-two-factor" in page
        response = client.post(f"/org/staff/{head.id}/reset-two-factor")
        assert response.status_code == 302
        assert not head.has_two_factor
        assert head.totp_secret is None
        assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
        assert not signed_in(victim)
        reset = events(db, "two_factor_reset")
        assert [(e.actor_id, e.object_id) for e in reset] == [(users["admin"].id, str(head.id))]

    def test_hr_may_not_reset_or_end_sessions(self, client, db, users, as_hr):
        learner = users["office_learner"]
        assert client.post(f"/org/staff/{learner.id}/end-sessions").status_code == 403
        assert client.post(f"/org/staff/{learner.id}/reset-two-factor").status_code == 403
        assert events(db, "sessions_ended") == []


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x", "9" * 40])
def test_malformed_codes_are_refused(db, users, code):
    enrol(db, users["head"])
    assert not twofactor.check_code(users["head"], code)
