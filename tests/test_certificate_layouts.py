"""Certificate layouts and issuing rules (certificates/): checked by sync-content at the line
that is wrong, and applied when a certificate is issued (per issuing unit, per programme)."""

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from lms.certificates.documents import pdf_of
from lms.certificates.layouts import Issuing, issuing_for
from lms.certificates.models import Certificate
from lms.certificates.services import issue
from lms.courses.models import Course
from tests.conftest import make_unit, make_user

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def certs(content):
    """The bundled certificates folder, copied into the test's content folder (its programme
    entry given to the programme of that folder)."""
    shutil.copytree(ROOT / "certificates", content / "certificates")
    _edit(content / "certificates/issuing.yaml", "  basic-digital-skills:", "  starter:")
    return content / "certificates"


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_bundled_certificates_folder_is_valid(certs, sync):
    assert "error" not in sync("--dry-run").output


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  - {type: qr, x: 239, y: 152, size: 34}\n", "",
     "certificates/layouts/default.yaml:15: a layout draws exactly one QR code"),
    ("{type: text, field: serial,", "{type: text, field: serial, when: nothing,",
     "certificates/layouts/default.yaml:40: element 19: when must be one of name, title, "
     "issued_on, score, issuer, signer, serial, code, expires_on"),
    ("{type: text, field: code,", "{type: text, field: serial,",
     "certificates/layouts/default.yaml:15: the claim 'serial' must be shown exactly once "
     "(it is shown 2 times): the offline check compares every claim with the page"),
    ("{type: frame, inset: 8,", "{type: circle, inset: 8,",
     "certificates/layouts/default.yaml:16: element 1: type must be one of frame, rule, qr, "
     "text"),
    ("colour: gold}\n  - {type: text, field: issuer",
     "colour: \"#12\"}\n  - {type: text, field: issuer",
     "certificates/layouts/default.yaml:17: element 2: colour '#12' is neither #rrggbb nor a "
     "name under colours"),
    ("fonts/NotoSans-Bold.ttf", "fonts/Missing.ttf",
     "certificates/layouts/default.yaml:9: font file 'fonts/Missing.ttf' not found (fonts are "
     "looked up from the certificates folder)"),
    ("y: 66, size: 30,", "y: 66, size: big,",
     "certificates/layouts/default.yaml:21: element 6: size must be a number of millimetres "
     "(or points for size)"),
])
def test_a_broken_layout_is_reported_at_its_line_and_nothing_is_synced(
        db, certs, sync, old, new, expected):
    _edit(certs / "layouts/default.yaml", old, new)
    result = sync(code=1)
    assert expected in result.stderr.splitlines()
    assert db.session.scalar(select(func.count(Course.id))) == 0


@pytest.mark.parametrize(("addition", "expected"), [
    ("units:\n  P:\n    layout: gala\n",
     "certificates/issuing.yaml:22: unit P: no layout 'gala' (layouts: default, programme)"),
    ("units:\n  P:\n    signature: Giám đốc\n",
     "certificates/issuing.yaml:22: unit P: unknown key 'signature' (expected layout, signer, "
     "issuer)"),
    ("seal: red\n", "certificates/issuing.yaml:21: unknown key 'seal'"),
    ("units:\n  P:\n    signer: ''\n",
     "certificates/issuing.yaml:22: unit P: signer must be a non-empty text"),
])
def test_a_broken_issuing_file_is_reported_at_its_line(db, certs, sync, addition, expected):
    text = (certs / "issuing.yaml").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert len(lines) >= 20
    # Keep the file's own keys; append the entry to check after them, from line 21 on.
    kept = [line for line in lines if not line.startswith(("programmes:", "  starter",
                                                           "    layout: programme"))]
    body = "\n".join(kept[:20] + [""] * (20 - len(kept[:20]))) + "\n" + addition
    (certs / "issuing.yaml").write_text(body, encoding="utf-8")
    assert expected in sync(code=1).stderr.splitlines()


def test_an_unknown_programme_in_the_issuing_file_is_reported(db, certs, sync):
    _edit(certs / "issuing.yaml", "  starter:", "  no-such-programme:")
    assert any(line.endswith("unknown programme 'no-such-programme'")
               for line in sync(code=1).stderr.splitlines())


def test_the_missing_default_layout_is_reported(db, certs, sync):
    (certs / "layouts/default.yaml").unlink()
    assert "certificates/layouts/default.yaml:1: missing: the default layout is used when " \
           "nothing else is set" in sync(code=1).stderr.splitlines()


def test_settings_come_from_the_nearest_issuing_unit_then_the_programme(
        app, db, certs, org, users, monkeypatch):
    monkeypatch.setitem(app.config, "CERT_LAYOUT_DIR", str(certs))
    learner, office_learner = users["learner"], users["office_learner"]
    assert issuing_for(learner) == Issuing("default", "Trưởng ban tổ chức bồi dưỡng",
                                           "Xã Đông Hòa")  # no unit entry: own unit
    (certs / "issuing.yaml").write_text(
        "default: {signer: Trưởng ban}\n"
        "units:\n"
        "  P: {signer: Chủ tịch UBND tỉnh}\n"
        "  P.STTTT: {signer: Giám đốc Sở, issuer: Sở KH&CN tỉnh Thử Nghiệm}\n"
        "programmes:\n"
        "  starter: {layout: programme}\n", encoding="utf-8")
    assert issuing_for(learner) == Issuing("default", "Chủ tịch UBND tỉnh", "Tỉnh Thử Nghiệm")
    assert issuing_for(office_learner) == Issuing(
        "default", "Giám đốc Sở", "Sở KH&CN tỉnh Thử Nghiệm")
    assert issuing_for(office_learner, "starter") == Issuing(
        "programme", "Giám đốc Sở", "Sở KH&CN tỉnh Thử Nghiệm")
    assert issuing_for(users["admin"]) == Issuing("default", "Trưởng ban", "")


def test_a_programme_certificate_is_printed_on_the_programme_layout(
        app, db, certs, users, monkeypatch):
    from tests.course_factories import make_programme

    monkeypatch.setitem(app.config, "CERT_LAYOUT_DIR", str(certs))
    (certs / "issuing.yaml").write_text(
        "default: {signer: Trưởng ban tổ chức bồi dưỡng}\n"
        "units:\n  P.H1: {signer: Chủ tịch UBND huyện}\n"
        "programmes:\n  starter: {layout: programme}\n", encoding="utf-8")
    programme = make_programme("starter", [])
    learner = users["learner"]
    certificate = issue(learner, kind="programme", title="Kỹ năng số cơ bản",
                        programme=programme)
    db.session.commit()
    assert (certificate.layout, certificate.signer, certificate.issuer) == (
        "programme", "Chủ tịch UBND huyện", "Huyện Đông Sơn")
    with app.test_request_context():
        page = PdfReader(io.BytesIO(pdf_of(certificate))).pages[0]
    assert float(page.mediabox.height) > float(page.mediabox.width)  # portrait
    lines = page.extract_text().splitlines()
    assert "GIẤY CHỨNG NHẬN" in lines
    assert "Chủ tịch UBND huyện" in lines
    assert "Huyện Đông Sơn" in lines
    assert learner.full_name in lines


def test_a_layout_removed_after_sync_falls_back_to_the_default(
        app, db, certs, org, monkeypatch):
    monkeypatch.setitem(app.config, "CERT_LAYOUT_DIR", str(certs))
    (certs / "issuing.yaml").write_text("units:\n  P: {layout: gala}\n", encoding="utf-8")
    person = make_user(make_unit("P.X", "Phòng X", org["province"]))
    assert issuing_for(person).layout == "default"
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_a_certificate_whose_layout_was_removed_prints_on_the_default(
        app, db, certs, users, monkeypatch):
    monkeypatch.setitem(app.config, "CERT_LAYOUT_DIR", str(certs))
    certificate = issue(users["learner"], kind="course", title="Bảo mật thông tin",
                        layout="programme")
    (certs / "layouts/programme.yaml").unlink()
    with app.test_request_context():
        page = PdfReader(io.BytesIO(pdf_of(certificate))).pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # the landscape default
    assert "Bảo mật thông tin" in page.extract_text().splitlines()
