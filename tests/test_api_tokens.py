"""API tokens: issued by admins with the secret shown once, stored as a hash, scoped to a
subtree, revocable; the /api/v1 foundation answers JSON only."""

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.api import tokens
from lms.api.models import ApiToken
from lms.audit.models import AuditEvent

PLAINTEXT = re.compile(r"cs_[A-Za-z0-9_-]{43}")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def district_token(db, org, users):
    """A live token for the district P.H1 (and its commune): (row, plaintext)."""
    return tokens.create_token(users["admin"], "Cổng dữ liệu huyện", org["district"])


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def events(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# Issuing and revoking from the admin pages ---------------------------------------------------

def test_creating_a_token_shows_it_once(as_admin, db, org, users):
    assert as_admin.get("/admin/api-tokens/new").status_code == 200
    response = as_admin.post("/admin/api-tokens/new",
                             data={"name": "Nền tảng dữ liệu tỉnh", "unit": "P.H1"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    plaintext = PLAINTEXT.search(response.get_data(as_text=True)).group(0)

    token = db.session.scalar(select(ApiToken))
    assert token.name == "Nền tảng dữ liệu tỉnh"
    assert token.unit_id == org["district"].id
    assert token.created_by_id == users["admin"].id
    assert token.prefix == plaintext[:8]
    for path in ("/admin/api-tokens", "/admin/api-tokens/new",
                 f"/admin/api-tokens/{token.id}/revoke"):
        body = as_admin.get(path).get_data(as_text=True)
        assert plaintext not in body, path
        assert plaintext[8:20] not in body, path
    listing = as_admin.get("/admin/api-tokens").get_data(as_text=True)
    assert token.prefix in listing
    assert "Nền tảng dữ liệu tỉnh" in listing
    assert "Huyện Đông Sơn" in listing


def test_only_the_hash_is_stored(db, org, users):
    token, plaintext = tokens.create_token(users["admin"], "Kho dữ liệu", org["province"])
    assert plaintext.startswith("cs_")
    assert len(plaintext) == 46
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    db.session.expire_all()
    stored = db.session.get(ApiToken, token.id)
    values = [getattr(stored, column.key) for column in ApiToken.__table__.columns]
    assert not any(plaintext in str(value) for value in values)
    [event] = events(db, "api_token_created")
    assert event.actor_id == users["admin"].id
    assert event.object_type == "api_tokens"
    assert event.object_id == str(token.id)
    assert event.detail == {"name": "Kho dữ liệu", "unit": "P", "prefix": token.prefix}
    assert plaintext not in str(event.detail)


def test_unknown_unit_code_is_a_form_error(as_admin, db, org):
    response = as_admin.post("/admin/api-tokens/new", data={"name": "X", "unit": "NOPE"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken)) is None


def test_a_name_is_required(as_admin, db, org):
    response = as_admin.post("/admin/api-tokens/new", data={"name": " ", "unit": "P"})
    assert response.status_code == 200
    assert db.session.scalar(select(ApiToken)) is None


def test_revoking_asks_then_revokes_for_good(as_admin, client, db, users, district_token):
    token, plaintext = district_token
    assert client.get("/api/v1/units", headers=bearer(plaintext)).status_code == 200
    page = as_admin.get(f"/admin/api-tokens/{token.id}/revoke")
    assert page.status_code == 200
    assert 'id="revoke-form"' in page.get_data(as_text=True)
    assert token.revoked_at is None  # asking changes nothing

    response = as_admin.post(f"/admin/api-tokens/{token.id}/revoke")
    assert response.status_code == 302
    assert token.revoked_at is not None
    assert token.revoked_by_id == users["admin"].id
    [event] = events(db, "api_token_revoked")
    assert event.actor_id == users["admin"].id
    assert event.object_id == str(token.id)
    assert client.get("/api/v1/units", headers=bearer(plaintext)).status_code == 401

    row = as_admin.get("/admin/api-tokens").get_data(as_text=True)
    assert f'id="token-{token.id}" data-status="revoked"' in row
    again = as_admin.post(f"/admin/api-tokens/{token.id}/revoke")
    assert again.status_code == 200
    assert 'id="already-revoked"' in again.get_data(as_text=True)
    assert len(events(db, "api_token_revoked")) == 1


def test_unknown_token_revoke_is_404(as_admin):
    assert as_admin.get("/admin/api-tokens/999999/revoke").status_code == 404


def test_the_admin_menu_links_the_tokens(as_admin, client, users, login_as):
    assert "/admin/api-tokens" in as_admin.get("/home").get_data(as_text=True)
    login_as(users["hr"])
    assert "/admin/api-tokens" not in client.get("/home").get_data(as_text=True)


# Who may reach the admin pages -----------------------------------------------------------------

PAGES = ["/admin/api-tokens", "/admin/api-tokens/new", "/admin/api-tokens/{id}/revoke"]
ROLE_STATUS = {"anon": 302, "learner": 403, "head": 403, "hr": 403, "admin": 200}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("role", "status"), ROLE_STATUS.items())
def test_only_admins_reach_the_token_pages(client, users, login_as, district_token, path,
                                           role, status):
    if role != "anon":
        login_as(users[role])
    url = path.format(id=district_token[0].id)
    response = client.get(url)
    assert response.status_code == status, f"{role} GET {url}"
    if role == "anon":
        assert "/login" in response.headers["Location"]
    if status == 403:
        assert district_token[0].prefix not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["learner", "head", "hr"])
def test_non_admins_cannot_issue_or_revoke(client, db, users, login_as, district_token, role):
    login_as(users[role])
    token = district_token[0]
    assert client.post("/admin/api-tokens/new",
                       data={"name": "mine", "unit": "P"}).status_code == 403
    assert client.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 403
    assert db.session.scalars(select(ApiToken)).all() == [token]
    assert token.revoked_at is None


def test_forms_carry_and_demand_a_csrf_token(csrf_app, as_admin, db, district_token):
    page = as_admin.get("/admin/api-tokens/new").get_data(as_text=True)
    csrf = CSRF.search(page).group(1)
    assert as_admin.post("/admin/api-tokens/new",
                         data={"name": "a", "unit": "P"}).status_code == 400
    assert db.session.scalars(select(ApiToken)).all() == [district_token[0]]
    created = as_admin.post("/admin/api-tokens/new",
                            data={"csrf_token": csrf, "name": "a", "unit": "P"})
    assert PLAINTEXT.search(created.get_data(as_text=True))

    token = district_token[0]
    page = as_admin.get(f"/admin/api-tokens/{token.id}/revoke").get_data(as_text=True)
    csrf = CSRF.search(page).group(1)
    assert as_admin.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 400
    assert token.revoked_at is None
    assert as_admin.post(f"/admin/api-tokens/{token.id}/revoke",
                         data={"csrf_token": csrf}).status_code == 302
    assert token.revoked_at is not None


# Authenticating -------------------------------------------------------------------------------

def test_a_token_authenticates_and_its_use_is_noted(client, db, district_token):
    token, plaintext = district_token
    assert token.last_used_at is None
    response = client.get("/api/v1/units", headers=bearer(plaintext))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_json
    assert token.last_used_at is not None


def test_use_is_noted_at_most_once_a_minute(db, district_token):
    token, plaintext = district_token
    first = tokens.authenticate(f"Bearer {plaintext}")
    assert first is token
    noted = token.last_used_at
    tokens.authenticate(f"Bearer {plaintext}", now=noted + timedelta(seconds=59))
    assert token.last_used_at == noted
    later = noted + timedelta(seconds=60)
    tokens.authenticate(f"bearer  {plaintext} ", now=later)
    assert token.last_used_at == later


@pytest.mark.parametrize("header", [
    "Bearer cs_" + "A" * 43,  # well formed, unknown
    "Bearer nope",
    "Bearer " + "cs_" + "x" * 5000,
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer cs_é",
])
def test_a_wrong_token_is_401(client, district_token, header):
    response = client.get("/api/v1/units", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_missing_header_is_401_with_a_challenge(client, district_token):
    response = client.get("/api/v1/units/P.H1", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.headers["Cache-Control"] == "no-store"


def test_a_revoked_token_is_401(client, db, users, district_token):
    token, plaintext = district_token
    assert tokens.revoke_token(users["admin"], token)
    assert not tokens.revoke_token(users["admin"], token)
    response = client.get("/api/v1/units", headers=bearer(plaintext))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_session_cookie_is_no_token(as_admin):
    assert as_admin.get("/api/v1/units").status_code == 401


# Scope ----------------------------------------------------------------------------------------

def test_listing_shows_only_the_subtree(client, district_token):
    body = client.get("/api/v1/units", headers=bearer(district_token[1])).get_json()
    assert body == {
        "items": [
            {"code": "P.H1", "name": "Huyện Đông Sơn", "parent_code": None, "depth": 1},
            {"code": "P.H1.X1", "name": "Xã Đông Hòa", "parent_code": "P.H1", "depth": 2},
        ],
        "total": 2, "page": 1, "per_page": 100,
    }


def test_a_province_token_sees_everything(client, db, org, users):
    _token, plaintext = tokens.create_token(users["admin"], "Tỉnh", org["province"])
    body = client.get("/api/v1/units?per_page=2&page=2", headers=bearer(plaintext)).get_json()
    assert body["total"] == 5
    assert len(body["items"]) == 2
    assert body["page"] == 2
    first = client.get("/api/v1/units?per_page=2", headers=bearer(plaintext)).get_json()
    assert first["items"][0]["code"] == "P"
    assert not {u["code"] for u in first["items"]} & {u["code"] for u in body["items"]}


def test_one_unit_with_its_children(client, district_token):
    headers = bearer(district_token[1])
    top = client.get("/api/v1/units/P.H1", headers=headers).get_json()
    assert top == {"code": "P.H1", "name": "Huyện Đông Sơn", "parent_code": None, "depth": 1,
                   "children": ["P.H1.X1"]}
    commune = client.get("/api/v1/units/P.H1.X1", headers=headers).get_json()
    assert commune["parent_code"] == "P.H1"
    assert commune["children"] == []


def test_units_outside_the_scope_do_not_exist(client, district_token):
    headers = bearer(district_token[1])
    answers = [client.get(f"/api/v1/units/{code}", headers=headers)
               for code in ("P", "P.STTTT", "P.STTTT.VP", "NOPE")]
    assert {response.status_code for response in answers} == {404}
    assert len({response.get_data() for response in answers}) == 1  # nothing tells them apart
    assert all(response.is_json for response in answers)


def test_unit_in_scope_helper(app, db, org, district_token):
    from flask import g
    from werkzeug.exceptions import HTTPException

    from lms.api.views import unit_in_scope

    with app.test_request_context("/api/v1/units/P.H1.X1"):
        g.api_token, g.api_unit = district_token[0], org["district"]
        assert unit_in_scope("P.H1.X1") is org["commune"]
        with pytest.raises(HTTPException) as raised:
            unit_in_scope("P.STTTT")
        assert raised.value.get_response().status_code == 404


# Errors are JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=" + "9" * 40,
                                   "per_page=0", "per_page=501", "per_page=1.5",
                                   "page=" + "9" * 5000])
def test_bad_paging_is_a_json_400(client, district_token, query):
    response = client.get(f"/api/v1/units?{query}", headers=bearer(district_token[1]))
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["status"] == 400


def test_a_page_past_the_end_is_empty(client, district_token):
    response = client.get("/api/v1/units?page=1000000&per_page=500",
                          headers=bearer(district_token[1]))
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert response.get_json()["total"] == 2


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/nothing-here", 404),
    ("GET", "/api/v1", 404),
    ("POST", "/api/v1/units", 405),
    ("DELETE", "/api/v1/units/P.H1", 405),
])
def test_errors_are_json_never_html(csrf_app, client, district_token, method, path, status):
    response = client.open(path, method=method, headers={
        **bearer(district_token[1]), "Accept": "text/html"})
    assert response.status_code == status
    assert response.is_json
    assert "<html" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
