"""Cross-cutting web behaviour: CSRF everywhere, security headers, error pages."""

import pytest

from lms.org import services as org_services


def _sample_url(rule, users):
    values = {}
    for name, converter in rule._converters.items():
        values[name] = users["office_learner"].id if "Integer" in type(converter).__name__ \
            else "P.STTTT"
    return rule.build(values, append_unknown=False)[1]


def test_every_state_changing_route_demands_a_csrf_token(csrf_app, client, users, login_as):
    login_as(users["admin"])
    checked = []
    for rule in csrf_app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if not methods or rule.endpoint == "static":
            continue
        url = _sample_url(rule, users)
        for method in methods:
            response = client.open(url, method=method, data={"role": "admin"})
            assert response.status_code == 400, f"{method} {url}"
            assert "form expired" in response.get_data(as_text=True) or \
                "biểu mẫu" in response.get_data(as_text=True)
            checked.append(url)
    assert len(checked) >= 8  # a new route is covered automatically
    assert users["office_learner"].role == "learner"


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_inline_script_or_style_in_pages(as_admin):
    for path in ("/home", "/org/staff", "/admin/audit", "/me"):
        body = as_admin.get(path).get_data(as_text=True)
        assert "<script>" not in body, path
        assert "style=" not in body, path


def test_unexpected_error_shows_a_page_without_traceback(as_hr, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(org_services, "staff_page", explode)
    response = as_hr.get("/org/staff")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "database on fire" not in body
    assert "<h1>500" in body


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>404" in response.get_data(as_text=True)


def test_json_clients_get_json_errors(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not Found", "status": 404}


@pytest.mark.parametrize("page", ["-1", "0", "99999", "abc"])
def test_odd_page_numbers_never_fail(as_admin, page):
    assert as_admin.get(f"/org/staff?page={page}").status_code == 200


def test_user_text_is_escaped(as_admin, org, db):
    from tests.conftest import make_user

    make_user(org["office"], full_name="<script>alert(1)</script> Nguyễn Văn Độc")
    body = as_admin.get("/org/staff?q=doc").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Nguyễn Văn Độc" in body
