"""Open Badges 3.0: a certificate as an OpenBadgeCredential secured as a VC-JWT (EdDSA)."""

import json
import uuid
from datetime import UTC, date, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lms.certificates.keys import b64url, b64url_decode
from lms.certificates.signing import CertificateClaims

CONTEXTS = ["https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


class BadgeError(ValueError):
    """A badge token that is malformed, unsigned by a known key, or altered."""


def _timestamp(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def _iso(day: str) -> str:
    return f"{day}T00:00:00Z"


def badge_payload(claims: CertificateClaims, issuer_url: str, verify_url: str) -> dict:
    """The JWT claims set: registered claims plus the OpenBadgeCredential under `vc`."""
    subject_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, verify_url + '#subject')}"
    credential = {
        "@context": CONTEXTS,
        "id": verify_url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": claims.title,
        "issuer": {"id": issuer_url, "type": ["Profile"], "name": claims.issuer},
        "validFrom": _iso(claims.issued_on),
        "credentialSubject": {
            "id": subject_id,
            "type": ["AchievementSubject"],
            "name": claims.name,
            "achievement": {
                "id": f"{issuer_url.rstrip('/')}/achievements/{claims.kind}/"
                      f"{uuid.uuid5(uuid.NAMESPACE_URL, claims.title)}",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": claims.title,
                "description": f"{claims.kind.capitalize()}: {claims.title}",
                "criteria": {"narrative": "Read every module and pass the final quiz."
                             if claims.kind == "course"
                             else "Hold a valid certificate for every required course."},
            },
        },
    }
    if claims.score:
        credential["credentialSubject"]["result"] = [{"type": ["Result"],
                                                      "value": claims.score}]
    if claims.expires_on:
        credential["validUntil"] = _iso(claims.expires_on)
    payload = {"iss": issuer_url, "sub": subject_id, "jti": verify_url,
               "nbf": _timestamp(claims.issued_on), "iat": _timestamp(claims.issued_on),
               "vc": credential}
    if claims.expires_on:
        payload["exp"] = _timestamp(claims.expires_on)
    return payload


def _segment(data: dict) -> str:
    return b64url(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def open_badge_jwt(claims: CertificateClaims, kid: str, private_key: Ed25519PrivateKey,
                   issuer_url: str, verify_url: str) -> str:
    """The certificate as a compact JWS (header alg EdDSA, kid) carrying the credential."""
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": kid}
    signing_input = f"{_segment(header)}.{_segment(badge_payload(claims, issuer_url, verify_url))}"
    return f"{signing_input}.{b64url(private_key.sign(signing_input.encode('ascii')))}"


def verify_badge_jwt(token: str, keys: dict[str, Ed25519PublicKey]) -> dict:
    """The payload of a badge token signed by one of `keys`; raises BadgeError otherwise."""
    try:
        header_b64, payload_b64, signature_b64 = token.strip().split(".")
        header = json.loads(b64url_decode(header_b64))
        signature = b64url_decode(signature_b64)
    except ValueError as exc:
        raise BadgeError(f"not a compact JWS: {exc}") from exc
    if header.get("alg") != "EdDSA":
        raise BadgeError(f"unexpected algorithm {header.get('alg')!r}")
    key = keys.get(header.get("kid"))
    if key is None:
        raise BadgeError(f"unknown key {header.get('kid')!r}")
    try:
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature as exc:
        raise BadgeError("the signature does not match the token") from exc
    try:
        return json.loads(b64url_decode(payload_b64))
    except ValueError as exc:
        raise BadgeError(f"unreadable payload: {exc}") from exc
