"""Certificates in a real browser: the public check (typed code, revoked, unknown, a name
with markup), the learner's certificates and the PDF download, and axe-core scans of these
pages in Vietnamese and in English (no serious or critical violation)."""

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from lms.certificates.services import issue, revoke
from tests.browser.axe import AXE_CONTEXT, describe, require_axe, scan
from tests.browser.conftest import add_person, add_unit, sign_in
from tests.course_factories import make_course

pytestmark = pytest.mark.browser

HOLDER = "Nguyễn Thị Hồng Nhung"
HOLDER_ID = "NV0042"
HOLDER_EMAIL = "nhung.nth@example.gov.vn"
COURSE = "Khoá học An toàn thông tin"
OLD_COURSE = "Kỹ năng số cơ bản"
REVOKED_ON = datetime(2026, 3, 5, 9, 0)
REASON = "Gian lận khi làm bài"
PAYLOAD = "<img src=x onerror=alert(1)>Nguyễn Văn A"
MARKUP_TITLE = "<b>Tiêu đề</b> đậm"

MY_CERTIFICATES = {"vi": "Chứng nhận của tôi", "en": "My certificates"}


@pytest.fixture
def certificates(seed):
    """The holder with a valid certificate and a revoked one, and a holder whose name is an
    XSS payload; what the tests need to know about them (plain values, not rows)."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        add_unit("T.VP", "Văn phòng UBND tỉnh", "T")
        holder = add_person(HOLDER_ID, HOLDER, "T.VP", email=HOLDER_EMAIL)
        valid = issue(holder, kind="course", title=COURSE, course=make_course("attt", 1))
        revoked = issue(holder, kind="course", title=OLD_COURSE, course=make_course("kns", 1))
        revoke(revoked, REASON, now=REVOKED_ON)
        mallory = add_person("NV6666", PAYLOAD, "T.VP")
        marked = issue(mallory, kind="course", title=MARKUP_TITLE,
                       course=make_course("xss", 1))
        return {
            "login": holder.employee_id,
            "valid": {"id": valid.id, "code": valid.code, "serial": valid.serial,
                      "issuer": valid.issuer},
            "revoked": {"id": revoked.id, "code": revoked.code, "serial": revoked.serial},
            "xss": {"login": mallory.employee_id, "code": marked.code},
        }
    return seed(create)


def choose_language(page, lang):
    """Press the header's language button (Vietnamese is the default)."""
    if lang != "vi":
        page.locator(f"header form.lang button[value={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


# The public check --------------------------------------------------------------------------

def test_a_code_typed_on_the_form_shows_the_valid_certificate_without_private_data(
        page, certificates):
    valid = certificates["valid"]
    page.goto("/verify")
    expect(page.locator("h1")).to_have_text("Tra cứu chứng nhận")

    field = page.get_by_label("Mã chứng nhận")
    field.press_sequentially(valid["code"])  # typed key by key, as a person would
    page.get_by_role("button", name="Kiểm tra").click()

    expect(page).to_have_url(re.compile(rf"/verify/{re.escape(valid['code'])}$"))
    status = page.locator("#verify-status")
    expect(status).to_have_attribute("data-status", "valid")
    expect(status).to_contain_text("Còn hiệu lực")
    expect(status).to_contain_text("chứng nhận này do hệ thống cấp và đang còn hiệu lực.")
    expect(page.locator("#cert-name")).to_have_text(HOLDER)
    expect(page.locator("#cert-title")).to_have_text(COURSE)
    expect(page.locator("#certificate")).to_contain_text("Khóa học")  # the title's label
    expect(page.locator("#cert-issuer")).to_have_text(valid["issuer"])
    expect(page.locator("#cert-serial")).to_have_text(valid["serial"])
    expect(page.locator("#cert-revoked")).to_have_count(0)

    html = page.content()
    assert HOLDER_EMAIL not in html
    assert HOLDER_ID not in html
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", page.locator("body").inner_text()), \
        "the public check shows an email address"


def test_a_pasted_address_on_the_form_leads_to_the_same_check(page, certificates):
    code = certificates["valid"]["code"]
    page.goto("/verify")
    page.get_by_label("Mã chứng nhận").fill(f"  https://lms.example.gov.vn/verify/{code} ")
    page.get_by_label("Mã chứng nhận").press("Enter")
    expect(page).to_have_url(re.compile(rf"/verify/{re.escape(code)}$"))
    expect(page.locator("#verify-status")).to_have_attribute("data-status", "valid")


def test_a_revoked_certificate_says_so_with_the_date_but_not_the_reason(page, certificates):
    response = page.goto(f"/verify/{certificates['revoked']['code']}")
    assert response.status == 200

    status = page.locator("#verify-status")
    expect(status).to_have_attribute("data-status", "revoked")
    expect(status).to_contain_text("Đã thu hồi")
    expect(status).to_contain_text("chứng nhận này đã bị thu hồi ngày 5 tháng 3, 2026.")
    expect(page.locator("#cert-revoked time")).to_have_attribute("datetime", "2026-03-05")
    expect(page.locator("#cert-revoked")).to_have_text("5 tháng 3, 2026")
    expect(page.locator("#cert-name")).to_have_text(HOLDER)
    expect(page.locator("#cert-title")).to_have_text(OLD_COURSE)
    expect(page.locator("main")).not_to_contain_text(REASON)
    expect(page.locator("main")).not_to_contain_text("Còn hiệu lực")


def test_an_unknown_code_shows_not_found_and_the_form_again(page, certificates):
    page.goto("/verify")
    page.get_by_label("Mã chứng nhận").fill("khong-co-ma-nay")
    with page.expect_response(re.compile(r"/verify/khong-co-ma-nay$")) as answer:
        page.get_by_role("button", name="Kiểm tra").click()
    assert answer.value.status == 404

    expect(page.locator("h1")).to_have_text("Không tìm thấy chứng nhận")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        "Không có chứng nhận nào mang mã này. Hãy kiểm tra mã đã nhập đúng như bản in.")
    expect(page.locator("#certificate")).to_have_count(0)
    # The form is there to try again, and a right code then succeeds.
    page.get_by_label("Mã chứng nhận").fill(certificates["valid"]["code"])
    page.get_by_role("button", name="Kiểm tra").click()
    expect(page.locator("#verify-status")).to_have_attribute("data-status", "valid")
    expect(page.locator("#cert-name")).to_have_text(HOLDER)


def test_a_name_with_markup_is_shown_as_text_and_never_runs(page, certificates):
    dialogs = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"/verify/{certificates['xss']['code']}")
    expect(page.locator("#verify-status")).to_have_attribute("data-status", "valid")
    expect(page.locator("#cert-name")).to_have_text(PAYLOAD)
    expect(page.locator("#cert-title")).to_have_text(MARKUP_TITLE)
    expect(page.locator("#certificate img")).to_have_count(0)
    expect(page.locator("#certificate b")).to_have_count(0)
    expect(page.locator("img[src=x]")).to_have_count(0)

    # The holder signs in: the header shows the same literal name.
    sign_in(page, certificates["xss"]["login"])
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.locator("header")).to_contain_text(PAYLOAD)
    page.goto("/me/certificates")
    expect(page.locator("#certificates tbody")).to_contain_text(MARKUP_TITLE)
    expect(page.locator("img[src=x]")).to_have_count(0)
    expect(page.locator("main b")).to_have_count(0)
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert dialogs == []


# The holder's certificates ---------------------------------------------------------------

def test_the_learner_finds_the_certificate_and_downloads_the_pdf(page, certificates):
    valid, revoked = certificates["valid"], certificates["revoked"]
    sign_in(page, certificates["login"])
    expect(page).to_have_url(re.compile(r"/home$"))

    page.locator("header nav").get_by_role("link", name=MY_CERTIFICATES["vi"]).click()
    expect(page).to_have_url(re.compile(r"/me/certificates$"))
    expect(page.locator("h1")).to_have_text(MY_CERTIFICATES["vi"])

    row = page.locator(f"#certificate-{valid['id']}")
    expect(row).to_have_attribute("data-status", "valid")
    expect(row).to_contain_text(COURSE)
    expect(row).to_contain_text("Còn hiệu lực")
    expect(row).to_contain_text(valid["serial"])
    old = page.locator(f"#certificate-{revoked['id']}")
    expect(old).to_contain_text("Đã thu hồi")
    expect(old.get_by_role("link", name="PDF")).to_have_count(0)  # nothing to download
    expect(row.get_by_role("link", name="Tra cứu công khai")).to_have_attribute(
        "href", re.compile(rf"/verify/{re.escape(valid['code'])}$"))

    with page.expect_download() as downloading:
        row.get_by_role("link", name="PDF").click()
    download = downloading.value
    assert download.failure() is None
    assert download.suggested_filename == f"certificate-{valid['serial']}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


# Accessibility ----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["vi", "en"])
def test_certificate_pages_have_no_serious_accessibility_violations(new_page, certificates,
                                                                    lang):
    require_axe()
    page = new_page(**AXE_CONTEXT)  # bypass_csp: only so that axe can be injected
    found = {}

    page.goto("/verify")
    choose_language(page, lang)
    expect(page.locator("form#verify-form")).to_be_visible()
    found["/verify"] = scan(page)
    for name in ("valid", "revoked"):
        path = f"/verify/{certificates[name]['code']}"
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("#verify-status")).to_have_attribute("data-status", name)
        found[path] = scan(page)
    page.goto("/verify/not-a-real-code")
    expect(page.locator("#verify-status")).to_have_attribute("data-status", "unknown")
    found["/verify/not-a-real-code"] = scan(page)

    sign_in(page, certificates["login"])
    expect(page).to_have_url(re.compile(r"/home$"))
    page.goto("/me/certificates")
    choose_language(page, lang)
    expect(page.locator("h1")).to_have_text(MY_CERTIFICATES[lang])
    expect(page.locator("#certificates tbody tr")).to_have_count(2)
    found["/me/certificates"] = scan(page)

    bad = {path: violations for path, violations in found.items() if violations}
    assert not bad, "\n".join(f"{path} ({lang}):\n{describe(v)}" for path, v in bad.items())
