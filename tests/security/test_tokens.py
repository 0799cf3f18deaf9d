"""Attacks on sessions and secrets that must fail: session fixation and replayed cookies, and
guessing, forging or reusing one-time links, API tokens, certificate codes and import
tickets."""

import base64
import email
import io
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash

from lms.api import tokens
from lms.auth import sessions
from lms.auth.models import User
from lms.auth.services import make_token, read_token
from lms.certificates.services import issue, new_code
from lms.extensions import db
from tests.conftest import PASSWORD, make_user
from tests.course_factories import make_course
from tests.security.world import (
    changed_tables,
    quick_password,
    session_cookie,
    sign_in,
    snapshot,
)

NEW_PASSWORD = "một câu mật khẩu mới"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ROSTER = ("employee_id,full_name,email,unit_code,category,role\n"
          "N1,Đỗ Văn Nam,nam@example.gov.vn,P.STTTT.VP,cadre,\n")


@pytest.fixture
def learner(users):
    quick_password(users["learner"])
    return users["learner"]


def replay(app, cookie):
    """A new browser holding only a copy of `cookie`: where /home takes it."""
    browser = app.test_client()
    browser.set_cookie("session", cookie, domain="localhost")
    response = browser.get("/home")
    return "home" if response.status_code == 200 else response.headers["Location"]


def signed_in_copy(app, login="L0001"):
    """Sign in on a new browser through the form; (browser, a copy of its cookie)."""
    browser = app.test_client()
    assert sign_in(browser, login).status_code == 302
    return browser, session_cookie(browser)


def flipped(text, position):
    """`text` with the character at `position` changed in its most significant bit (a base64
    character whose low bits are padding would otherwise decode to the same bytes)."""
    changed = B64[B64.index(text[position]) ^ 32]
    return text[:position] + changed + text[position + 1:]


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()) \
        .decode().rstrip("=")


class TestSessionFixation:
    """A session cookie from before sign-in, or a copy of one, never signs anyone in."""

    def test_a_cookie_from_before_sign_in_is_replaced(self, app, client, learner):
        client.post("/language", data={"lang": "en"})
        with client.session_transaction() as sess:  # what an attacker planted
            sess["_user_id"] = f"{learner.id}.0"
            sess["_fresh"] = True
            sess["planted"] = "by an attacker"
        planted = session_cookie(client)
        assert sign_in(client, "L0001").status_code == 302
        with client.session_transaction() as sess:
            assert sess["_user_id"] == learner.get_id()
            assert "planted" not in sess
        db.session.refresh(learner)
        assert learner.locale == "en"  # the language chosen before signing in is kept
        assert session_cookie(client) != planted
        assert replay(app, planted).startswith("/login")
        assert client.get("/home").status_code == 200

    def test_a_cookie_signed_with_another_key_is_worthless(self, app, users):
        elsewhere = Flask("attacker")
        elsewhere.secret_key = "guessed-secret"
        serializer = elsewhere.session_interface.get_signing_serializer(elsewhere)
        now = time.time()
        forged = serializer.dumps({"_user_id": users["admin"].get_id(), "_fresh": True,
                                   "signed_in_at": now, "seen_at": now, "checked_at": now,
                                   "mfa": True})
        assert replay(app, forged).startswith("/login")

    def test_a_copied_cookie_outlives_a_plain_sign_out_until_the_idle_limit(
            self, app, learner, monkeypatch):
        # Flask keeps the session in the signed cookie: signing out clears this browser's
        # copy, but a copy taken before still passes until its idle or absolute limit
        # ("sign out everywhere" ends it at once, see below).
        browser, copy = signed_in_copy(app)
        browser.post("/logout")
        assert browser.get("/home").status_code == 302
        assert replay(app, copy) == "home"
        later = time.time() + (app.config["SESSION_IDLE_MINUTES"] + 1) * 60
        monkeypatch.setattr(sessions, "time", SimpleNamespace(time=lambda: later))
        assert replay(app, copy).startswith("/login")

    def test_signing_out_everywhere_ends_every_copy(self, app, learner):
        browser, copy = signed_in_copy(app)
        response = browser.post("/account/sign-out-everywhere")
        assert response.headers["Location"].startswith("/login")
        assert replay(app, copy).startswith("/login")
        assert browser.get("/home").status_code == 302

    def test_a_password_change_ends_the_other_copies_but_not_this_browser(self, app, learner):
        _elsewhere, copy = signed_in_copy(app)
        browser, _mine = signed_in_copy(app)
        response = browser.post("/me", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                             "confirm": NEW_PASSWORD})
        assert response.status_code == 302
        assert replay(app, copy).startswith("/login")
        assert browser.get("/home").status_code == 200

    @pytest.mark.parametrize("action", ["role", "deactivate"])
    def test_a_role_change_or_deactivation_ends_every_copy(self, app, as_admin, learner,
                                                          action):
        _browser, copy = signed_in_copy(app)
        data = {"role": "head"} if action == "role" else {}
        assert as_admin.post(f"/org/staff/{learner.id}/{action}", data=data).status_code == 302
        assert replay(app, copy).startswith("/login")


class TestAccountLinks:
    """Activation and reset links are signed, bound to one person and purpose, single-use,
    and expire; no character of one can be changed."""

    def test_a_link_works_once(self, client, learner):
        path = f"/reset/{make_token(learner, 'reset')}"
        assert client.get(path).status_code == 200
        form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        assert client.post(path, data=form).status_code == 302
        assert client.get(path).status_code == 400
        again = client.post(path, data={"password": "mật khẩu của kẻ gian",
                                         "confirm": "mật khẩu của kẻ gian"})
        assert again.status_code == 400
        assert 'name="password"' not in again.get_data(as_text=True)
        assert check_password_hash(learner.password_hash, NEW_PASSWORD)

    def test_a_link_expires(self, app, client, learner, monkeypatch):
        made_at = int(time.time()) - app.config["RESET_MAX_AGE"] - 5
        with monkeypatch.context() as patch:
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
            token = make_token(learner, "reset")
        before = learner.password_hash
        assert client.get(f"/reset/{token}").status_code == 400
        assert client.post(f"/reset/{token}", data={
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 400
        assert learner.password_hash == before

    def test_a_link_names_only_its_person_and_cannot_be_pointed_at_another(
            self, app, client, users, learner):
        token = make_token(learner, "reset")
        # The payload may be compressed ("." then zlib): read it as the app does.
        _payload, stamp, signature = token.rsplit(".", 2)
        data = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="lms.reset").loads(token)
        assert set(data) == {"u", "f"}  # an id and a fingerprint: no hash, no email
        assert learner.password_hash not in json.dumps(data)
        other = {"u": users["admin"].id, "f": data["f"]}
        for forged in (f"{b64(other)}.{stamp}.{signature}",
                       URLSafeTimedSerializer("test-secret-guess", salt="lms.reset")
                       .dumps(other),
                       URLSafeTimedSerializer("", salt="lms.reset").dumps(other)):
            assert client.get(f"/reset/{forged}").status_code == 400

    def test_no_character_of_a_link_can_be_changed(self, learner, users):
        token = make_token(learner, "reset")
        assert read_token(token, "reset") == learner
        for position, character in enumerate(token):
            if character != ".":
                assert read_token(flipped(token, position), "reset") is None, position
        assert make_token(users["head"], "reset") != token

    def test_a_link_is_for_one_purpose_and_dies_with_the_account(self, client, org, learner):
        newcomer = make_user(org["office"], activated=False)
        activation = make_token(newcomer, "activate")
        assert client.get(f"/reset/{activation}").status_code == 400
        assert client.get(f"/activate/{make_token(learner, 'reset')}").status_code == 400
        assert client.get(f"/activate/{activation}").status_code == 200
        newcomer.active = False
        db.session.flush()
        assert client.get(f"/activate/{activation}").status_code == 400

    def test_the_emailed_link_points_at_our_address_whatever_the_request_says(
            self, app, client, learner):
        folder = Path(app.instance_path) / "outbox"
        seen = set(folder.glob("*.eml")) if folder.exists() else set()
        response = client.post("/account/link", data={"email": learner.email}, headers={
            "Host": "evil.example", "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https"})
        assert response.status_code == 302
        [new] = set(folder.glob("*.eml")) - seen
        message = email.message_from_bytes(new.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        links = re.findall(r"\w+://[^\s\"<>]+", text)
        assert links
        assert all(link.startswith("http://localhost/reset/") for link in links), links
        assert "evil.example" not in new.read_text(errors="replace")
        assert PASSWORD not in text


class TestApiTokens:
    """API tokens carry far more than 128 random bits, and only their hash is kept."""

    def test_tokens_are_long_random_and_stored_as_a_hash(self, db, org, users):
        issued = [tokens.create_token(users["admin"], f"Kho {n}", org["province"])
                  for n in range(20)]
        plaintexts = [plaintext for _token, plaintext in issued]
        assert len(set(plaintexts)) == 20
        for plaintext in plaintexts:
            assert re.fullmatch(r"cs_[A-Za-z0-9_-]{43}", plaintext)  # 258 random bits
        secrets_ = [plaintext[3:] for plaintext in plaintexts]
        assert max(len(_common_prefix(a, b)) for a in secrets_ for b in secrets_
                   if a != b) <= 3
        stored = snapshot()
        for token, plaintext in issued:
            assert token.token_hash == tokens.hash_token(plaintext)
            assert not any(plaintext[8:] in row for rows in stored.values() for row in rows)

    def test_a_token_with_one_changed_character_is_refused(self, client, org, users):
        _token, plaintext = tokens.create_token(users["admin"], "Kho", org["district"])
        assert client.get("/api/v1/units", headers={
            "Authorization": f"Bearer {plaintext}"}).status_code == 200
        for position in (3, 10, 25, len(plaintext) - 1):
            response = client.get("/api/v1/units", headers={
                "Authorization": f"Bearer {flipped(plaintext, position)}"})
            assert response.status_code in (401, 429), position
            assert "items" not in response.get_json()


def _common_prefix(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


class TestCertificateCodes:
    """Verification codes are random: consecutive certificates share nothing, and a code
    with one character changed finds nothing."""

    def test_consecutive_codes_are_unrelated(self, users):
        certificates = [issue(users["learner"], kind="course", title=f"Khoá {n}",
                              course=make_course(f"c{n}", 1)) for n in range(4)]
        codes = [certificate.code for certificate in certificates]
        assert len(set(codes)) == 4
        for certificate in certificates:
            raw = base64.urlsafe_b64decode(certificate.code + "=" * (-len(certificate.code) % 4))
            assert len(raw) >= 16  # at least 128 random bits
            assert certificate.serial.split("-")[1] not in certificate.code
        for a, b in zip(codes, codes[1:], strict=False):
            assert len(_common_prefix(a, b)) <= 3
            number_a, number_b = (int.from_bytes(base64.urlsafe_b64decode(c + "==")[:8], "big")
                                  for c in (a, b))
            assert abs(number_a - number_b) > 2**32
        many = {new_code() for _ in range(500)}
        assert len(many) == 500

    def test_a_changed_code_or_the_serial_finds_nothing(self, client, users):
        certificate = issue(users["learner"], kind="course", title="Khoá học",
                            course=make_course("alpha", 1))
        assert client.get(f"/verify/{certificate.code}.json").get_json()["status"] == "valid"
        for guess in (flipped(certificate.code, 0), flipped(certificate.code, 12),
                      certificate.code[:-1], certificate.serial, str(certificate.id)):
            response = client.get(f"/verify/{guess}.json")
            assert response.status_code == 404, guess
            assert response.get_json() == {"status": "unknown"}


class TestImportTickets:
    """The ticket that names a previewed upload is signed, expires and is bound to whoever
    previewed it: it cannot be altered, forged or passed on."""

    def preview(self, client):
        page = client.post("/org/import", data={
            "kind": "staff", "file": (io.BytesIO(ROSTER.encode()), "roster.csv")},
            content_type="multipart/form-data").get_data(as_text=True)
        return re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)

    def refused(self, client, token):
        response = client.post("/org/import/apply", data={"token": token},
                               follow_redirects=True)
        return "Bản xem trước này đã hết hạn" in response.get_data(as_text=True) \
            and db.session.scalar(select(User).where(User.employee_id == "N1")) is None

    def test_an_altered_forged_or_stale_ticket_is_refused(self, app, as_hr, users,
                                                          monkeypatch):
        token = self.preview(as_hr)
        # The payload may be compressed ("." then zlib): read it as the app does.
        _payload, stamp, signature = token.rsplit(".", 2)
        ticket = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="lms.import").loads(token)
        assert ticket["u"] == users["hr"].id
        wrong_key = URLSafeTimedSerializer("guessed", salt="lms.import")
        forgeries = [
            f"{b64({**ticket, 'd': True})}.{stamp}.{signature}",
            f"{b64({**ticket, 'k': 'units'})}.{stamp}.{signature}",
            f"{b64({**ticket, 'u': users['admin'].id})}.{stamp}.{signature}",
            wrong_key.dumps({**ticket, "f": "../secret_key"}),
            wrong_key.dumps(ticket),
            flipped(token, len(token) - 5),
        ]
        with monkeypatch.context() as patch:
            made_at = int(time.time()) - 3 * 3600
            patch.setattr(TimestampSigner, "get_timestamp", lambda self: made_at)
            forgeries.append(URLSafeTimedSerializer(app.config["SECRET_KEY"],
                                                    salt="lms.import").dumps(ticket))
        before = snapshot()
        for forged in forgeries:
            assert self.refused(as_hr, forged), forged
        assert changed_tables(before, snapshot()) - {"rate_limits"} == set()
        # The genuine ticket works, once.
        assert as_hr.post("/org/import/apply", data={"token": token}).status_code == 302
        assert db.session.scalar(select(User).where(User.employee_id == "N1")) is not None
        assert users["office_learner"].active
        response = as_hr.post("/org/import/apply", data={"token": token},
                              follow_redirects=True)
        assert "Bản xem trước này đã hết hạn" in response.get_data(as_text=True)
