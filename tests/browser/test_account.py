"""Signing in and choosing the language, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import add_person, add_unit, sign_in, sign_out

pytestmark = pytest.mark.browser

NAME = "Nguyễn Thị Hồng Nhung"


@pytest.fixture
def nhung(seed):
    """A learner who has set her password."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        return add_person("NV0042", NAME, "T").employee_id
    return seed(create)


def test_sign_in_with_employee_id_greets_by_full_name(page, nhung):
    sign_in(page, nhung)

    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.locator("h1")).to_contain_text(NAME)
    expect(page.locator("header")).to_contain_text(NAME)


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(page, nhung):
    sign_in(page, nhung, "not the right password")

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-error[role=alert]")).to_be_visible()
    expect(page.locator("#login-form input[name=password]")).to_have_value("")
    expect(page.locator("#login-form input[name=login]")).to_have_value(nhung)
    expect(page.locator("h1")).not_to_contain_text(NAME)


def test_language_choice_is_remembered_for_the_user(page, nhung):
    sign_in(page, nhung)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "vi")

    page.get_by_role("button", name="English").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/home$"))  # back where the user was

    sign_out(page)
    # Signing out forgets the browser's choice: the login page is Vietnamese again...
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(html).to_have_attribute("lang", "vi")
    sign_in(page, nhung)
    # ...and signing in brings back the user's own.
    expect(page.locator("h1")).to_contain_text(NAME)
    expect(html).to_have_attribute("lang", "en")
