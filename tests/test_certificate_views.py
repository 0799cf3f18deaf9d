"""The public check of certificates (page, JSON, throttle), the published keys and revocation
list, and the holder's downloads (PDF, Open Badge), which others cannot even see exist."""

from datetime import date, datetime, timedelta

import pytest

from lms.certificates.badges import verify_badge_jwt
from lms.certificates.keys import keys_from_jwks, public_keys
from lms.certificates.services import issue, revoke
from lms.certificates.signing import verify_pdf
from tests.conftest import make_user
from tests.course_factories import make_course


@pytest.fixture
def certificate(db, users):
    """A course certificate of the learner."""
    return issue(users["learner"], kind="course", title="Khoá học An toàn thông tin",
                 course=make_course("alpha", 1))


def status_shown(response):
    html = response.get_data(as_text=True)
    return html.split('id="verify-status" data-status="', 1)[1].split('"', 1)[0]


# The public check -----------------------------------------------------------------------

def test_the_form_sends_a_typed_or_pasted_code_to_its_check_page(client, certificate):
    assert client.get("/verify").status_code == 200
    response = client.get("/verify", query_string={"code": f"  {certificate.code} "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/verify/{certificate.code}")
    pasted = client.get("/verify", query_string={
        "code": f"https://lms.example.gov.vn/verify/{certificate.code}"})
    assert pasted.headers["Location"].endswith(f"/verify/{certificate.code}")


def test_a_valid_certificate_shows_name_title_date_issuer_and_serial_without_login(
        client, users, certificate):
    response = client.get(f"/verify/{certificate.code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert status_shown(response) == "valid"
    assert "Nguyễn Văn Hùng" in html
    assert "Khoá học An toàn thông tin" in html
    assert certificate.serial in html
    assert certificate.issuer in html
    assert f'datetime="{certificate.issued_at.date().isoformat()}"' in html
    assert users["learner"].email not in html
    assert users["learner"].employee_id not in html
    assert response.headers["X-Robots-Tag"] == "noindex"


def test_a_revoked_certificate_shows_the_date_but_not_the_reason(client, certificate):
    revoke(certificate, "Gian lận khi làm bài", now=datetime(2026, 3, 5, 9, 0))
    response = client.get(f"/verify/{certificate.code}")
    html = response.get_data(as_text=True)
    assert status_shown(response) == "revoked"
    assert 'id="cert-revoked"><time datetime="2026-03-05"' in html
    assert "Gian lận" not in html


def test_an_expired_certificate_shows_until_when_it_was_valid(client, users):
    certificate = issue(users["learner"], kind="course", title="Khoá học cũ",
                        course=make_course("old", 1), expires_on=date.today() - timedelta(days=2))
    response = client.get(f"/verify/{certificate.code}")
    assert status_shown(response) == "expired"
    expired_on = (date.today() - timedelta(days=2)).isoformat()
    assert f'id="cert-expires"><time datetime="{expired_on}"' in response.get_data(as_text=True)


@pytest.mark.parametrize(("expires_on", "revoked", "status"), [
    (None, False, "valid"),
    (date(2026, 6, 1), False, "valid"),  # the last day it is valid
    (date(2026, 5, 31), False, "expired"),
    (date(2026, 5, 31), True, "revoked"),
    (None, True, "revoked"),
])
def test_status_on_a_day(expires_on, revoked, status):
    from lms.certificates.documents import status_of
    from lms.certificates.models import Certificate

    certificate = Certificate(expires_on=expires_on,
                              revoked_at=datetime(2026, 1, 1) if revoked else None)
    assert status_of(certificate, date(2026, 6, 1)) == status


def test_an_unknown_code_is_a_404_page_saying_no_certificate_has_it(client, certificate):
    response = client.get("/verify/not-a-real-code")
    assert response.status_code == 404
    assert status_shown(response) == "unknown"
    assert 'id="verify-form"' in response.get_data(as_text=True)


def test_the_json_answer_has_the_public_fields_only(client, users, certificate):
    expected = {"status": "valid", "name": "Nguyễn Văn Hùng",
                "title": "Khoá học An toàn thông tin", "kind": "course",
                "issued_on": certificate.issued_at.date().isoformat(), "expires_on": None,
                "revoked_on": None, "issuer": certificate.issuer, "serial": certificate.serial,
                "key_id": certificate.key_id}
    by_suffix = client.get(f"/verify/{certificate.code}.json")
    by_param = client.get(f"/verify/{certificate.code}?format=json")
    by_accept = client.get(f"/verify/{certificate.code}", headers={"Accept": "application/json"})
    for response in (by_suffix, by_param, by_accept):
        assert response.status_code == 200
        assert response.get_json() == expected
    text = by_suffix.get_data(as_text=True)
    assert users["learner"].email not in text
    assert users["learner"].employee_id not in text
    assert certificate.code not in text


def test_json_for_unknown_and_revoked_codes(client, certificate):
    unknown = client.get("/verify/nope.json")
    assert (unknown.status_code, unknown.get_json()) == (404, {"status": "unknown"})
    revoke(certificate, "sai sót", now=datetime(2026, 1, 2, 3, 4))
    data = client.get(f"/verify/{certificate.code}.json").get_json()
    assert (data["status"], data["revoked_on"]) == ("revoked", "2026-01-02")
    assert "sai sót" not in str(data)


def test_a_name_with_markup_is_shown_as_text(client, org):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    mallory = make_user(org["commune"], full_name=payload)
    certificate = issue(mallory, kind="course", title="<b>Title</b>", course=make_course("x", 1))
    html = client.get(f"/verify/{certificate.code}").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>Title" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert client.get(f"/verify/{certificate.code}.json").get_json()["name"] == payload


def test_too_many_wrong_codes_from_one_address_are_refused_even_for_a_right_code(
        app, client, certificate, monkeypatch):
    monkeypatch.setitem(app.config["RATE_LIMITS"], "verify_wrong", (3, 600))
    for n in range(3):
        assert client.get(f"/verify/guess-{n}").status_code == 404
    refused = client.get(f"/verify/{certificate.code}")
    assert refused.status_code == 429
    assert status_shown(refused) == "throttled"
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert client.get(f"/verify/{certificate.code}.json").get_json()["status"] == "throttled"
    # Another address is not affected.
    other = client.get(f"/verify/{certificate.code}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_the_lock_ends_when_the_window_has_passed(app, client, certificate, monkeypatch):
    from lms import ratelimit

    monkeypatch.setitem(app.config["RATE_LIMITS"], "verify_wrong", (2, 600))
    start = datetime.now()
    for _ in range(2):
        ratelimit.check("verify_wrong", "127.0.0.1", now=start)
    assert not ratelimit.check_without_counting("verify_wrong", "127.0.0.1", now=start).allowed
    later = start + timedelta(minutes=11)
    assert ratelimit.check_without_counting("verify_wrong", "127.0.0.1", now=later).allowed
    assert ratelimit.check("verify_wrong", "127.0.0.1", now=later).allowed  # a new window


# Published keys and revocations ---------------------------------------------------------

def test_the_jwks_is_public_cacheable_and_holds_the_signing_key(client, certificate):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    data = response.get_json()
    assert all(key.keys() >= {"kty", "crv", "x", "kid"} for key in data["keys"])
    assert {key["kty"] for key in data["keys"]} == {"OKP"}
    assert certificate.key_id in keys_from_jwks(data)


def test_the_revocation_list_has_serials_and_dates_but_no_names(client, users, certificate):
    other = issue(users["office_learner"], kind="course", title="Khác",
                  course=make_course("beta", 1))
    revoke(certificate, "lý do", now=datetime(2026, 2, 1, 8, 0))
    response = client.get("/certificates/revoked.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public")
    assert response.get_json() == {"revoked": [{"serial": certificate.serial,
                                                "revoked_on": "2026-02-01"}]}
    text = response.get_data(as_text=True)
    assert other.serial not in text
    assert certificate.name not in text
    assert certificate.code not in text


# The holder's certificates and downloads ------------------------------------------------

def test_my_certificates_lists_each_with_status_and_links(client, users, certificate,
                                                         login_as):
    old = issue(users["learner"], kind="course", title="Khoá cũ", course=make_course("old", 1))
    revoke(old, "làm lại")
    login_as(users["learner"])
    html = client.get("/me/certificates").get_data(as_text=True)
    assert f'id="certificate-{certificate.id}" data-status="valid"' in html
    assert f'id="certificate-{old.id}" data-status="revoked"' in html
    assert certificate.serial in html
    assert "Khoá học An toàn thông tin" in html
    assert f'href="/certificates/{certificate.id}.pdf"' in html
    assert f'href="/certificates/{certificate.id}/badge.jwt"' in html
    assert f'href="/certificates/{old.id}.pdf"' not in html
    assert f'href="/verify/{certificate.code}"' in html


def test_my_certificates_needs_a_sign_in_and_lists_only_ones_own(client, users, certificate,
                                                                login_as):
    assert client.get("/me/certificates").status_code == 302
    login_as(users["office_learner"])
    html = client.get("/me/certificates").get_data(as_text=True)
    assert 'id="no-certificates"' in html
    assert certificate.serial not in html


def test_the_nav_links_to_my_certificates(client, users, login_as):
    login_as(users["learner"])
    assert 'href="/me/certificates"' in client.get("/me/certificates").get_data(as_text=True)


def test_the_holder_downloads_the_signed_pdf(client, users, certificate, login_as):
    login_as(users["learner"])
    response = client.get(f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="certificate-{certificate.serial}.pdf"')
    report = verify_pdf(response.data, public_keys())
    assert report.valid, report.problems
    assert report.claims.code == certificate.code


def test_others_get_404_for_any_certificate_id_even_sequential_ones(client, users, org,
                                                                   certificate, login_as):
    second = issue(make_user(org["commune"]), kind="course", title="B",
                   course=make_course("beta", 1))
    login_as(users["office_learner"])
    for certificate_id in (certificate.id, second.id, second.id + 1, second.id + 1000):
        assert client.get(f"/certificates/{certificate_id}.pdf").status_code == 404
        assert client.get(f"/certificates/{certificate_id}/badge.jwt").status_code == 404


def test_a_head_of_the_holders_unit_may_not_download_either(client, users, certificate,
                                                            login_as):
    login_as(users["head"])
    assert client.get(f"/certificates/{certificate.id}.pdf").status_code == 404


def test_hr_downloads_within_its_scope_only_and_admins_everywhere(client, users, org,
                                                                 certificate, login_as):
    in_dept = issue(users["office_learner"], kind="course", title="Văn phòng",
                    course=make_course("gamma", 1))
    login_as(users["hr"])  # HR of the department; the learner is in a district commune
    assert client.get(f"/certificates/{in_dept.id}.pdf").status_code == 200
    assert client.get(f"/certificates/{certificate.id}.pdf").status_code == 404
    login_as(users["admin"])
    assert client.get(f"/certificates/{certificate.id}/badge.jwt").status_code == 200


def test_downloads_need_a_sign_in(client, certificate):
    response = client.get(f"/certificates/{certificate.id}.pdf")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_badge_download_verifies_against_the_published_keys(client, users, certificate,
                                                                login_as):
    login_as(users["learner"])
    response = client.get(f"/certificates/{certificate.id}/badge.jwt")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="certificate-{certificate.serial}.jwt"')
    keys = keys_from_jwks(client.get("/.well-known/jwks.json").get_json())
    payload = verify_badge_jwt(response.get_data(as_text=True), keys)
    assert payload["jti"].endswith(f"/verify/{certificate.code}")
    subject = payload["vc"]["credentialSubject"]
    assert subject["name"] == "Nguyễn Văn Hùng"
    assert subject["achievement"]["name"] == "Khoá học An toàn thông tin"
