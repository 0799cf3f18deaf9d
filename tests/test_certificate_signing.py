"""Certificate keys, signatures and Open Badges tokens."""

import dataclasses
import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lms.certificates import keys
from lms.certificates.badges import BadgeError, open_badge_jwt, verify_badge_jwt
from lms.certificates.keys import b64url, b64url_decode, key_id
from lms.certificates.signing import CertificateClaims, sign, verify

CLAIMS = CertificateClaims(
    serial="CS-2025-000123", code="K7QX-3MPA-9TZD", name="Nguyễn Thị Hồng Nhung",
    title="Kỹ năng số cơ bản", kind="course", issued_on="2025-03-15", score="92/100",
    issuer="Sở Thông tin và Truyền thông", signer="Giám đốc Sở")


def test_key_created_once_private_and_reused(key_dir):
    kid, key = keys.signing_key()
    path = key_dir / "current.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(kid) == 16
    assert kid == key_id(key.public_key())
    again, _ = keys.signing_key()
    assert again == kid
    assert list(keys.public_keys()) == [kid]


def test_configured_key_file_is_used(app, key_dir, tmp_path, monkeypatch):
    kid, _ = keys.signing_key()
    other = tmp_path / "other.pem"
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY_FILE", str(other))
    with pytest.raises(FileNotFoundError):
        keys.signing_key()
    keys._write_private(other, Ed25519PrivateKey.generate())
    assert keys.signing_key()[0] != kid


def test_rotation_keeps_old_certificates_verifiable(key_dir):
    old_kid, signature = sign(CLAIMS)
    new_kid = keys.rotate_key()
    assert new_kid != old_kid
    assert keys.signing_key()[0] == new_kid
    published = keys.public_keys()
    assert set(published) == {old_kid, new_kid}
    assert verify(CLAIMS, old_kid, signature, published)
    assert sign(CLAIMS)[0] == new_kid


def test_jwks_shape(key_dir):
    kid, key = keys.signing_key()
    document = keys.jwks()
    assert document == {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
                                  "alg": "EdDSA", "x": document["keys"][0]["x"]}]}
    assert keys.keys_from_jwks(json.loads(json.dumps(document)))[kid].public_bytes_raw() == \
        key.public_key().public_bytes_raw()


def test_canonical_bytes_are_sorted_compact_nfc():
    decomposed = dataclasses.replace(CLAIMS, name="Nguyê\u0303n Thị Hồng Nhung")
    assert decomposed.canonical() == CLAIMS.canonical()
    text = CLAIMS.canonical().decode()
    assert text.startswith('{"code":')
    assert ", " not in text
    assert ": " not in text


def test_bad_claims_rejected():
    with pytest.raises(ValueError, match="kind"):
        dataclasses.replace(CLAIMS, kind="diploma")
    with pytest.raises(ValueError, match="isoformat"):
        dataclasses.replace(CLAIMS, issued_on="15/03/2025")


def test_sign_verify_round_trip_and_tampering(key_dir):
    kid, signature = sign(CLAIMS)
    published = keys.public_keys()
    assert verify(CLAIMS, kid, signature, published)
    for field, value in (("name", "Nguyễn Thị Hồng Nhunq"), ("score", "100/100"),
                         ("issued_on", "2025-03-16")):
        verdict = verify(dataclasses.replace(CLAIMS, **{field: value}), kid, signature,
                         published)
        assert not verdict
        assert "does not match" in verdict.reason


def test_different_key_reported(key_dir):
    stranger = Ed25519PrivateKey.generate()
    kid, signature = sign(CLAIMS, (key_id(stranger.public_key()), stranger))
    verdict = verify(CLAIMS, kid, signature, keys.public_keys())
    assert not verdict
    assert "different key" in verdict.reason
    published_kid = keys.signing_key()[0]
    assert not verify(CLAIMS, published_kid, signature, keys.public_keys())


def test_badge_jwt_verifies(key_dir):
    kid, private = keys.signing_key()
    token = open_badge_jwt(CLAIMS, kid, private, "https://lms.example.gov.vn",
                           "https://lms.example.gov.vn/verify/K7QX-3MPA-9TZD")
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "EdDSA", "typ": "vc+jwt", "kid": kid}
    payload = verify_badge_jwt(token, keys.public_keys())
    vc = payload["vc"]
    assert payload["iss"] == "https://lms.example.gov.vn"
    assert payload["jti"] == "https://lms.example.gov.vn/verify/K7QX-3MPA-9TZD"
    assert payload["nbf"] == 1741996800
    assert payload["sub"] == vc["credentialSubject"]["id"]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert vc["credentialSubject"]["achievement"]["name"] == "Kỹ năng số cơ bản"
    assert vc["credentialSubject"]["name"] == "Nguyễn Thị Hồng Nhung"


def test_badge_jwt_modified_payload_rejected(key_dir):
    kid, private = keys.signing_key()
    token = open_badge_jwt(CLAIMS, kid, private, "https://x.example", "https://x.example/v/1")
    header, payload, signature = token.split(".")
    data = json.loads(b64url_decode(payload))
    data["vc"]["credentialSubject"]["name"] = "Someone Else"
    forged = f"{header}.{b64url(json.dumps(data).encode())}.{signature}"
    with pytest.raises(BadgeError, match="signature"):
        verify_badge_jwt(forged, keys.public_keys())
    with pytest.raises(BadgeError, match="unknown key"):
        verify_badge_jwt(token, {})
    with pytest.raises(BadgeError):
        verify_badge_jwt("not-a-token", keys.public_keys())
