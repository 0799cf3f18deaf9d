"""`flask lms verify-certificate FILE.pdf`: check a certificate offline with public keys only."""

import sys

import click
from flask.cli import with_appcontext

from lms.certificates.keys import load_keys_file, public_keys
from lms.certificates.signing import verify_pdf


@click.command("verify-certificate")
@click.argument("pdf_file", metavar="FILE.pdf", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False),
              help="A public key (PEM) or key set (JWKS JSON) to check against, instead of "
                   "this installation's published keys.")
@with_appcontext
def verify_certificate_command(pdf_file, key_file):
    """Check that FILE.pdf is a genuine, unaltered certificate; exit 1 if it is not."""
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
