"""An HR officer imports a roster and finds the new people; the staff list on a phone."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import add_person, add_unit, sign_in

pytestmark = pytest.mark.browser

ROSTER = """\
employee_id,full_name,email,unit_code,category,role
NV1001,Nguyễn Thị Hồng Nhung,nhung.nth@example.gov.vn,T.STTTT,civil_servant,learner
NV1002,Trần Văn Bình,binh.tv@example.gov.vn,T.STTTT,public_employee,
NV1003,Lê Thị Ánh,anh.lt@example.gov.vn,T.H1,cadre,learner
"""
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}


@pytest.fixture
def hr_officer(seed):
    """The province's HR officer, with a department and a district below the province."""
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        add_unit("T.STTTT", "Sở Khoa học và Công nghệ", "T")
        add_unit("T.H1", "Huyện Đông Sơn", "T")
        return add_person("HR0001", "Trần Thị Nhân Sự", "T", role="hr").employee_id
    return seed(create)


def test_hr_imports_a_staff_roster_and_finds_the_new_people(page, hr_officer, tmp_path):
    sign_in(page, hr_officer)
    expect(page).to_have_url(re.compile(r"/home$"))
    response = page.goto("/org/import")
    if response.status == 404:
        pytest.skip("the roster import page (lms/org/import_views.py) is not built yet")
    form = page.locator("form#import-form")
    expect(form).to_be_visible()
    roster = tmp_path / "nhan-su.csv"
    roster.write_text(ROSTER, encoding="utf-8")

    form.locator("select[name=kind]").select_option("staff")
    form.locator("input[type=file][name=file]").set_input_files(roster)
    expect(form.locator("input[type=checkbox][name=deactivate_missing]")).not_to_be_checked()
    form.locator("button[type=submit], input[type=submit]").first.click()

    summary = page.locator("section#import-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("3")
    page.locator("button#apply").click()
    expect(page.locator(".flash-success")).to_contain_text("nhan-su.csv")

    page.goto("/org/staff")
    page.locator("#q").fill("nhung")
    page.locator("#q").press("Enter")
    expect(page).to_have_url(re.compile(r"q=nhung"))
    rows = page.locator("table.staff tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nguyễn Thị Hồng Nhung")
    expect(rows.first).to_contain_text("NV1001")


def test_staff_list_fits_a_phone_screen(new_page, seed, hr_officer, tmp_path):
    def create():
        for n, (name, unit) in enumerate([
            ("Nguyễn Thị Hồng Nhung", "T.STTTT"), ("Trần Văn Bình", "T.STTTT"),
            ("Lê Thị Ánh", "T.H1"), ("Phạm Nguyễn Hoàng Bảo Khánh", "T.H1"),
            ("Đặng Thị Phương Thảo", "T.H1"),
        ], start=1):
            add_person(f"NV2{n:03d}", name, unit, password=None)
    seed(create)
    page = new_page(**PHONE)
    sign_in(page, hr_officer)
    page.goto("/org/staff")

    expect(page.locator("main")).to_contain_text("Phạm Nguyễn Hoàng Bảo Khánh")
    # Nothing sticks out sideways: no horizontal scrolling on a 390 px wide screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    page.screenshot(path=str(shots / "staff.png"), full_page=True)
