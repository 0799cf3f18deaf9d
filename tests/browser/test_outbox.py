"""The outbox in a real browser: an admin follows the navigation to it, sees a failed digest
with the mail server's answer, reads the message, sends it again; an axe-core scan (no
serious or critical violation)."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lms.auth.models import User
from lms.extensions import db
from lms.notify import outbox
from lms.notify.models import OutboxMessage
from tests.browser.axe import AXE_CONTEXT, describe, scan
from tests.browser.conftest import add_person, add_unit, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def failed_digest(seed):
    def create():
        add_unit("T", "Tỉnh Thử Nghiệm")
        add_unit("T.H1", "Huyện Đông Sơn", "T")
        add_person("A0001", "Quản Trị Viên", "T", role="admin")
        head = add_person("D0001", "Lê Văn Trưởng", "T.H1", role="head")
        outbox.enqueue("digest", "2026-W48", head, "Báo cáo tuần 48/2026: Huyện Đông Sơn",
                       "Chào Lê Văn Trưởng,\nTiến độ của đơn vị.",
                       "<p>Chào <b>Lê Văn Trưởng</b></p>", unit=head.unit)
        db.session.flush()
        row = db.session.scalar(select(OutboxMessage))
        row.status, row.attempts = "failed", 1
        row.last_error = "d0001@example.gov.vn: 550 5.1.1 No such user here"
        return row.id
    return seed(create)


def test_an_admin_resends_a_failed_digest(new_page, live_server, failed_digest):
    page = new_page(**AXE_CONTEXT)
    sign_in(page, "A0001")
    page.get_by_role("link", name="Hộp thư đi").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hộp thư đi")
    expect(page.locator("#count-failed")).to_have_text("1")
    row = page.locator(f"#message-{failed_digest}")
    expect(row).to_contain_text("Báo cáo tuần")
    expect(row).to_contain_text("550 5.1.1 No such user here")
    violations = scan(page)
    assert not violations, describe(violations)
    row.get_by_role("link", name="Báo cáo tuần 48/2026: Huyện Đông Sơn").click()
    expect(page.locator("pre.email-text")).to_contain_text("Chào Lê Văn Trưởng,")
    page.get_by_role("button", name="Gửi lại").click()
    expect(page.locator("#count-pending")).to_have_text("1")
    expect(page.get_by_text("đã được đưa lại vào hàng đợi")).to_be_visible()
    with live_server.app.app_context():
        row = db.session.get(OutboxMessage, failed_digest)
        assert (row.status, row.attempts) == ("pending", 0)
        assert db.session.scalar(select(User.full_name).where(User.id == row.user_id)) == \
            "Lê Văn Trưởng"
