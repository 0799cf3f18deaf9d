"""The certificate PDF: Vietnamese text, embedded seal, offline verification and its CLI."""

import dataclasses
import io
import json
import unicodedata

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from lms.certificates import keys, pdf
from lms.certificates.keys import key_id, public_pem
from lms.certificates.pdf import load_layout, page_lines, render_pdf
from lms.certificates.signing import CertificateClaims, seal, sign, verify_pdf

NAME = "Nguyễn Thị Hồng Nhung"
URL = "https://lms.example.gov.vn/verify/K7QX-3MPA-9TZD"
CLAIMS = CertificateClaims(
    serial="CS-2025-000123", code="K7QX-3MPA-9TZD", name=unicodedata.normalize("NFD", NAME),
    title="Kỹ năng số cơ bản cho cán bộ, công chức", kind="course", issued_on="2025-03-15",
    score="92/100", issuer="Sở Thông tin và Truyền thông tỉnh Quảng Nam",
    signer="Giám đốc Sở")


@pytest.fixture
def layout(app):
    """The layout shipped in certificates/default.yaml."""
    return load_layout()


def page_text(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


def forged(monkeypatch, layout, shown, embedded, signed):
    """A PDF whose page shows `shown` but whose embedded data is `embedded`."""
    monkeypatch.setattr(pdf, "seal", lambda _c, kid, sig, lines: seal(embedded, kid, sig, lines))
    return render_pdf(shown, layout, URL, signed=signed)


def test_decomposed_vietnamese_name_extracts_exactly(key_dir, layout):
    assert CLAIMS.name == NAME  # claims are NFC whatever the input
    raw = dataclasses.replace(CLAIMS)
    object.__setattr__(raw, "name", unicodedata.normalize("NFD", NAME))  # bypass, as a caller
    data = render_pdf(raw, layout, URL)
    lines = page_text(data).splitlines()
    assert NAME in lines
    assert "CHỨNG NHẬN / CERTIFICATE" in lines
    assert "Sở Thông tin và Truyền thông tỉnh Quảng Nam" in lines
    assert "15/03/2025" in lines
    assert "92/100" in lines


def test_page_lines_follow_layout_and_skip_empty_claims(layout):
    lines = page_lines(dataclasses.replace(CLAIMS, score=None, kind="programme"), layout)
    fields = [field for field, _ in lines if field]
    assert "score" not in fields
    assert "expires_on" not in fields
    assert "Điểm / Score" not in [text for _, text in lines]
    assert any("chương trình" in text for _, text in lines)
    assert fields.count("name") == 1


def test_xss_looking_name_stays_text(key_dir, layout):
    claims = dataclasses.replace(CLAIMS, name='<script>alert("x")</script> Lê Văn Tám')
    data = render_pdf(claims, layout, URL)
    assert '<script>alert("x")</script> Lê Văn Tám' in page_text(data).splitlines()
    assert verify_pdf(data, keys.public_keys()).valid


def test_verify_pdf_valid(key_dir, layout):
    report = verify_pdf(render_pdf(CLAIMS, layout, URL), keys.public_keys())
    assert report.valid, report.problems
    assert report.claims == CLAIMS


def test_verify_pdf_reports_changed_name_on_page(key_dir, layout, monkeypatch):
    shown = dataclasses.replace(CLAIMS, name="Trần Văn Bình")
    data = forged(monkeypatch, layout, shown, CLAIMS, sign(CLAIMS))
    report = verify_pdf(data, keys.public_keys())
    assert report.changed == ["name"]
    assert report.problems == [f"name changed: the page shows 'Trần Văn Bình', "
                               f"the signed value is '{NAME}'"]


def test_verify_pdf_reports_changed_score_and_date(key_dir, layout, monkeypatch):
    shown = dataclasses.replace(CLAIMS, score="100/100", issued_on="2025-03-16")
    data = forged(monkeypatch, layout, shown, CLAIMS, sign(CLAIMS))
    report = verify_pdf(data, keys.public_keys())
    assert sorted(report.changed) == ["issued_on", "score"]


def test_verify_pdf_reports_edited_embedded_data(key_dir, layout, monkeypatch):
    edited = dataclasses.replace(CLAIMS, score="100/100")
    data = forged(monkeypatch, layout, CLAIMS, edited, sign(CLAIMS))
    report = verify_pdf(data, keys.public_keys())
    assert not report.valid
    assert "signature does not match" in report.problems[0]
    assert report.changed == ["score"]


def test_verify_pdf_reports_different_key(key_dir, layout):
    stranger = Ed25519PrivateKey.generate()
    data = render_pdf(CLAIMS, layout, URL,
                      signed=sign(CLAIMS, (key_id(stranger.public_key()), stranger)))
    report = verify_pdf(data, keys.public_keys())
    assert report.problems == [report.problems[0]]
    assert "different key" in report.problems[0]


def test_verify_pdf_rejects_non_pdf(key_dir):
    assert not verify_pdf(b"%PDF-1.4 nonsense", keys.public_keys()).valid


def test_cli_exit_codes(app, key_dir, layout, tmp_path, monkeypatch):
    runner = app.test_cli_runner()
    good = tmp_path / "good.pdf"
    good.write_bytes(render_pdf(CLAIMS, layout, URL))
    result = runner.invoke(args=["lms", "verify-certificate", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid")

    bad = tmp_path / "bad.pdf"
    bad.write_bytes(forged(monkeypatch, layout, dataclasses.replace(CLAIMS, score="99/100"),
                           CLAIMS, sign(CLAIMS)))
    result = runner.invoke(args=["lms", "verify-certificate", str(bad)])
    assert result.exit_code == 1
    assert "score changed" in result.output

    # Offline: only a public key, as PEM or JWKS; a foreign key makes a good file fail.
    pem = tmp_path / "key.pem"
    pem.write_bytes(public_pem(keys.signing_key()[1].public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(keys.jwks()))
    for key_file in (pem, jwks):
        result = runner.invoke(args=["lms", "verify-certificate", str(good), "--key",
                                     str(key_file)])
        assert result.exit_code == 0, result.output
    pem.write_bytes(public_pem(Ed25519PrivateKey.generate().public_key()))
    result = runner.invoke(args=["lms", "verify-certificate", str(good), "--key", str(pem)])
    assert result.exit_code == 1
    assert "different key" in result.output


def test_fonts_are_read_once_not_per_certificate(key_dir, layout, monkeypatch):
    from fontTools import ttLib

    signed = sign(CLAIMS)
    render_pdf(CLAIMS, layout, URL, signed=signed)  # fonts prepared once per process
    opened = []
    original = ttLib.TTFont.__init__
    monkeypatch.setattr(ttLib.TTFont, "__init__",
                        lambda self, *a, **k: (opened.append(a), original(self, *a, **k))[1])
    documents = [render_pdf(CLAIMS, layout, URL, signed=signed) for _ in range(3)]
    assert opened == []  # no font parsed, no font subset again
    assert all(NAME in page_text(data).splitlines() for data in documents)


def test_mark_without_precomposed_form_is_shaped(key_dir, layout):
    name = "Hà X\u0303uân"  # X + combining tilde: NFC keeps two code points
    claims = dataclasses.replace(CLAIMS, name=name)
    lines = [unicodedata.normalize("NFC", line)
             for line in page_text(render_pdf(claims, layout, URL)).splitlines()]
    assert unicodedata.normalize("NFC", name) in lines
    assert pdf._has_marks(name)
    assert not pdf._has_marks(NAME)


def test_long_title_shrinks_to_one_line(key_dir, layout):
    title = "Kỹ năng số cơ bản cho cán bộ, công chức, viên chức " * 3
    claims = dataclasses.replace(CLAIMS, title=title.strip())
    lines = page_text(render_pdf(claims, layout, URL)).splitlines()
    assert title.strip() in lines
