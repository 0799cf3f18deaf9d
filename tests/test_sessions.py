"""Session controls: idle and absolute time-outs, a fresh check before sensitive actions,
signing out everywhere, an administrator ending someone's sessions, deactivation."""

import time

import pyotp
import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.auth import twofactor
from tests.conftest import PASSWORD, _login_as

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def shift(client, **seconds_ago):
    """Move the session's recorded times into the past."""
    now = time.time()
    with client.session_transaction() as sess:
        for key, ago in seconds_ago.items():
            sess[key] = now - ago


def signed_in(client):
    return client.get("/me").status_code == 200


def events(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


class TestTimeouts:
    def test_idle_for_more_than_30_minutes_signs_out_and_comes_back(self, client, as_learner):
        shift(client, seen_at=31 * 60)
        response = client.get("/courses/?page=2")
        assert response.status_code == 302
        assert "/login?next=/courses/?page%3D2" in response.location
        page = client.get(response.location).get_data(as_text=True)
        assert "30 phút" in page  # "… sau 30 phút không hoạt động"
        assert not signed_in(client)

    def test_activity_keeps_the_session(self, client, as_learner):
        shift(client, seen_at=29 * 60, signed_in_at=5 * 3600)
        assert signed_in(client)
        with client.session_transaction() as sess:
            assert time.time() - sess["seen_at"] < 5  # refreshed
        assert signed_in(client)

    def test_twelve_hours_is_the_longest_session_even_when_active(self, client, as_learner):
        shift(client, signed_in_at=12 * 3600 + 5, seen_at=10)
        assert client.get("/home").status_code == 302
        assert not signed_in(client)

    def test_a_session_without_sign_in_times_is_refused(self, client, users):
        with client.session_transaction() as sess:
            sess["_user_id"], sess["_fresh"] = users["learner"].get_id(), True
        assert not signed_in(client)

    def test_the_limits_are_configurable(self, app, client, as_learner, monkeypatch):
        monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
        shift(client, seen_at=6 * 60)
        assert not signed_in(client)

    def test_a_post_after_the_time_out_changes_nothing(self, client, db, users, as_learner):
        shift(client, seen_at=31 * 60)
        response = client.post("/language", data={"lang": "en", "next": "/home"})
        assert response.location.startswith("/login")
        assert users["learner"].locale is None


class TestFreshCheck:
    def test_a_staff_export_asks_for_the_password_again(self, client, db, users, org,
                                                       as_admin):
        shift(client, checked_at=16 * 60)
        url = f"/reports/units/{org['province'].code}/staff.csv"
        response = client.get(url)
        assert response.status_code == 302
        assert "/account/confirm?next=" in response.location
        form = client.get(response.location).get_data(as_text=True)
        assert 'name="password"' in form
        assert client.post("/account/confirm", data={"password": "wrong", "next": url}) \
            .status_code == 401
        response = client.post("/account/confirm", data={"password": PASSWORD, "next": url})
        assert response.location == url
        assert client.get(url).status_code in (200, 404)  # past the check (404: no programme)

    def test_with_an_authenticator_the_code_is_asked(self, client, db, users, as_admin):
        admin = users["admin"]
        assert twofactor.enable(admin, SECRET, pyotp.TOTP(SECRET).at(time.time() - 30))
        shift(client, checked_at=16 * 60)
        form = client.get("/account/confirm?next=/api-tokens/new").get_data(as_text=True)
        assert 'name="code"' in form
        assert 'name="password"' not in form
        response = client.post("/account/confirm",
                               data={"code": pyotp.TOTP(SECRET).now(), "next": "/admin/audit"})
        assert response.location == "/admin/audit"

    def test_a_role_change_with_an_old_check_changes_nothing(self, client, db, users,
                                                            as_admin):
        learner = users["learner"]
        shift(client, checked_at=16 * 60)
        person = f"http://localhost/org/staff/{learner.id}"
        response = client.post(f"/org/staff/{learner.id}/role", data={"role": "hr"},
                               headers={"Referer": person})
        assert response.status_code == 302
        assert response.location.startswith("/account/confirm?next=")
        assert f"/org/staff/{learner.id}" in response.location
        assert learner.role == "learner"
        assert events(db, "role_changed") == []

    @pytest.mark.parametrize("path", ["/admin/api-tokens/new", "/certificates/1/revoke"])
    def test_other_sensitive_pages_ask_too(self, client, as_admin, path):
        shift(client, checked_at=16 * 60)
        response = client.get(path)
        assert response.status_code == 302
        assert "/account/confirm" in response.location

    def test_a_recent_sign_in_counts_as_a_check(self, client, as_admin):
        assert client.get("/admin/api-tokens/new").status_code == 200

    def test_confirm_goes_back_only_to_this_site(self, client, as_learner):
        response = client.post("/account/confirm",
                               data={"password": PASSWORD, "next": "//evil.example/x"})
        assert response.location == "/home"


class TestEndingSessions:
    def test_sign_out_everywhere_ends_every_session(self, app, client, db, users, as_learner):
        other = _login_as(app.test_client(), users["learner"])
        assert signed_in(other)
        response = client.post("/account/sign-out-everywhere")
        assert response.location.endswith("/login")
        assert not signed_in(client)
        assert not signed_in(other)
        assert [e.detail["by"] for e in events(db, "sessions_ended")] == ["self"]

    def test_an_admin_ends_a_persons_sessions(self, app, client, db, users, as_admin):
        learner = users["learner"]
        victim = _login_as(app.test_client(), learner)
        assert signed_in(victim)
        assert client.post(f"/org/staff/{learner.id}/end-sessions").status_code == 302
        assert not signed_in(victim)
        assert signed_in(client)
        [event] = events(db, "sessions_ended")
        assert event.actor_id == users["admin"].id
        assert event.object_id == str(learner.id)

    def test_deactivation_ends_the_sessions_at_once(self, app, client, db, users, as_hr):
        person = users["office_learner"]
        victim = _login_as(app.test_client(), person)
        assert signed_in(victim)
        client.post(f"/org/staff/{person.id}/deactivate")
        assert not person.active
        assert not signed_in(victim)

    def test_signing_in_starts_a_new_session(self, client, users):
        with client.session_transaction() as sess:
            sess["planted"] = "by an attacker"
            sess["mfa"] = True
        client.post("/login", data={"login": "hung@example.gov.vn", "password": PASSWORD})
        with client.session_transaction() as sess:
            assert "planted" not in sess
            assert sess["_user_id"] == users["learner"].get_id()
            assert time.time() - sess["signed_in_at"] < 5
