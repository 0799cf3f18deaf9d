"""The Ed25519 key pair that signs certificates, its rotation and the published key set."""

import base64
import functools
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

CURRENT = "current.pem"


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on malformed input."""
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The key id: the first 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def key_dir() -> Path:
    """Where keys live: CERT_KEY_DIR, else `<instance>/certificate-keys`."""
    configured = current_app.config.get("CERT_KEY_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "certificate-keys"


def _current_file() -> Path:
    configured = current_app.config.get("CERT_SIGNING_KEY_FILE")
    return Path(configured) if configured else key_dir() / CURRENT


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)


def _write_public(key: Ed25519PublicKey) -> None:
    folder = key_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key_id(key)}.pub.pem"
    if not path.exists():
        path.write_bytes(public_pem(key))


def public_pem(key: Ed25519PublicKey) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """The current (kid, private key); created on first use unless a key file is configured.
    Read again only when the key file changes (a rotation, or a replaced configured file)."""
    path = _current_file()
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        if current_app.config.get("CERT_SIGNING_KEY_FILE"):
            raise FileNotFoundError(f"CERT_SIGNING_KEY_FILE {path} does not exist") from None
        _write_private(path, Ed25519PrivateKey.generate())
        stamp = path.stat().st_mtime_ns
    return _load_signing_key(path, stamp, key_dir())


@functools.lru_cache(maxsize=4)
def _load_signing_key(path: Path, stamp: int, public_dir: Path):
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    _write_public(key.public_key())
    return key_id(key.public_key()), key


def rotate_key() -> str:
    """Start signing with a new key; the old public key stays published. Returns the new kid."""
    if current_app.config.get("CERT_SIGNING_KEY_FILE"):
        raise RuntimeError("the signing key is configured (CERT_SIGNING_KEY_FILE): replace "
                           "that file instead")
    signing_key()  # make sure the outgoing key's public half is kept
    key = Ed25519PrivateKey.generate()
    _write_private(key_dir() / CURRENT, key)
    _write_public(key.public_key())
    return key_id(key.public_key())


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key certificates may be signed with, current and retired, by kid."""
    signing_key()
    keys = {}
    for path in sorted(key_dir().glob("*.pub.pem")):
        key = load_public_pem(path.read_bytes())
        keys[key_id(key)] = key
    return keys


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    """Parse a PEM public key, insisting on Ed25519."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def jwk(key: Ed25519PublicKey) -> dict:
    """One public key as an RFC 8037 OKP JSON Web Key."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public(key)), "kid": key_id(key),
            "use": "sig", "alg": "EdDSA"}


def jwks(keys: dict[str, Ed25519PublicKey] | None = None) -> dict:
    """The published JSON Web Key Set."""
    keys = public_keys() if keys is None else keys
    return {"keys": [jwk(key) for key in keys.values()]}


def keys_from_jwks(data: dict) -> dict[str, Ed25519PublicKey]:
    """Read the Ed25519 keys of a JSON Web Key Set (kid recomputed, never trusted)."""
    keys = {}
    for entry in data.get("keys", []):
        if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
            key = Ed25519PublicKey.from_public_bytes(b64url_decode(entry["x"]))
            keys[key_id(key)] = key
    return keys


def load_keys_file(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """Public keys from a file: a PEM public key or a JWKS JSON document."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"{"):
        return keys_from_jwks(json.loads(data))
    key = load_public_pem(data)
    return {key_id(key): key}
