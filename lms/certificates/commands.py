"""`flask lms verify-certificate CODE|FILE`: check a certificate by its code in the database, or
a PDF offline with public keys only; `flask lms rotate-certificate-key`: sign with a new key."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import to_user_timezone

from lms.audit.services import record_event
from lms.certificates.documents import find_by_code, status_of
from lms.certificates.keys import load_keys_file, public_keys, rotate_key, signing_key
from lms.certificates.models import Certificate
from lms.certificates.signing import verify_pdf
from lms.extensions import db


@click.command("verify-certificate")
@click.argument("code_or_file", metavar="CODE|FILE")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False),
              help="With FILE: a public key (PEM) or key set (JWKS JSON) to check against, "
                   "instead of this installation's published keys.")
@with_appcontext
def verify_certificate_command(code_or_file, key_file):
    """Check a certificate: by its verification CODE, its status in the database; FILE (a PDF),
    that it is genuine and unaltered, offline. Exit 1 unless it is valid."""
    if Path(code_or_file).is_file():
        _verify_file(code_or_file, key_file)
    elif key_file:
        raise click.BadParameter(f"it checks a PDF file, and there is no file {code_or_file!r}",
                                 param_hint="--key")
    else:
        _verify_code(code_or_file)


def _verify_file(pdf_file: str, key_file: str | None) -> None:
    """A PDF checked against public keys only."""
    try:
        keys = load_keys_file(key_file) if key_file else public_keys()
    except ValueError as exc:
        raise click.BadParameter(f"cannot read the key: {exc}", param_hint="--key") from exc
    report = verify_pdf(pdf_file, keys)
    if report.valid:
        claims = report.claims
        click.echo(f"valid: {claims.serial} · {claims.name} · {claims.title} · "
                   f"{claims.issued_on} (key {report.kid})")
        return
    click.echo("invalid:")
    for problem in report.problems:
        click.echo(f"  - {problem}")
    sys.exit(1)


def _verify_code(code: str) -> None:
    """A code looked up in the database (a pasted check address works too); what the public
    check shows, plus the revocation reason: never an email or an employee ID."""
    code = code.strip().rstrip("/").rsplit("/", 1)[-1]
    certificate = find_by_code(code) if code else None
    if certificate is None:
        click.echo("unknown code")
        sys.exit(1)
    status = status_of(certificate, to_user_timezone(datetime.now(UTC)).date())
    for line in _record_lines(certificate, status):
        click.echo(line)
    if status != "valid":
        sys.exit(1)


def _record_lines(certificate: Certificate, status: str) -> list[str]:
    """One line per fact, the status first."""
    lines = [status]
    if certificate.revoked_at is not None:
        lines.append(f"revoked on: {certificate.revoked_at.date().isoformat()}")
        lines.append(f"reason: {certificate.revoked_reason or '-'}")
    lines += [f"serial: {certificate.serial}",
              f"name: {certificate.name}",
              f"title: {certificate.title}",
              f"issued on: {certificate.issued_at.date().isoformat()}"]
    if certificate.expires_on is not None:
        lines.append(f"valid until: {certificate.expires_on.isoformat()}")
    lines += [f"issuer: {certificate.issuer}",
              f"key: {certificate.key_id}"]
    return lines


@click.command("rotate-certificate-key")
@with_appcontext
def rotate_certificate_key_command():
    """Sign new certificates with a new key; the old public key stays published."""
    try:
        old_kid, _ = signing_key()
        new_kid = rotate_key()
    except (RuntimeError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot rotate the signing key: {exc}") from exc
    record_event("certificate_key_rotated", via="cli", old_key=old_kid, new_key=new_kid)
    db.session.commit()
    click.echo(f"old key: {old_kid}")
    click.echo(f"new key: {new_kid}")
    click.echo("Certificates signed with the old key stay verifiable: its public key stays in "
               "the published key set (/.well-known/jwks.json).")


@click.command("invite-refreshers")
@click.option("--dry-run", is_flag=True, help="Count who would be invited; send nothing.")
@with_appcontext
def invite_refreshers_command(dry_run):
    """Email holders whose course certificates expired, or whose course asks to retrain,
    inviting them to a refresher (each certificate once)."""
    from lms.certificates.refreshers import invite_refreshers
    from lms.web import base_url_context

    if dry_run:
        people, certificates = invite_refreshers(dry_run=True)
        click.echo(f"{_people(people)} would be invited ({_certificates(certificates)}).")
        return
    with base_url_context():
        people, certificates = invite_refreshers()
    db.session.commit()
    click.echo(f"{_people(people)} invited to a refresher ({_certificates(certificates)}).")


def _people(n):
    return f"{n} person" if n == 1 else f"{n} people"


def _certificates(n):
    return f"{n} certificate" if n == 1 else f"{n} certificates"
