"""Rate limits held in the database: the counting upsert and its window, every worker's
requests counted (threads on a committed database), and the 429 of each protected route:
the public check, account-link requests, one-time link forms and the JSON API."""

import email
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms import create_app, ratelimit
from lms.api import tokens
from lms.audit.models import AuditEvent
from lms.auth.models import LoginThrottle
from lms.auth.services import make_token
from lms.certificates.services import issue
from lms.extensions import db as _db
from lms.org.models import utcnow
from lms.ratelimit import RateLimit, hit, login_key, peek, prune, rule
from tests import live
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course

live_app = live.live_app  # for TestAcrossWorkers, on a committed database of its own
T0 = datetime(2026, 11, 24, 8, 0, 0)


def hits_of(key):
    return _db.session.scalar(select(RateLimit.hits).where(RateLimit.key == key))


@pytest.fixture
def limits(app, monkeypatch):
    """Set rules for one test: limits(verify=(3, 60))."""
    def set_rules(**rules):
        for name, value in rules.items():
            monkeypatch.setitem(app.config["RATE_LIMITS"], name, value)
    return set_rules


@pytest.fixture
def english(client):
    """The anonymous visitor reads English (the new messages are checked word for word)."""
    client.post("/language", data={"lang": "en", "next": "/"})
    return client


@pytest.fixture
def outbox(app):
    """The emails written to the instance outbox (no SMTP_URL) during the test."""
    folder = Path(app.instance_path) / "outbox"
    for old in folder.glob("*.eml"):
        old.unlink()
    return lambda: [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                    for path in sorted(folder.glob("*.eml"))]


def assert_friendly_429(response, unit="seconds"):
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.mimetype == "text/html"
    assert "<h1>429 — Too many requests</h1>" in html
    assert re.search(rf"Too many requests. Try again in \d+ {unit}\.", html)
    assert "Back to the home page" in html
    assert "Traceback" not in html


# Counting ------------------------------------------------------------------------------------

def test_a_fixed_window_counts_up_to_the_limit_then_refuses_until_it_is_over(db):
    answers = [hit("k", 3, 60, now=T0 + timedelta(seconds=s)) for s in (0, 1, 2, 10.5)]
    assert [a.allowed for a in answers] == [True, True, True, False]
    assert answers[-1].retry_after == 50  # 49.5 s left, rounded up
    assert hits_of("k") == 4
    later = hit("k", 3, 60, now=T0 + timedelta(seconds=60))
    assert later.allowed  # a new window, counted from 1
    row = db.session.get(RateLimit, "k")
    db.session.refresh(row)
    assert (row.window_start, row.hits) == (T0 + timedelta(seconds=60), 1)


def test_each_key_has_its_own_window(db):
    assert not [hit("a", 1, 60, now=T0), hit("a", 1, 60, now=T0)][1].allowed
    assert hit("b", 1, 60, now=T0).allowed


def test_a_peek_counts_nothing(db):
    assert peek("p", 2, 60, now=T0).allowed
    hit("p", 2, 60, now=T0)
    assert peek("p", 2, 60, now=T0).allowed
    hit("p", 2, 60, now=T0)
    refused = peek("p", 2, 60, now=T0 + timedelta(seconds=20))
    assert (refused.allowed, refused.retry_after) == (False, 40)
    assert peek("p", 2, 60, now=T0 + timedelta(seconds=60)).allowed
    assert hits_of("p") == 2


def test_the_count_is_committed_at_once_and_changes_nothing_loaded(db, users):
    learner = users["learner"]
    db.session.commit()
    hit("c", 5, 60)
    db.session.rollback()  # the request failing afterwards does not undo its count
    assert hits_of("c") == 1
    learner.full_name = "Đã sửa"
    with pytest.raises(RuntimeError):
        hit("c", 5, 60)  # never commits someone else's change by the way


def test_prune_deletes_only_the_windows_over_for_every_rule(db):
    hit("old", 5, 60, now=T0 - timedelta(hours=2))
    hit("recent", 5, 60, now=T0 - timedelta(minutes=30))  # within the longest rule (an hour)
    prune(now=T0)
    assert hits_of("old") is None
    assert hits_of("recent") == 1


def test_hits_prune_now_and_then(db, monkeypatch):
    hit("old", 5, 60, now=T0 - timedelta(hours=2))
    monkeypatch.setattr(ratelimit, "PRUNE_ONE_IN", 1)  # this time
    hit("new", 5, 60, now=T0)
    assert hits_of("old") is None
    assert hits_of("new") == 1


def test_rules_from_the_environment_are_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LMS_RATE_LIMITS__verify", "120/30")
    monkeypatch.setenv("LMS_RATE_LIMITS__api", "[1000, 60]")
    other = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    with other.app_context():
        assert rule("verify") == (120, 30)
        assert rule("api") == (1000, 60)
        assert rule("account_link") == (10, 3600)  # the rules not named keep their defaults
    assert other.config["RATE_LIMITS_ENABLED"] is True


# The public certificate check ----------------------------------------------------------------

@pytest.fixture
def certificate(db, users):
    return issue(users["learner"], kind="course", title="Khoá học An toàn thông tin",
                 course=make_course("alpha", 1))


def test_the_check_is_served_up_to_the_limit_then_a_friendly_429(english, limits,
                                                                  certificate):
    limits(verify=(3, 60))
    assert english.get("/verify").status_code == 200
    for _ in range(2):
        assert english.get(f"/verify/{certificate.code}").status_code == 200
    response = english.get(f"/verify/{certificate.code}")
    assert_friendly_429(response)
    assert "Nguyễn Văn Hùng" not in response.get_data(as_text=True)
    assert_friendly_429(english.get("/verify"))
    other = english.get(f"/verify/{certificate.code}", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200  # counted per address


@pytest.mark.parametrize(("path", "headers"), [
    ("/verify/{code}.json", {}),
    ("/verify/{code}", {"Accept": "application/json"}),
])
def test_the_check_as_json_gets_a_json_429(client, limits, certificate, path, headers):
    limits(verify=(1, 60))
    url = path.format(code=certificate.code)
    assert client.get(url, headers=headers).get_json()["status"] == "valid"
    response = client.get(url, headers=headers)
    assert response.status_code == 429
    body = response.get_json()
    assert (body["error"], body["status"]) == ("Too Many Requests", 429)
    assert body["retry_after"] == int(response.headers["Retry-After"])


def test_a_refused_check_records_no_wrong_code(db, client, limits):
    limits(verify=(1, 60))
    assert client.get("/verify/khong-co-ma-nay").status_code == 404
    throttles = select(LoginThrottle.key, LoginThrottle.failures)
    before = db.session.execute(throttles).all()
    assert client.get("/verify/khong-co-ma-nay-nua").status_code == 429
    assert db.session.execute(throttles).all() == before


def test_limits_can_be_switched_off(db, client, limits, monkeypatch, certificate):
    limits(verify=(1, 60))
    monkeypatch.setitem(client.application.config, "RATE_LIMITS_ENABLED", False)
    for _ in range(3):
        assert client.get(f"/verify/{certificate.code}").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(RateLimit)) == 0


# Account links -------------------------------------------------------------------------------

SAME_ANSWER = "If this address belongs to an account, a link is on its way."


def test_link_requests_per_address_end_in_a_429_that_sends_nothing(english, limits, users,
                                                                  outbox):
    limits(account_link=(2, 3600))
    for address in ("hung@example.gov.vn", "mai@example.gov.vn"):
        response = english.post("/account/link", data={"email": address},
                                follow_redirects=True)
        assert SAME_ANSWER in response.get_data(as_text=True)
    response = english.post("/account/link", data={"email": "hr@example.gov.vn"})
    assert_friendly_429(response, unit="minutes")
    assert sorted(message["To"] for message in outbox()) == [
        "hung@example.gov.vn", "mai@example.gov.vn"]


def test_past_the_limit_for_one_login_the_answer_is_the_same_and_nothing_is_sent(
        db, english, limits, users, outbox):
    limits(account_link_login=(1, 3600))
    answers = [english.post("/account/link", data={"email": address}, follow_redirects=True)
               for address in ("hung@example.gov.vn", "HUNG@example.gov.vn",
                               "ghost@example.gov.vn", "ghost@example.gov.vn")]
    for response in answers:
        assert response.status_code == 200
        assert SAME_ANSWER in response.get_data(as_text=True)
    assert [message["To"] for message in outbox()] == ["hung@example.gov.vn"]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "account_link_sent")) == 1
    assert hits_of(f"account_link_login:{login_key('hung@example.gov.vn')}") == 2
    assert db.session.scalar(select(func.count()).select_from(RateLimit)
                             .where(RateLimit.key.contains("@"))) == 0  # no login stored


@pytest.mark.parametrize("purpose", ["reset", "activate"])
def test_one_time_link_forms_are_limited_per_address_and_change_nothing(
        app, db, english, limits, org, purpose):
    limits(link_form=(2, 3600))
    user = make_user(org["office"], activated=purpose == "reset")
    with app.test_request_context():
        path = f"/{purpose}/{make_token(user, purpose)}"
    for _ in range(3):
        assert english.get(path).status_code == 200  # reading the form is not counted
    for _ in range(2):
        response = english.post(path, data={"password": "một mật khẩu mới", "confirm": "khác"})
        assert response.status_code == 200  # the form with its error
    hash_before = user.password_hash
    response = english.post(path, data={"password": "một mật khẩu mới",
                                        "confirm": "một mật khẩu mới"})
    assert_friendly_429(response, unit="minutes")
    db.session.refresh(user)
    assert user.password_hash == hash_before


# The JSON API --------------------------------------------------------------------------------

@pytest.fixture
def token(db, org, users):
    return tokens.create_token(users["admin"], "Cổng dữ liệu huyện", org["district"])


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def test_a_token_is_served_up_to_its_limit_then_gets_a_json_429(db, client, limits, token):
    row, plaintext = token
    limits(api=(3, 60))
    for _ in range(3):
        assert client.get("/api/v1/units", headers=bearer(plaintext)).status_code == 200
    row.last_used_at = long_ago = utcnow() - timedelta(days=1)
    db.session.commit()
    response = client.get("/api/v1/units", headers=bearer(plaintext))
    assert response.status_code == 429
    assert response.is_json
    assert response.get_json()["status"] == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    db.session.refresh(row)
    assert row.last_used_at == long_ago  # a refused request is no use of the token
    assert hits_of(f"api:token:{row.id}") == 4


def test_wrong_tokens_from_one_address_slow_down_guessing(client, limits, token):
    _row, plaintext = token
    limits(api_bad_token=(2, 60))
    assert client.get("/api/v1/units").status_code == 401  # no token at all
    assert client.get("/api/v1/units", headers=bearer("cs_" + "A" * 43)).status_code == 401
    refused = client.get("/api/v1/units", headers=bearer("cs_" + "B" * 43))
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "Too Many Requests"
    assert "Retry-After" in refused.headers
    # Even the right token gets no answer from there until the window is over...
    assert client.get("/api/v1/units", headers=bearer(plaintext)).status_code == 429
    # ... while other addresses are served.
    elsewhere = client.get("/api/v1/units", headers=bearer(plaintext),
                           environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert elsewhere.status_code == 200


# Several workers at once (a committed database) ----------------------------------------------

class TestAcrossWorkers:
    """Threads with their own connections: on SQLite a GET counting a hit must not fail with
    "database is locked", and no count may be lost on either database."""

    @pytest.fixture(autouse=True)
    def db(self):
        """No rollback fixture: the threads commit for real."""
        return None

    def test_no_hit_is_lost(self, live_app):
        def work(barrier):
            barrier.wait()
            return [hit("race", 100, 60).allowed for _ in range(25)]

        results = live.race(live_app, 8, work)
        assert sum(sum(allowed) for allowed in results) == 100
        with live_app.app_context():
            assert hits_of("race") == 200

    def test_checks_from_one_address_at_once_are_all_counted(self, live_app, monkeypatch):
        monkeypatch.setitem(live_app.config["RATE_LIMITS"], "verify", (20, 60))

        def work(barrier):
            client = live_app.test_client()
            barrier.wait()
            return [client.get("/verify").status_code for _ in range(5)]

        statuses = [s for result in live.race(live_app, 8, work) for s in result]
        assert sorted(statuses) == [200] * 20 + [429] * 20
        with live_app.app_context():
            assert hits_of("verify:127.0.0.1") == 40

    def test_link_requests_at_once_are_all_served(self, live_app, monkeypatch):
        monkeypatch.setitem(live_app.config, "WTF_CSRF_ENABLED", False)
        with live_app.app_context():
            unit = make_unit("P", "Tỉnh Thanh Hóa")
            addresses = iter([make_user(unit, email=f"dong{n}@example.gov.vn").email
                              for n in range(8)])
            _db.session.commit()

        def work(barrier):
            address = next(addresses)
            client = live_app.test_client()
            barrier.wait()
            return client.post("/account/link", data={"email": address}).status_code

        assert live.race(live_app, 8, work) == [302] * 8
        with live_app.app_context():
            assert hits_of("account_link:127.0.0.1") == 8
            assert _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "account_link_sent")) == 8
