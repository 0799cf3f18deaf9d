"""Two-factor sign-in in a real browser: a head sets up an authenticator at first sign-in,
keeps the recovery codes, then signs in with a code; the pages pass an axe scan."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.axe import AXE_CONTEXT, describe, scan
from tests.browser.conftest import PASSWORD, add_person, add_unit, sign_out

pytestmark = pytest.mark.browser

NAME = "Lê Văn Trưởng"


@pytest.fixture
def head(seed):
    """A district head who has set a password but no authenticator yet."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        add_unit("T.H1", "Huyện Đông Sơn", "T")
        return add_person("D0001", NAME, "T.H1", role="head", two_factor=False).employee_id
    return seed(create)


def type_password(page, login):
    page.goto("/login")
    page.locator("#login-form input[name=login]").fill(login)
    page.locator("#login-form input[name=password]").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()


def test_a_head_sets_up_two_factor_then_signs_in_with_a_code(page, head):
    type_password(page, head)
    expect(page).to_have_url(re.compile(r"/account/two-factor/setup$"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    # Any other page leads back here until it is done.
    page.goto("/reports/")
    expect(page).to_have_url(re.compile(r"/account/two-factor/setup$"))

    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.locator("#setup-form input[name=code]").fill("000000")
    page.locator("#setup-form button[type=submit]").click()
    expect(page.locator(".field.has-error")).to_be_visible()
    page.locator("#setup-form input[name=code]").fill(pyotp.TOTP(secret).now())
    page.locator("#setup-form button[type=submit]").click()
    codes = page.locator("ul.recovery-codes code")
    expect(codes).to_have_count(10)
    first_code = codes.first.inner_text()

    page.get_by_role("link", name=re.compile("đã cất|kept them", re.I)).click()
    expect(page.locator("h1")).to_contain_text(NAME)

    sign_out(page)
    type_password(page, head)
    expect(page).to_have_url(re.compile(r"/login/code$"))
    page.locator("#code-form input[name=code]").fill(first_code)
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(NAME)
    expect(page.locator(".flash-info")).to_contain_text("9")


def test_the_two_factor_pages_pass_an_axe_scan(new_page, head):
    page = new_page(**AXE_CONTEXT)
    type_password(page, head)
    expect(page).to_have_url(re.compile(r"/account/two-factor/setup$"))
    found = {"setup": scan(page)}
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.locator("#setup-form input[name=code]").fill(pyotp.TOTP(secret).now())
    page.locator("#setup-form button[type=submit]").click()
    found["recovery codes"] = scan(page)
    page.goto("/account/security")
    found["security"] = scan(page)
    sign_out(page)
    type_password(page, head)
    found["code"] = scan(page)
    problems = {where: describe(v) for where, v in found.items() if v}
    assert not problems, problems
