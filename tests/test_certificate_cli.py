"""`flask lms verify-certificate CODE|FILE` by code and by file, and `flask lms
rotate-certificate-key`: old certificates stay verifiable, both keys published, audit-logged."""

from datetime import date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.certificates import keys
from lms.certificates.documents import pdf_of
from lms.certificates.services import issue, revoke
from tests.course_factories import make_course


@pytest.fixture
def certificate(key_dir, users):
    """A course certificate of the learner, signed with this test's key."""
    return issue(users["learner"], kind="course", title="Khoá học An toàn thông tin",
                 course=make_course("alpha", 1))


def verify(runner, *args):
    return runner.invoke(args=["lms", "verify-certificate", *args])


def assert_no_private_data(output, user):
    assert user.email not in output
    assert user.employee_id not in output


# Verify by code -------------------------------------------------------------------------

def test_a_valid_code_prints_the_record_one_fact_a_line(runner, users, certificate):
    result = verify(runner, certificate.code)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "valid"
    assert f"serial: {certificate.serial}" in lines
    assert "name: Nguyễn Văn Hùng" in lines
    assert "title: Khoá học An toàn thông tin" in lines
    assert f"issued on: {certificate.issued_at.date().isoformat()}" in lines
    assert f"issuer: {certificate.issuer}" in lines
    assert not any(line.startswith(("revoked", "reason", "valid until")) for line in lines)
    assert_no_private_data(result.output, users["learner"])


def test_a_pasted_check_address_works_too(runner, certificate):
    result = verify(runner, f" https://lms.example.gov.vn/verify/{certificate.code}/ ")
    assert result.exit_code == 0, result.output
    assert f"serial: {certificate.serial}" in result.output.splitlines()


def test_a_revoked_code_prints_the_date_and_reason_and_exits_1(runner, users, certificate):
    revoke(certificate, "Gian lận khi làm bài", now=datetime(2026, 3, 5, 9, 0))
    result = verify(runner, certificate.code)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "revoked"
    assert "revoked on: 2026-03-05" in lines
    assert "reason: Gian lận khi làm bài" in lines
    assert f"serial: {certificate.serial}" in lines
    assert_no_private_data(result.output, users["learner"])


def test_an_expired_code_prints_until_when_it_was_valid_and_exits_1(runner, users, key_dir):
    expires_on = date.today() - timedelta(days=2)
    certificate = issue(users["learner"], kind="course", title="Khoá học cũ",
                        course=make_course("old", 1), expires_on=expires_on)
    result = verify(runner, certificate.code)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "expired"
    assert f"valid until: {expires_on.isoformat()}" in lines
    assert "title: Khoá học cũ" in lines
    assert_no_private_data(result.output, users["learner"])


def test_a_future_expiry_is_still_valid(runner, users, key_dir):
    expires_on = date.today() + timedelta(days=30)
    certificate = issue(users["learner"], kind="course", title="Khoá học mới",
                        course=make_course("new", 1), expires_on=expires_on)
    result = verify(runner, certificate.code)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "valid"
    assert f"valid until: {expires_on.isoformat()}" in result.output.splitlines()


@pytest.mark.parametrize("argument", ["NO-SUCH-CODE", "", "missing.pdf"])
def test_an_unknown_code_says_only_so(runner, certificate, argument):
    result = verify(runner, argument)
    assert result.exit_code == 1
    assert result.output == "unknown code\n"


def test_key_is_for_files_only(runner, certificate, tmp_path):
    pem = tmp_path / "key.pem"
    pem.write_bytes(keys.public_pem(keys.signing_key()[1].public_key()))
    result = verify(runner, certificate.code, "--key", str(pem))
    assert result.exit_code == 2
    assert "--key" in result.output
    assert "serial" not in result.output


# Verify a file --------------------------------------------------------------------------

def test_a_file_is_still_checked_offline(runner, certificate, tmp_path):
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf_of(certificate))
    result = verify(runner, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"valid: {certificate.serial} · Nguyễn Văn Hùng")
    assert f"(key {certificate.key_id})" in result.output

    pem = tmp_path / "foreign.pem"
    pem.write_bytes(keys.public_pem(Ed25519PrivateKey.generate().public_key()))
    result = verify(runner, str(path), "--key", str(pem))
    assert result.exit_code == 1
    assert result.output.startswith("invalid:")


# Key rotation ---------------------------------------------------------------------------

def rotation_events(db):
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "certificate_key_rotated")).all()


def test_rotation_keeps_old_certificates_verifiable_and_publishes_both_keys(
        runner, client, db, certificate, tmp_path):
    old_kid = keys.signing_key()[0]
    assert certificate.key_id == old_kid
    path = tmp_path / "before.pdf"
    path.write_bytes(pdf_of(certificate))

    result = runner.invoke(args=["lms", "rotate-certificate-key"])
    assert result.exit_code == 0, result.output
    new_kid = keys.signing_key()[0]
    assert new_kid != old_kid
    assert f"old key: {old_kid}" in result.output.splitlines()
    assert f"new key: {new_kid}" in result.output.splitlines()
    assert "stay verifiable" in result.output

    result = verify(runner, str(path))
    assert result.exit_code == 0, result.output
    assert f"(key {old_kid})" in result.output
    assert verify(runner, certificate.code).exit_code == 0

    published = {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert {old_kid, new_kid} <= published

    [event] = rotation_events(db)
    assert event.actor_id is None
    assert event.detail == {"via": "cli", "old_key": old_kid, "new_key": new_kid}


def test_rotation_is_refused_when_the_key_file_is_configured(
        app, runner, db, key_dir, tmp_path, monkeypatch):
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY_FILE", str(key_file))
    before = key_file.read_bytes()
    kid = keys.signing_key()[0]

    result = runner.invoke(args=["lms", "rotate-certificate-key"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean refusal, no traceback
    assert "Traceback" not in result.output
    assert "Error: cannot rotate the signing key" in result.output
    assert "CERT_SIGNING_KEY_FILE" in result.output
    assert key_file.read_bytes() == before
    assert keys.signing_key()[0] == kid
    assert not (key_dir / keys.CURRENT).exists()
    assert rotation_events(db) == []
