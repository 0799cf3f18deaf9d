"""The upload page: preview what a file would change, then apply it."""

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.extensions import db
from lms.org.services import unit_by_code
from tests.conftest import make_user

DATA = Path(__file__).parent / "data"
STAFF = "employee_id,full_name,email,unit_code,category,role\n"
SCOPED = STAFF + "N1,Đỗ Văn Nam,nam@example.gov.vn,P.STTTT.VP,cadre,\n"


pytestmark = pytest.mark.usefixtures("english")  # assertions read the English texts


def upload(client, data, kind="staff", name="roster.csv", deactivate_missing=False):
    form = {"kind": kind, "file": (io.BytesIO(data), name)}
    if deactivate_missing:
        form["deactivate_missing"] = "y"
    return client.post("/org/import", data=form, content_type="multipart/form-data")


def token_of(page):
    return re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)


def find(employee_id):
    return db.session.scalar(select(User).where(User.employee_id == employee_id))


def test_the_upload_form(as_hr):
    page = as_hr.get("/org/import").get_data(as_text=True)
    assert 'id="import-form"' in page
    assert 'enctype="multipart/form-data"' in page
    assert ">Preview</button>" in page
    assert 'name="deactivate_missing"' in page


@pytest.mark.parametrize("who", ["as_learner", "as_head"])
def test_learners_and_heads_may_not_import(request, who):
    client = request.getfixturevalue(who)
    assert client.get("/org/import").status_code == 403
    assert upload(client, SCOPED.encode()).status_code == 403
    assert client.post("/org/import/apply", data={"token": "x"}).status_code == 403


def test_preview_shows_the_counts_and_writes_nothing(as_admin, uploads):
    response = upload(as_admin, (DATA / "staff.csv").read_bytes(), deactivate_missing=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    summary = page.split('id="import-summary"')[1].split("</section>")[0]
    assert 'data-count="added">2<' in summary
    assert 'data-count="unchanged">2<' in summary
    assert 'data-count="deactivated">2<' in summary
    assert "Đỗ Thị Lan" in page
    assert 'id="apply"' in page
    assert 'id="import-errors"' not in page
    assert find("S0001") is None
    assert len(uploads()) == 1


def test_preview_lists_errors_and_offers_no_apply(as_hr, uploads):
    data = (SCOPED + "N2,Người Hai,nam@example.gov.vn,P.H1.X1,cadre,\n").encode()
    page = upload(as_hr, data).get_data(as_text=True)
    errors = page.split('id="import-errors"')[1].split("</table>")[0]
    assert re.search(r"<td class=\"num\">3</td><td>email</td><td>The email "
                     r"“nam@example.gov.vn” is already on row 2.</td>", errors)
    assert re.search(r"<td class=\"num\">3</td><td>unit_code</td><td>This unit is outside",
                     errors)
    assert 'id="apply"' not in page
    assert not uploads()


def test_apply_writes_the_import_and_removes_the_upload(as_hr, users, uploads):
    page = upload(as_hr, SCOPED.encode()).get_data(as_text=True)
    response = as_hr.post("/org/import/apply", data={"token": token_of(page)},
                          follow_redirects=True)
    assert response.request.path == "/org/import"
    assert "roster.csv imported: 1 added, 0 updated, 0 unchanged, 0 deactivated." \
        in response.get_data(as_text=True)
    assert find("N1").unit.code == "P.STTTT.VP"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import_staff")).one()
    assert event.actor_id == users["hr"].id
    assert not uploads()
    again = as_hr.post("/org/import/apply", data={"token": token_of(page)},
                       follow_redirects=True)
    assert "This preview has expired or was already applied." in again.get_data(as_text=True)


def test_apply_checks_the_file_again(as_hr, users, org):
    page = upload(as_hr, SCOPED.encode()).get_data(as_text=True)
    make_user(org["commune"], email="nam@example.gov.vn")  # the address is taken meanwhile
    response = as_hr.post("/org/import/apply", data={"token": token_of(page)})
    assert "This email already belongs to another person." in response.get_data(as_text=True)
    assert find("N1") is None


def test_a_token_works_only_for_the_user_it_was_issued_to(as_hr, login_as, users):
    page = upload(as_hr, SCOPED.encode()).get_data(as_text=True)
    login_as(users["admin"])
    response = as_hr.post("/org/import/apply", data={"token": token_of(page)},
                          follow_redirects=True)
    assert "This preview has expired" in response.get_data(as_text=True)
    assert find("N1") is None


@pytest.mark.parametrize("token", ["", "forged", "a" * 500])
def test_bad_tokens_are_refused_without_error(as_hr, token):
    response = as_hr.post("/org/import/apply", data={"token": token})
    assert response.status_code == 302


@pytest.mark.parametrize(("data", "name", "kind", "message"), [
    (b"PK\x03\x04\x14\x00\x06\x00rest", "roster.xlsx", "staff",
     "roster.xlsx: this is not a CSV text file (it looks like a ZIP archive)."),
    ("hello".encode("utf-16"), "roster.csv", "staff", "save it as “CSV UTF-8”"),
    (SCOPED.encode(), "roster.csv", "people", "Not a valid choice"),
])
def test_unusable_uploads_are_refused_on_the_form(as_hr, uploads, data, name, kind, message):
    response = upload(as_hr, data, kind=kind, name=name)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert 'id="import-form"' in response.get_data(as_text=True)
    assert not uploads()


def test_a_missing_file_is_a_form_error(as_hr):
    response = as_hr.post("/org/import", data={"kind": "staff"},
                          content_type="multipart/form-data")
    assert "Choose a file." in response.get_data(as_text=True)


def test_an_empty_file_is_a_form_error(as_hr):
    response = upload(as_hr, b"")
    assert "roster.csv: the file is empty." in response.get_data(as_text=True)


def test_an_admin_imports_units_through_the_page(as_admin, org):
    page = upload(as_admin, (DATA / "units.csv").read_bytes(), kind="units",
                  name="units.csv").get_data(as_text=True)
    assert 'data-count="added">2<' in page
    as_admin.post("/org/import/apply", data={"token": token_of(page)})
    assert unit_by_code("P.H1.X2").path.startswith(org["district"].path)


def test_both_forms_carry_a_csrf_token(csrf_app, as_hr):
    page = as_hr.get("/org/import").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = as_hr.post("/org/import", content_type="multipart/form-data", data={
        "csrf_token": csrf, "kind": "staff", "file": (io.BytesIO(SCOPED.encode()), "r.csv")})
    form = response.get_data(as_text=True).split('id="apply-form"')[1]
    assert 'name="csrf_token"' in form
    assert 'name="token"' in form
