"""Attacks on requests that must fail: cross-site forms (CSRF) on every state-changing route of
the URL map, GET requests that write, and open redirects through `next` parameters."""

import io
import re
from datetime import date
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from lms.api.models import ApiToken
from lms.api.tokens import hash_token
from lms.auth.models import User
from lms.courses.models import ProgrammeAssignment
from lms.extensions import db
from lms.web import safe_next
from tests.conftest import PASSWORD, make_user
from tests.security.world import (
    build_world,
    changed_tables,
    csrf_token,
    quick_password,
    sign_in,
    snapshot,
)

NEW_PASSWORD = "một câu mật khẩu mới"
CSRF_PAGE = ("form expired or was sent from another site",
             "biểu mẫu được gửi từ trang web khác")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROSTER = ("employee_id,full_name,email,unit_code,category,role\n"
          "N1,Đỗ Văn Nam,nam@example.gov.vn,P.STTTT.VP,cadre,\n")

# Routes that take no CSRF token, and why. The JSON API reads only `Authorization: Bearer`
# and never the session cookie, so a forged cross-site request has no credential to ride on
# (TestCsrf checks that it ignores the cookie). It has no state-changing route today.
NO_CSRF = {
    "api": "bearer tokens only, never the session cookie",
}

# Every state-changing endpoint: who uses it (None: anyone, signed out) and what its real form
# sends, without the token. A new route fails the test until it is listed here or in NO_CSRF.
POSTS = {
    "auth.login": (None, {"login": "L0001", "password": PASSWORD}),
    "auth.login_code": (None, {"code": "123456"}),
    "auth.request_link": (None, {"email": "hung@example.gov.vn"}),
    "auth.activate": (None, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "auth.reset": (None, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    "auth.set_language": ("learner", {"lang": "en", "next": "/me"}),
    "auth.logout": ("learner", {}),
    "auth.profile": ("learner", {"current": PASSWORD, "password": NEW_PASSWORD,
                                 "confirm": NEW_PASSWORD}),
    "auth.confirm": ("learner", {"password": PASSWORD, "next": "/me"}),
    "auth.sign_out_everywhere": ("learner", {}),
    "auth.two_factor_setup": ("admin", {"code": "123456"}),
    "auth.two_factor_off": ("admin", {}),
    "auth.new_recovery_codes": ("admin", {}),
    "auth.end_user_sessions": ("admin", {}),
    "auth.reset_two_factor": ("admin", {}),
    "org.change_role": ("admin", {"role": "admin"}),
    "org.deactivate": ("admin", {}),
    "org.reactivate": ("admin", {}),
    "org.send_link": ("admin", {}),
    "org.invite": ("admin", {}),
    "org.import_roster": ("admin", {"kind": "staff"}),
    "org.import_apply": ("admin", {"token": "x"}),
    "api_tokens.new": ("admin", {"name": "Kho dữ liệu", "unit": "P"}),
    "api_tokens.revoke": ("admin", {}),
    "outbox.resend": ("admin", {}),
    "certificates.revoke": ("admin", {"reason": "Gian lận khi làm bài"}),
    "certificates.reissue": ("admin", {}),
    "courses.assign": ("admin", {"programme": "p", "unit": "P.STTTT"}),
    "courses.unassign": ("admin", {}),
    "courses.mark_read": ("learner", {}),
    "quizzes.start": ("learner", {}),
    "quizzes.save": ("learner", {"q-q01": "b"}),
    "quizzes.submit": ("learner", {"q-q01": "b"}),
}

# GET routes that write, what they may write and why; every other GET writes nothing (but
# the counters of the rate limits, lms/ratelimit.py, which any request may move).
ANY_REQUEST_WRITES = {"rate_limits"}
AUDITED = {"audit_events", "audit_chain"}  # an event, and the head of their hash chain
GET_WRITES = {
    "reports.export_staff": (AUDITED, "a download of personal data is audited"),
    "reports.export_record": (AUDITED, "a download of personal data is audited"),
    "admin.audit_export": (AUDITED, "an export of the audit log is itself audited"),
    "certificates.verify": ({"login_throttles"}, "a wrong code counts against the address"),
    "certificates.verify_json": ({"login_throttles"}, "as certificates.verify"),
    "api.units": ({"api_tokens"}, "the token's last use, at most once a minute"),
    "api.unit": ({"api_tokens"}, "as api.units"),
    "api.unit_progress": ({"api_tokens"}, "as api.units"),
    "api.unit_staff": ({"api_tokens"}, "as api.units"),
}


@pytest.fixture
def world(db, org, users):
    return build_world(org, users)


def url_values(world, endpoint):
    """Plausible values for a route's arguments: existing objects of the world."""
    values = {
        "token_id": world.api_token.id, "message_id": world.message.id,
        "certificate_id": world.certificate.id, "attempt_id": world.attempt.id,
        "user_id": world.users["office_learner"].id, "assignment_id": world.assignment.id,
        "code": "P.H1", "slug": "alpha", "module_slug": world.module.slug, "lang": "vi",
        "filename": "x.png", "year": date.today().year, "fmt": "csv",
        "token": world.reset_token,
    }
    values.update({
        "auth.activate": {"token": world.activate_token},
        "auth.reset_two_factor": {"user_id": world.users["hr"].id},
        "certificates.verify": {"code": "not-a-code"},
        "certificates.verify_json": {"code": "not-a-code"},
        "courses.refreshers": {"slug": "p"},
        "quizzes.stats": {"slug": "alpha-quiz"},
    }.get(endpoint, {}))
    return values


def url_for_rule(rule, world):
    values = url_values(world, rule.endpoint)
    return rule.build({name: values[name] for name in rule.arguments},
                      append_unknown=False)[1]


def state_changing_rules(app):
    """(rule, methods) of every rule with a state-changing method, but the NO_CSRF ones."""
    for rule in app.url_map.iter_rules():
        methods = rule.methods & STATE_CHANGING
        if methods and not ({rule.endpoint, rule.endpoint.split(".")[0]} & NO_CSRF.keys()):
            yield rule, methods


def stays_on_our_site(response):
    """A request carrying a hostile `next` is either refused outright (400: a NUL character)
    or redirected to one of our pages."""
    if response.status_code == 400:
        return True
    return response.status_code == 302 and lands_on_our_host(response.headers["Location"])


def lands_on_our_host(location):
    """Whether a browser following this Location from one of our pages stays on our host: it
    drops surrounding controls and spaces, and tabs and newlines anywhere, and reads a
    backslash as a slash."""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip("".join(map(chr, range(33)))))
    target = urlsplit(urljoin("http://localhost/login", cleaned.replace("\\", "/")))
    return target.scheme == "http" and target.hostname == "localhost"


class TestCsrf:
    """Every state-changing route refuses a form without a valid token, and changes nothing."""

    def test_every_state_changing_route_is_listed(self, app):
        listed = {rule.endpoint for rule, _methods in state_changing_rules(app)}
        assert listed - POSTS.keys() == set(), "new routes: add them to POSTS or NO_CSRF"
        assert POSTS.keys() - listed == set(), "routes gone: remove them from POSTS"

    def test_a_form_without_a_valid_token_is_refused_and_changes_nothing(
            self, csrf_app, world, client, login_as):
        anonymous = csrf_app.test_client()
        # A genuine token, but of another browser's session (what a forging site could get).
        elsewhere = csrf_token(csrf_app.test_client())
        checked, before = 0, snapshot()
        for rule, methods in state_changing_rules(csrf_app):
            role, data = POSTS[rule.endpoint]
            url = url_for_rule(rule, world)
            for method in methods:
                for token in (None, "forged", elsewhere):
                    browser = login_as(world.users[role]) if role else anonymous
                    form = dict(data, **({"csrf_token": token} if token else {}))
                    if rule.endpoint == "org.import_roster":
                        form["file"] = (io.BytesIO(b"employee_id,full_name\n"), "r.csv")
                    response = browser.open(url, method=method, data=form)
                    body = response.get_data(as_text=True)
                    assert response.status_code == 400, f"{method} {url}"
                    assert any(text in body for text in CSRF_PAGE), f"{method} {url}"
                    assert changed_tables(before, snapshot()) == set(), f"{method} {url}"
                    checked += 1
        assert checked == 3 * len(POSTS)

    def test_the_same_forms_with_their_token_work(self, csrf_app, world, client, login_as):
        login_as(world.users["admin"])
        token = csrf_token(client, "/me")
        response = client.post(f"/org/staff/{world.users['office_learner'].id}/role",
                               data={"csrf_token": token, "role": "head"})
        assert response.status_code == 302
        assert world.users["office_learner"].role == "head"
        response = client.post("/language", data={"csrf_token": token, "lang": "en",
                                                  "next": "/me"})
        assert response.headers["Location"] == "/me"
        assert world.users["admin"].locale == "en"

    def test_the_api_ignores_the_session_cookie_and_changes_nothing(self, csrf_app, world,
                                                                    as_admin):
        for rule in csrf_app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] != "api":
                continue
            assert rule.methods & STATE_CHANGING == set(), rule.rule
            url = url_for_rule(rule, world)
            response = as_admin.get(url)  # signed in, but no bearer token
            assert response.status_code == 401, url
            assert response.get_json()["error"] == "Unauthorized"
            assert as_admin.post(url).status_code in (400, 405), url


class TestGetRoutes:
    """A GET never changes anything, but for the few listed in GET_WRITES, which write only
    what is listed."""

    def test_no_get_route_writes(self, app, world, client, login_as):
        bearer = {"Authorization": f"Bearer {world.api_plaintext}"}
        statuses, before = {}, snapshot()
        for role in ("learner", "admin"):
            for rule in app.url_map.iter_rules():
                if "GET" not in rule.methods or rule.endpoint == "static" \
                        or statuses.get(("learner", rule.endpoint)) == 200:
                    continue  # (the admin sees again only what the learner could not)
                login_as(world.users[role])
                url = url_for_rule(rule, world)
                response = client.get(url, headers=bearer if url.startswith("/api/") else {})
                response.get_data()  # a streamed download runs to its end
                response.close()
                assert response.status_code != 500, url
                statuses[role, rule.endpoint] = response.status_code
                allowed, _why = GET_WRITES.get(rule.endpoint, (set(), ""))
                after = snapshot()
                assert changed_tables(before, after) - ANY_REQUEST_WRITES <= allowed, \
                    f"{role} GET {url}"
                before = after
        # The pages were really shown, not refused.
        shown = {endpoint for (_role, endpoint), code in statuses.items() if code == 200}
        assert {"quizzes.attempt", "courses.module", "certificates.pdf", "org.person",
                "reports.export_staff", "api.unit_staff", "auth.reset"} <= shown
        assert len(shown) >= 40


REDIRECT_ATTACKS = [
    "//evil.example", "///evil.example", "https://evil.example", "http:evil.example",
    "https:/\\evil.example", "/\\evil.example", "\\\\evil", "/\\/evil.example",
    "%2F%2Fevil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "/%09/evil.example", "\t//evil.example",
    "\n//evil.example", " //evil.example", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", "/.evil.example", "/\x00/evil.example", "//evil.example@localhost",
    "/%2F/evil.example", "https://localhost@evil.example/", "/\u3002/evil.example",
]
SAME_SITE = ["/me", "/org/staff?q=Nguy%E1%BB%85n&page=2", "/reports/units/P.H1?programme=p",
             "/courses/alpha/01-module-1#top", "/verify/abc?format=json"]


class TestOpenRedirects:
    """Every `next` leads back to a page of this site, whatever is put in it."""

    @pytest.mark.parametrize("target", REDIRECT_ATTACKS)
    def test_safe_next_refuses_other_sites(self, target):
        result = safe_next(target, "/home")
        assert lands_on_our_host(result), result
        assert not result.startswith("//")

    @pytest.mark.parametrize("target", SAME_SITE)
    def test_safe_next_keeps_our_pages_with_their_query(self, target):
        assert safe_next(target, "/home") == target

    def test_nothing_falls_back_to_the_default(self):
        assert safe_next(None, "/home") == safe_next("", "/home") == "/home"

    def test_sign_in_never_leaves_the_site(self, client, users):
        quick_password(users["learner"])
        for target in REDIRECT_ATTACKS:
            response = sign_in(client, "L0001", next=target)
            assert stays_on_our_site(response), repr(target)
            client.post("/logout")
        assert sign_in(client, "L0001", next="/me?tab=1").headers["Location"] == "/me?tab=1"

    def test_the_login_page_carries_next_only_as_escaped_text(self, client):
        page = client.get("/login", query_string={"next": '"><script>alert(1)</script>'})
        assert "<script>alert(1)" not in page.get_data(as_text=True)

    @pytest.mark.parametrize("who", [None, "learner"])
    def test_switching_language_never_leaves_the_site(self, client, login_as, users, who):
        if who:
            login_as(users[who])
        for target in REDIRECT_ATTACKS:
            response = client.post("/language", data={"lang": "en", "next": target})
            assert stays_on_our_site(response), repr(target)
        response = client.post("/language", data={"lang": "vi", "next": SAME_SITE[1]})
        assert response.headers["Location"] == SAME_SITE[1]

    def test_confirming_it_is_you_never_leaves_the_site(self, as_learner, users):
        quick_password(users["learner"])
        for target in REDIRECT_ATTACKS:
            response = as_learner.post("/account/confirm",
                                       data={"password": PASSWORD, "next": target})
            assert stays_on_our_site(response), repr(target)

    def test_the_certificate_check_form_stays_on_the_site(self, client):
        for target in REDIRECT_ATTACKS:
            response = client.get("/verify", query_string={"code": target})
            assert response.status_code == 429 or stays_on_our_site(response), repr(target)

    @pytest.mark.parametrize("referrer", ["https://evil.example/org/staff",
                                          "http://localhost//evil.example"])
    def test_a_stale_check_goes_back_only_to_our_own_pages(self, as_admin, users, referrer):
        with as_admin.session_transaction() as sess:
            sess["checked_at"] = 0  # the password was last typed long ago
        response = as_admin.post(f"/org/staff/{users['learner'].id}/end-sessions",
                                 headers={"Referer": referrer})
        assert response.status_code == 302
        location = response.headers["Location"]
        assert lands_on_our_host(location)
        assert urlsplit(location).path == "/account/confirm"
        back = parse_qs(urlsplit(location).query).get("next", ["/"])[0]
        assert lands_on_our_host(back)
        assert not back.startswith("//")


# Fields no form of the app declares, posted along with the real ones.
SMUGGLED = {"role": "admin", "active": "0", "is_admin": "1", "password_hash": "x",
            "session_version": "99", "score": "100", "passed": "1", "status": "submitted",
            "email": "ke.gian@evil.example", "full_name": "Kẻ Gian", "employee_id": "X0001",
            "locale": "en", "totp_secret": "JBSWY3DPEHPK3PXP", "id": "1", "user_id": "1",
            "created_by_id": "1", "assigned_by_id": "1", "revoked_at": "2020-01-01",
            "last_used_at": "2020-01-01", "token_hash": "0" * 64, "prefix": "cs_AAAAA",
            "u": "1", "k": "units", "d": "1", "kind": "units", "deactivate_missing": "y"}


def columns(row):
    """Every column of a row, as the database holds it now."""
    db.session.refresh(row)
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def changed_columns(before, row):
    after = columns(row)
    return {key for key in before if before[key] != after[key]}


def smuggled(**also):
    return {**SMUGGLED, **{key: str(value) for key, value in also.items()}}


class TestMassAssignment:
    """Extra fields posted with a form change nothing beyond what the form declares."""

    def test_the_profile_changes_the_password_and_nothing_else(self, as_learner, users, org):
        learner = users["learner"]
        before = columns(learner)
        response = as_learner.post("/me", data=smuggled(
            current=PASSWORD, password=NEW_PASSWORD, confirm=NEW_PASSWORD,
            unit_id=org["dept"].id))
        assert response.status_code == 302
        assert changed_columns(before, learner) <= {"password_hash", "session_version",
                                                    "activated_at", "updated_at"}
        assert learner.session_version == before["session_version"] + 1
        assert check_password_hash(learner.password_hash, NEW_PASSWORD)

    def test_the_profile_without_its_fields_changes_nothing(self, as_learner, users, org):
        before = snapshot()
        response = as_learner.post("/me", data=smuggled(unit_id=org["dept"].id))
        assert response.status_code == 200
        assert changed_tables(before, snapshot()) == set()

    def test_a_role_change_changes_the_role_only(self, as_hr, users, org):
        person = users["office_learner"]
        before = columns(person)
        response = as_hr.post(f"/org/staff/{person.id}/role", data=smuggled(
            role="head", unit_id=org["district"].id))
        assert response.status_code == 302
        assert changed_columns(before, person) == {"role", "session_version", "updated_at"}
        assert person.role == "head"
        assert person.unit_id == org["office"].id

    def test_hr_can_neither_grant_admin_nor_raise_itself(self, as_hr, users):
        before = snapshot()
        for person in (users["office_learner"], users["hr"]):
            response = as_hr.post(f"/org/staff/{person.id}/role",
                                  data=smuggled(role="admin"))
            assert response.status_code == 403
        assert as_hr.post(f"/org/staff/{users['hr'].id}/role",
                          data=smuggled(role="learner")).status_code == 403
        assert changed_tables(before, snapshot()) - ANY_REQUEST_WRITES == set()

    def test_deactivating_changes_the_status_only(self, as_hr, users, org):
        person = users["office_learner"]
        before = columns(person)
        response = as_hr.post(f"/org/staff/{person.id}/deactivate",
                              data=smuggled(unit_id=org["district"].id, active="1"))
        assert response.status_code == 302
        assert changed_columns(before, person) == {"active", "session_version", "updated_at"}
        assert person.active is False
        assert person.role == "learner"

    def test_an_import_applies_what_was_previewed_for_whoever_previewed_it(
            self, as_hr, client, login_as, users, org):
        page = as_hr.post("/org/import", data={
            "kind": "staff", "file": (io.BytesIO(ROSTER.encode()), "roster.csv")},
            content_type="multipart/form-data").get_data(as_text=True)
        token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
        other_hr = make_user(org["dept"], "hr")
        before = snapshot()
        login_as(other_hr)  # the same scope, but not who previewed it
        response = client.post("/org/import/apply", data={"token": token},
                               follow_redirects=True)
        assert "Bản xem trước này đã hết hạn" in response.get_data(as_text=True)
        assert changed_tables(before, snapshot()) - ANY_REQUEST_WRITES == set()
        login_as(users["hr"])
        response = client.post("/org/import/apply", data=smuggled(
            token=token, unit_id=org["district"].id))
        assert response.status_code == 302
        added = db.session.scalar(select(User).where(User.employee_id == "N1"))
        assert added.unit_id == org["office"].id
        assert added.role == "learner"
        assert users["office_learner"].active  # not in the file, yet not deactivated

    def test_a_new_api_token_takes_its_scope_from_the_unit_code_only(self, as_admin, users,
                                                                     org):
        response = as_admin.post("/admin/api-tokens/new", data=smuggled(
            name="Kho dữ liệu", unit="P.H1", unit_id=org["province"].id,
            created_by_id=users["hr"].id))
        plaintext = re.search(r"cs_[A-Za-z0-9_-]{43}", response.get_data(as_text=True))[0]
        token = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
        assert token.unit_id == org["district"].id
        assert token.created_by_id == users["admin"].id
        assert token.token_hash == hash_token(plaintext)
        assert token.prefix == plaintext[:8]
        assert token.revoked_at is None
        assert token.last_used_at is None

    def test_hr_cannot_issue_api_tokens(self, as_hr):
        before = snapshot()
        response = as_hr.post("/admin/api-tokens/new", data=smuggled(name="x", unit="P"))
        assert response.status_code == 403
        assert changed_tables(before, snapshot()) - ANY_REQUEST_WRITES == set()

    def test_a_programme_goes_to_the_unit_named_by_its_code_by_whoever_assigns_it(
            self, as_hr, world, users, org):
        response = as_hr.post("/programmes/assign", data=smuggled(
            programme="p", unit="P.STTTT.VP", unit_id=org["district"].id,
            programme_id=world.programme.id + 1, assigned_by_id=users["admin"].id))
        assert response.status_code == 302
        rows = db.session.scalars(select(ProgrammeAssignment).order_by(
            ProgrammeAssignment.id)).all()
        assert [(row.unit_id, row.assigned_by_id) for row in rows] == [
            (org["district"].id, users["admin"].id), (org["office"].id, users["hr"].id)]
        before = snapshot()
        outside = as_hr.post("/programmes/assign", data=smuggled(
            programme="p", unit="P.H1.X1", unit_id=org["office"].id))
        assert outside.status_code == 404
        assert changed_tables(before, snapshot()) - ANY_REQUEST_WRITES == set()

    def test_a_saved_quiz_keeps_its_score_and_status(self, as_learner, world):
        attempt = world.attempt
        before = columns(attempt)
        response = as_learner.post(f"/quiz/attempts/{attempt.id}/save", data=smuggled(
            **{"q-q01": "b", "q-zz99": "x", "max_score": "0", "pass_mark": "0",
               "user_id": world.users["admin"].id}))
        assert response.status_code == 302
        assert changed_columns(before, attempt) == set()
        assert [answer.question_key for answer in attempt.answers] == ["q01"]
