"""Uploads and served files: size caps, types read from the content, private storage, and
course media that never runs on our origin."""

import codecs
import io
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from flask import session
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.courses.content import load_content
from lms.courses.models import Course
from lms.courses.sync import apply_sync, plan_sync
from lms.extensions import db
from lms.uploads import check_upload, display_name
from tests.test_content import FIXTURES

STAFF = "employee_id,full_name,email,unit_code,category,role\n"
ROSTER = STAFF + "N1,Đỗ Văn Nam,nam@example.gov.vn,P.STTTT.VP,cadre,\n"
PNG = (FIXTURES / "small/courses/first-steps/vi/img/pixel.png").read_bytes()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
MEDIA = "/courses/first-steps/media/vi/"


def _zip(**members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name.replace("__", "/"), text)
    return out.getvalue()


XLSX = _zip(**{"[Content_Types].xml": "<Types/>", "xl__workbook.xml": "<workbook/>"})
# 20 MB of sheet in 20 KB: refused from the archive's directory, never unpacked.
BOMB = _zip(**{"[Content_Types].xml": "<Types/>", "xl__workbook.xml": "<workbook/>",
               "xl__worksheets__sheet1.xml": "0" * 20_000_000})


def upload(client, data, name="roster.csv", kind="staff"):
    return client.post("/org/import", data={"kind": kind, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def people():
    return db.session.scalar(select(func.count()).select_from(User))


def form_errors(response):
    page = response.get_data(as_text=True)
    assert 'id="import-form"' in page
    return page


# Rosters: the type comes from the content -------------------------------------------------

@pytest.mark.parametrize(("data", "looks_like"), [
    (_zip(roster__csv=ROSTER), "a ZIP archive"),
    (XLSX, "an Excel workbook"),
    (BOMB, "an Excel workbook"),
    (b"%PDF-1.7\n" + ROSTER.encode(), "a PDF document"),
    (PNG, "a PNG image"),
    (b"\xff\xd8\xff\xe0" + bytes(20), "a JPEG image"),
    (b"\n <!DOCTYPE html><html><script>alert(1)</script>" + ROSTER.encode(),
     "a web page (HTML or XML)"),
    (codecs.BOM_UTF8 + SVG, "an SVG image"),
    (b"MZ\x90\x00" + bytes(60), "a program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "an Excel or Word file"),
    (ROSTER.encode() + b"\x00\x00", "a binary file"),
])
def test_a_file_that_is_not_csv_is_refused_whatever_its_name(as_hr, english, uploads,
                                                             data, looks_like):
    before = people()
    response = upload(as_hr, data, name="roster.csv")
    assert response.status_code == 200
    assert f"roster.csv: this is not a CSV text file (it looks like {looks_like}). Only CSV " \
           "files can be imported: save it as “CSV UTF-8”." in form_errors(response)
    assert 'id="import-summary"' not in response.get_data(as_text=True)
    assert not uploads()
    assert people() == before


def test_the_browser_content_type_does_not_matter(as_hr, english, uploads):
    response = as_hr.post("/org/import", content_type="multipart/form-data", data={
        "kind": "staff", "file": (io.BytesIO(PNG), "roster.csv", "text/csv")})
    assert "it looks like a PNG image" in form_errors(response)
    assert not uploads()


def test_a_file_in_another_encoding_names_its_first_bad_line(as_hr, english, uploads):
    data = (STAFF + "N1,Nguyen Van A,a@example.gov.vn,P.STTTT.VP,cadre,\n"
            + "N2,Lê Văn Bé,b@example.gov.vn,P.STTTT.VP,cadre,\n").encode("cp1258")
    response = upload(as_hr, data)
    assert "roster.csv: line 3 is not UTF-8 text: save the file as “CSV UTF-8”." \
        in form_errors(response)
    assert not uploads()


def test_a_file_over_the_cap_is_refused_with_the_limit(app, as_hr, english, uploads,
                                                       monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 2048)
    before = people()
    data = (STAFF + "".join(f"N{n},Người {n},n{n}@example.gov.vn,P.STTTT.VP,cadre,\n"
                            for n in range(60))).encode()
    assert len(data) > 2048
    response = upload(as_hr, data, name="big.csv")
    assert "big.csv: the file is larger than the 2 KB allowed. Split it into smaller files." \
        in form_errors(response)
    assert not uploads()
    assert people() == before


def test_a_request_over_the_global_limit_gets_the_friendly_page(app, as_hr, uploads,
                                                                monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = upload(as_hr, ROSTER.encode() * 100)
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "413 — Tệp quá lớn" in page  # the app's own error page, in Vietnamese
    assert '<header class="site">' in page
    assert "4 KB" in page
    assert "Request Entity Too Large" not in page
    assert not uploads()


def test_the_too_large_page_in_english_even_with_csrf_on(app, csrf_app, as_hr, english,
                                                          monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = upload(as_hr, ROSTER.encode() * 100)
    assert response.status_code == 413
    assert "What you sent is larger than the 4 KB allowed. Split the file into smaller " \
           "files." in response.get_data(as_text=True)


def test_any_form_over_the_limit_gets_the_page_not_an_error(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = client.post("/login", data={"login": "x" * 10_000, "password": "y"})
    assert response.status_code == 413
    assert "413 — Tệp quá lớn" in response.get_data(as_text=True)


def test_a_vietnamese_csv_with_a_bom_still_imports(as_hr, english, uploads):
    page = upload(as_hr, codecs.BOM_UTF8 + ROSTER.encode(), name="danh-sách.csv") \
        .get_data(as_text=True)
    assert 'data-count="added">1<' in page
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    response = as_hr.post("/org/import/apply", data={"token": token}, follow_redirects=True)
    assert "danh-sách.csv imported: 1 added" in response.get_data(as_text=True)
    person = db.session.scalar(select(User).where(User.employee_id == "N1"))
    assert person.full_name == "Đỗ Văn Nam"
    assert not uploads()


def test_stored_uploads_are_private_and_randomly_named(as_hr, english, uploads):
    hostile = "../../../tmp/\u202eroster\x07.csv"
    pages = [upload(as_hr, ROSTER.encode(), name=hostile).get_data(as_text=True)
             for _ in range(2)]
    stored = uploads()
    assert len(stored) == 2
    for path in stored:
        assert re.fullmatch(r"[0-9a-f]{32}", path.name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_bytes() == ROSTER.encode()
    assert stat.S_IMODE(next(iter(stored)).parent.stat().st_mode) == 0o700
    assert not Path("/tmp/roster.csv").exists()
    assert "roster.csv" in pages[0]
    assert "\u202e" not in pages[0]
    assert "../" not in pages[0].split('id="import-summary"')[1]


def test_nothing_is_audited_for_a_refused_file(as_hr, english):
    upload(as_hr, XLSX, name="roster.xlsx")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "import_staff")) == 0


@pytest.mark.parametrize(("filename", "shown"), [
    ("roster.csv", "roster.csv"),
    ("C:\\Users\\lan\\Desktop\\roster.csv", "roster.csv"),
    ("../../etc/passwd", "passwd"),
    ("..", "upload"),
    ("", "upload"),
    (None, "upload"),
    ("evil\u202egnp.csv", "evilgnp.csv"),  # a right-to-left override would show "vsc.png"
    ("a\x00b\r\nc\x1b[31m.csv", "abc[31m.csv"),
    ("danh\u00a0\u00a0sách   2026.csv", "danh sách 2026.csv"),
    ("Danh sa\u0301ch.csv", "Danh sách.csv"),  # macOS writes decomposed accents
    ("x" * 300 + ".csv", "x" * 95 + "….csv"),
    ("y" * 300, "y" * 99 + "…"),
])
def test_display_names_are_safe_to_show(filename, shown):
    assert display_name(filename) == shown
    assert len(display_name(filename)) <= 100


@pytest.mark.parametrize(("data", "problem"), [
    (PNG, None),
    (b"\xff\xd8\xff\xdb" + bytes(10), None),
    (b"GIF89a" + bytes(10), None),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(10), None),
    (SVG, "pic.png: this is not a PNG, JPEG, GIF or WebP image (it looks like an SVG image)."),
    (b"<html><body>hi</body></html>", "(it looks like a web page (HTML or XML))"),
    (b"just text", "pic.png: this is not a PNG, JPEG, GIF or WebP image."),
    (b"", "pic.png: the file is empty."),
])
def test_images_are_recognised_by_their_bytes(app, data, problem):
    with app.test_request_context():
        session["lang"] = "en"
        found = check_upload(data, "pic.png", ("image",))
    assert found == problem or (problem is not None and problem in found)


# Course media: served from the course folder only, never run -------------------------------

@pytest.fixture
def synced(app, db, tmp_path, monkeypatch):
    """tests/content/small copied to a private folder and synced; returns the image folder."""
    folder = tmp_path / "content"
    shutil.copytree(FIXTURES / "small", folder)
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(folder))
    apply_sync(plan_sync(load_content(folder)))
    return folder / "courses/first-steps/vi/img"


def test_a_png_is_shown_inline_with_its_type(synced, as_learner):
    response = as_learner.get(MEDIA + "img/pixel.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert not response.headers.get("Content-Disposition", "").startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == PNG
    response.close()


def test_an_svg_is_only_downloaded(synced, as_learner):
    response = as_learner.get(MEDIA + "img/drawing.svg")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "drawing.svg" in response.headers["Content-Disposition"]
    assert response.mimetype == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    response.close()


def test_the_bytes_decide_not_the_name(synced, as_learner):
    (synced / "page.png").write_bytes(b"<html><script>alert(document.cookie)</script></html>")
    (synced / "photo.jpg").write_bytes(PNG)
    (synced / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    disguised = as_learner.get(MEDIA + "img/page.png")
    assert disguised.mimetype == "application/octet-stream"
    assert disguised.headers["Content-Disposition"].startswith("attachment")
    assert as_learner.get(MEDIA + "img/photo.jpg").mimetype == "image/png"
    pdf = as_learner.get(MEDIA + "img/report.pdf")
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    for response in (disguised, pdf):
        response.close()


@pytest.mark.parametrize("tail", [
    "../course.md",
    "img/notes.txt",
    "..%2F..%2Fsecond-course%2Fvi%2Fcourse.md",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e/en/img/pixel.png",
    "img/pixel.png%00.svg",
    "img/pi%00xel.png",
    "img%2F..%2F..%2Fen%2Fimg%2Fpixel.png",
    "%2Fetc%2Fhostname.svg",
    "C:%5Cwindows%5Cwin.ini.png",
])
def test_traversal_and_non_media_are_not_found(synced, as_learner, tail):
    assert as_learner.get(MEDIA + tail).status_code == 404


def test_a_symlinked_folder_out_of_the_course_is_not_found(synced, as_learner, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(PNG)
    (synced / "linked").symlink_to(outside)
    assert as_learner.get(MEDIA + "img/linked/secret.png").status_code == 404


@pytest.mark.parametrize(("published", "open_"), [(False, True), (True, False)])
def test_media_of_a_course_the_learner_may_not_read_are_not_found(synced, as_learner,
                                                                  as_admin_too, published,
                                                                  open_):
    course = db.session.scalar(select(Course).where(Course.slug == "first-steps"))
    course.published, course.open = published, open_
    db.session.flush()
    assert as_learner.get(MEDIA + "img/pixel.png").status_code == 404
    assert as_learner.get(MEDIA + "img/drawing.svg").status_code == 404
    preview = as_admin_too.get(MEDIA + "img/pixel.png")  # an admin previews it, images too
    assert preview.status_code == 200
    preview.close()


@pytest.fixture
def as_admin_too(app, users):
    """A second client, signed in as the admin, beside the learner's."""
    from tests.conftest import _login_as

    return _login_as(app.test_client(), users["admin"])
