"""What a certificate says, signed with Ed25519, and the checks that a PDF still says it."""

import dataclasses
import io
import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lms.certificates.keys import b64url, b64url_decode, signing_key

ATTACHMENT = "certificate.json"
KINDS = ("course", "programme")
# The claims shown on the page, in the words a verification report uses.
VISIBLE = ("name", "title", "issued_on", "score", "issuer", "signer", "serial", "code",
           "expires_on")


@dataclass(frozen=True)
class CertificateClaims:
    """The signed content of one certificate."""

    serial: str
    code: str
    name: str
    title: str
    kind: str
    issued_on: str
    score: str | None
    issuer: str
    signer: str
    expires_on: str | None = None
    lang: str = "vi"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                object.__setattr__(self, f.name, unicodedata.normalize("NFC", value.strip()))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        date.fromisoformat(self.issued_on)
        if self.expires_on:
            date.fromisoformat(self.expires_on)

    def as_dict(self) -> dict:
        """The claims as a plain dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CertificateClaims":
        """Rebuild claims from `as_dict` output; unknown keys are an error."""
        return cls(**data)

    def canonical(self) -> bytes:
        """The signed bytes: JSON, sorted keys, NFC strings, no whitespace, UTF-8."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")


def display_value(claims: CertificateClaims, name: str) -> str:
    """How a claim reads on the page (dates as dd/mm/yyyy); empty when absent."""
    value = getattr(claims, name)
    if not value:
        return ""
    if name in ("issued_on", "expires_on"):
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    return unicodedata.normalize("NFC", value)


def sign(claims: CertificateClaims,
         key: tuple[str, Ed25519PrivateKey] | None = None) -> tuple[str, str]:
    """Sign the canonical claims: (kid, base64url signature). Uses the app's key by default."""
    kid, private = key or signing_key()
    return kid, b64url(private.sign(claims.canonical()))


@dataclass(frozen=True)
class Verdict:
    """The outcome of a signature check."""

    valid: bool
    reason: str = ""

    def __bool__(self):
        return self.valid


def verify(claims: CertificateClaims, kid: str, signature: str,
           keys: dict[str, Ed25519PublicKey]) -> Verdict:
    """Check a signature against the published keys."""
    key = keys.get(kid)
    if key is None:
        signer = _matching_key(claims, signature, keys)
        if signer is None:
            return Verdict(False, f"signed with a different key ({kid!r} is not a published key)")
        key = keys[signer]
    try:
        key.verify(b64url_decode(signature), claims.canonical())
    except (InvalidSignature, ValueError):
        if _matching_key(claims, signature, keys) is None:
            return Verdict(False, "the signature does not match the certificate content "
                                  "with any published key")
    return Verdict(True)


def _matching_key(claims, signature, keys):
    try:
        raw = b64url_decode(signature)
    except ValueError:
        return None
    for kid, key in keys.items():
        try:
            key.verify(raw, claims.canonical())
        except InvalidSignature:
            continue
        return kid
    return None


@dataclass
class Report:
    """What `verify_pdf` found: valid, or the list of problems."""

    problems: list[str] = field(default_factory=list)
    claims: CertificateClaims | None = None
    kid: str | None = None
    changed: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def __bool__(self):
        return self.valid


def seal(claims: CertificateClaims, kid: str, signature: str, lines: list) -> bytes:
    """The attachment embedded in the PDF: claims, signature and the order of page lines."""
    return json.dumps({"claims": claims.as_dict(), "kid": kid, "signature": signature,
                       "lines": lines}, ensure_ascii=False, sort_keys=True).encode("utf-8")


def verify_pdf(source: str | Path | bytes, keys: dict[str, Ed25519PublicKey]) -> Report:
    """Check a certificate PDF offline: its signature, and that the page shows what was signed."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    report = Report()
    try:
        reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source)
        payload = reader.attachments.get(ATTACHMENT)
        page_text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, OSError, ValueError) as exc:
        report.problems.append(f"not a readable PDF: {exc}")
        return report
    if not payload:
        report.problems.append("no signed certificate data is embedded in this PDF")
        return report
    try:
        data = json.loads(payload[0])
        claims = CertificateClaims.from_dict(data["claims"])
        kid, signature = str(data["kid"]), str(data["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"the embedded certificate data is malformed: {exc}")
        return report
    report.claims, report.kid = claims, kid
    verdict = verify(claims, kid, signature, keys)
    if not verdict:
        report.problems.append(verdict.reason)
    lines = [unicodedata.normalize("NFC", line).strip() for line in page_text.splitlines()]
    lines = [line for line in lines if line]
    for name, shown in _compare_page(claims, data.get("lines") or [], lines):
        report.changed.append(name)
        expected = display_value(claims, name)
        if shown is None:
            report.problems.append(f"{name} changed: the page does not show the signed "
                                   f"value {expected!r}")
        else:
            report.problems.append(f"{name} changed: the page shows {shown!r}, "
                                   f"the signed value is {expected!r}")
    return report


def _compare_page(claims, layout_lines, page_lines):
    """Yield (claim, value shown or None) for each visible claim the page contradicts."""
    fields = [entry[0] for entry in layout_lines
              if isinstance(entry, list | tuple) and len(entry) == 2]
    if len(fields) == len(page_lines):
        for name, shown in zip(fields, page_lines, strict=True):
            if name in VISIBLE and shown != display_value(claims, name):
                yield name, shown
        # The line order is a hint, not signed: a claim it leaves out is still looked for.
        unchecked = [name for name in VISIBLE if name not in fields]
    else:
        unchecked = list(VISIBLE)
    present = set(page_lines)
    for name in unchecked:
        expected = display_value(claims, name)
        if expected and expected not in present:
            yield name, None
