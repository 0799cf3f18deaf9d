"""Fuzzing with Hypothesis: forms, query strings, uploads and API parameters filled with
hostile text (Vietnamese, right-to-left, NUL, invalid UTF-8, very long strings, huge and
negative numbers) never make the app fail (no 500, nothing logged as an error)."""

import io
import logging
import re
import time
from urllib.parse import quote, quote_from_bytes

import pyotp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from lms.auth import services as auth_services
from lms.auth.models import LoginThrottle
from lms.org.models import utcnow
from lms.ratelimit import RateLimit
from tests.conftest import PASSWORD
from tests.security.world import build_world, changed_tables, quick_password, snapshot

FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
LIGHT = settings(FUZZ, max_examples=25)

ODD = [
    "", " ", "\x00", "a\x00b", "\t\n\r", "\u202e", "\ufeff", "\u200b", "%", "%00", "%zz",
    "'", '"', "\\", "' OR 1=1 --", "%_%", "_", "*", "../../etc/passwd", "<script>", "{{7*7}}",
    "¹²³", "٣", "١٢٣٤٥٦", "１２３", "Ⅻ", "1e9", "0x10", "1_000", "-0", "+1", " 7 ", "NaN", "∞",
    "9" * 30, "-" + "9" * 30, "9" * 5000, "9999-12-31", "0001-01-01", "2026-02-30",
    "Nguyễn", "NGUYỄN", "nguyen", "Đặng Thị Ánh", "trained", "in_progress", "not_started",
    "active", "inactive", "all", "P", "P.H1", "p", "alpha",
]
VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợ" \
    "ùủũúụừửữứựỳỷỹýỵĐ "
RTL = "ابتثجحخدذرزسشصضطظعغفقكلمنهويאבגדהוזחטיכלמנסעפצקרשת\u200f\u202b"

BIG = "9" * 30
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=10**6),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.integers(min_value=-10**30, max_value=10**30),
).map(str)
text = st.one_of(
    st.sampled_from(ODD),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),  # any but surrogates
    st.text(VIETNAMESE, max_size=40),
    st.text(RTL, max_size=20),
    numbers,
    st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "ệ", "\x00", "%", "ا"]),
              st.integers(300, 3000)),
)
# Raw query-string bytes: invalid UTF-8, lone surrogates as CESU-8, stray escapes.
raw_bytes = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc3", b"\xe1\xbb", b"%", b"\x00"]))


def query(**values):
    """A query string from (already chosen) values, every byte escaped."""
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in values.items())


def raw_query(names, values):
    return "&".join(f"{name}={quote_from_bytes(value, safe='')}"
                    for name, value in zip(names, values, strict=False))


@pytest.fixture
def fresh(db, caplog):
    """Call between examples: no lock-out or rate limit left by the one before, and no
    error logged so far."""
    def reset():
        db.session.execute(delete(LoginThrottle))
        db.session.execute(delete(RateLimit))
        db.session.flush()
        caplog.clear()
    caplog.set_level(logging.ERROR)
    return reset


@pytest.fixture
def cheap_hashes(monkeypatch, users):
    """Passwords checked in one round, not scrypt: fuzzing tries hundreds of them."""
    quick_password(*users.values())
    monkeypatch.setattr(auth_services, "_DUMMY_HASH", users["learner"].password_hash)


def survived(response, caplog):
    """The request was handled: no 500 and no error logged."""
    response.get_data()
    response.close()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert response.status_code < 500, response.status_code
    assert errors == [], errors[0].getMessage()
    return response


@pytest.fixture
def world(db, org, users):
    return build_world(org, users)


class TestFormsSurviveAnyInput:
    @FUZZ
    @given(login=st.one_of(text, st.sampled_from(["L0001", "hung@example.gov.vn"])),
           password=st.one_of(text, st.just(PASSWORD)), next_=text, remember=text)
    def test_login(self, app, fresh, cheap_hashes, caplog, login, password, next_, remember):
        fresh()
        response = app.test_client().post("/login", data={
            "login": login, "password": password, "next": next_, "remember": remember})
        survived(response, caplog)

    @FUZZ
    @given(address=st.one_of(text, st.emails().map(str)))
    def test_account_link(self, app, fresh, users, caplog, address):
        fresh()
        survived(app.test_client().post("/account/link", data={"email": address}), caplog)

    @FUZZ
    @given(current=st.one_of(text, st.just(PASSWORD)), password=text, confirm=text)
    def test_password_change(self, as_learner, fresh, cheap_hashes, caplog, current,
                             password, confirm):
        fresh()
        survived(as_learner.post("/me", data={"current": current, "password": password,
                                              "confirm": confirm}), caplog)

    @FUZZ
    @given(lang=text, next_=text)
    def test_language(self, client, fresh, caplog, lang, next_):
        fresh()
        survived(client.post("/language", data={"lang": lang, "next": next_}), caplog)

    @LIGHT
    @given(kind=st.one_of(st.sampled_from(["staff", "units"]), text),
           data=st.one_of(
               st.binary(max_size=3000),
               st.builds(lambda header, rows: (header + "\n" + rows).encode("utf-8", "replace"),
                         st.sampled_from(["employee_id,full_name,email,unit_code,category,role",
                                          "code,name,parent_code,head_employee_id"]),
                         st.text(st.characters(exclude_categories=("Cs",)), max_size=500))),
           name=text, deactivate=st.booleans())
    def test_import_upload(self, as_hr, fresh, caplog, kind, data, name, deactivate):
        fresh()
        form = {"kind": kind, "file": (io.BytesIO(data), name or "x.csv")}
        if deactivate:
            form["deactivate_missing"] = "y"
        survived(as_hr.post("/org/import", data=form, content_type="multipart/form-data"),
                 caplog)

    @FUZZ
    @example(answers={"q-q04-a": "²", "q-q04-b": "9" * 5000, "q-q04-c": "١"})
    @given(answers=st.dictionaries(
        st.sampled_from([f"q-q0{n}" + suffix for n in range(1, 6)
                         for suffix in ("", "-a", "-b", "-c", "-d", "-shown")]), text,
        max_size=8))
    def test_quiz_answers(self, as_learner, world, fresh, caplog, answers):
        fresh()
        response = as_learner.post(f"/quiz/attempts/{world.attempt.id}/save", data=answers,
                                   headers={"Accept": "application/json"})
        survived(response, caplog)


class TestQueryStringsSurviveAnyInput:
    @FUZZ
    @example(q="a", status="all", page=BIG, unit="P")
    @example(q="Nguyễn\x00", status="all", page="1", unit="P\x00")
    @given(q=text, status=text, page=st.one_of(numbers, text), unit=text)
    def test_staff_search(self, as_admin, org, fresh, caplog, q, status, page, unit):
        fresh()
        survived(as_admin.get(f"/org/staff?{query(q=q, status=status, page=page)}"), caplog)
        survived(as_admin.get(f"/org/staff?{query(unit=unit, q=q)}"), caplog)

    @LIGHT
    @given(values=st.lists(raw_bytes, min_size=4, max_size=4))
    def test_staff_search_with_invalid_utf8(self, as_admin, org, fresh, caplog, values):
        fresh()
        survived(as_admin.get("/org/staff?" + raw_query(("q", "status", "page", "unit"),
                                                        values)), caplog)

    @LIGHT
    @given(code=st.one_of(st.sampled_from(["P", "P.H1", "P.H1.X1"]), text),
           page=st.one_of(numbers, text), status=text, q=text, programme=text)
    def test_report_dashboard(self, as_admin, world, fresh, caplog, code, page, status, q,
                              programme):
        fresh()
        path = f"/reports/units/{quote(code, safe='') or 'P'}"
        args = query(page=page, status=status, q=q, programme=programme)
        survived(as_admin.get(f"{path}?{args}"), caplog)
        survived(as_admin.get(f"/reports/units/P.H1?{query(programme=programme)}"), caplog)

    @FUZZ
    @example(q="a", course=BIG, unit="P", status="valid", from_="0001-01-01", to="9999-12-31",
             page=BIG)
    @given(q=text, course=st.one_of(numbers, text), unit=text, status=text,
           from_=st.one_of(st.dates().map(str), text), to=st.one_of(st.dates().map(str), text),
           page=st.one_of(numbers, text))
    def test_certificate_register(self, as_admin, world, fresh, caplog, q, course, unit,
                                  status, from_, to, page):
        fresh()
        args = {"q": q, "course": course, "status": status, "from": from_, "to": to,
                "page": page}
        survived(as_admin.get(f"/certificates/register?{query(**args)}"), caplog)
        survived(as_admin.get(f"/certificates/register?{query(unit=unit)}"), caplog)

    @FUZZ
    @example(page=BIG, status="failed", kind="digest", q="a")
    @given(page=st.one_of(numbers, text), status=text, kind=text, q=text)
    def test_outbox(self, as_admin, world, fresh, caplog, page, status, kind, q):
        fresh()
        args = query(page=page, status=status, kind=kind, q=q)
        survived(as_admin.get(f"/admin/outbox/?{args}"), caplog)

    @FUZZ
    @example(code="a\x00b")
    @given(code=text)
    def test_certificate_check(self, client, world, fresh, caplog, code):
        fresh()
        survived(client.get(f"/verify?{query(code=code)}"), caplog)
        if quote(code, safe=""):
            survived(client.get(f"/verify/{quote(code, safe='')}"), caplog)
            survived(client.get(f"/verify/{quote(code, safe='')}.json"), caplog)

    @FUZZ
    @example(code="P\x00", page="1", per_page="1", status="trained\x00", programme="p\x00")
    @given(code=st.one_of(st.sampled_from(["P.H1", "P.H1.X1", "P"]), text),
           page=st.one_of(numbers, text), per_page=st.one_of(numbers, text), status=text,
           programme=st.one_of(st.just("p"), text))
    def test_json_api(self, client, world, fresh, caplog, code, page, per_page, status,
                      programme):
        fresh()
        bearer = {"Authorization": f"Bearer {world.api_plaintext}"}
        unit = quote(code, safe="") or "P.H1"
        for path in (f"/api/v1/units?{query(page=page, per_page=per_page)}",
                     f"/api/v1/units/{unit}",
                     f"/api/v1/units/{unit}/progress?{query(programme=programme)}",
                     "/api/v1/units/P.H1/staff?" + query(status=status, page=page,
                                                          per_page=per_page,
                                                          programme=programme)):
            response = survived(client.get(path, headers=bearer), caplog)
            assert response.is_json, path

    @FUZZ
    @given(page=st.sampled_from([
        "/programmes/p/refreshers?page={}", "/reports/units/P.H1/courses?programme={}",
        "/reports/units/P.H1/summary.csv?programme={}", "/courses/{}", "/courses/alpha/{}",
        "/courses/{}/quiz", "/quizzes/{}/stats", "/org/units/{}", "/admin/audit?action={}",
        "/admin/audit?page={}", "/certificates/register.csv?q={}", "/login?next={}"]),
        value=st.one_of(text, numbers))
    def test_other_pages(self, as_admin, world, fresh, caplog, page, value):
        fresh()
        survived(as_admin.get(page.format(quote(value, safe="") or "x")), caplog)

    @LIGHT
    @given(header=st.one_of(text, st.just("Bearer ").map(lambda b: b + "cs_" + "A" * 43)))
    def test_api_authorization_header(self, client, world, fresh, caplog, header):
        fresh()
        # What a client can send at all: Latin-1, no line breaks.
        header = re.sub(r"[\r\n]", "", header.encode("latin-1", "replace").decode("latin-1"))
        response = survived(client.get("/api/v1/units", headers={"Authorization": header}),
                            caplog)
        assert response.status_code in (400, 401, 429)


NUL_REQUESTS = [  # (method, path, form, the answer)
    ("get", "/org/units/P%00", None, 404), ("get", "/reports/units/P%00", None, 404),
    ("get", "/courses/alpha%00", None, 404), ("get", "/verify/abc%00", None, 404),
    ("get", "/org/staff?q=a%00", None, 400), ("get", "/org/staff?unit=P%00", None, 400),
    ("get", "/certificates/register?q=a%00", None, 400),
    ("get", "/admin/outbox/?q=a%00", None, 400),
    ("post", "/admin/api-tokens/new", {"name": "Kho", "unit": "P\x00"}, 400),
    ("post", "/programmes/assign", {"programme": "p", "unit": "P\x00"}, 400),
    ("post", "/login", {"login": "L0001\x00", "password": PASSWORD}, 400),
]


class TestNulCharacters:
    """A NUL character anywhere in a path (it names nothing: 404), a query or a form (400)
    is a clear answer that changes nothing (PostgreSQL refuses NUL in text: it used to be a
    500 there)."""

    @pytest.mark.parametrize(("method", "path", "data", "status"), NUL_REQUESTS)
    def test_a_nul_character_is_refused(self, as_admin, world, fresh, caplog, method, path,
                                        data, status):
        fresh()
        before = snapshot()
        response = survived(getattr(as_admin, method)(path, data=data), caplog)
        assert response.status_code == status
        assert f"<h1>{status}" in response.get_data(as_text=True)
        assert changed_tables(before, snapshot()) == set()

    def test_the_api_answers_in_json(self, client, world):
        bearer = {"Authorization": f"Bearer {world.api_plaintext}"}
        response = client.get("/api/v1/units/P.H1%00", headers=bearer)
        assert response.status_code == 404
        assert response.get_json() == {"error": "Not Found", "status": 404}
        response = client.get("/api/v1/units/P.H1/staff?status=trained%00", headers=bearer)
        assert response.status_code == 400
        assert response.get_json() == {"error": "Bad Request", "status": 400}


@pytest.fixture
def second_factor(users):
    """The learner turned on two-factor sign-in."""
    learner = users["learner"]
    learner.totp_secret, learner.totp_enabled_at = pyotp.random_base32(), utcnow()
    quick_password(learner)
    return learner


class TestSecondFactorCodesSurviveAnyInput:
    @LIGHT
    @example(code="١٢٣٤٥٦")
    @given(code=text)
    def test_confirming_with_a_code(self, as_learner, second_factor, fresh, caplog, code):
        fresh()
        survived(as_learner.post("/account/confirm", data={"code": code, "next": "/me"}),
                 caplog)

    @LIGHT
    @example(code="١٢٣٤٥٦")
    @given(code=text)
    def test_signing_in_with_a_code(self, app, second_factor, fresh, caplog, code):
        fresh()
        browser = app.test_client()
        with browser.session_transaction() as sess:
            sess["pending"] = {"id": second_factor.get_id(), "at": time.time(), "next": ""}
        survived(browser.post("/login/code", data={"code": code}), caplog)
