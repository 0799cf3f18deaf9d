"""`flask --app wsgi lms audit verify`: check that the audit trail is intact."""

import json
import sys

import click
from flask.cli import AppGroup

from lms.audit.chain import utc_text
from lms.audit.verify import verify_trail

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
def verify_command(as_json):
    """Recompute every entry's hash in order and check the links, the numbering and the
    head. Exit 1 naming the first broken entry."""
    verdict = verify_trail()
    broken = verdict.broken
    if as_json:
        report = {"intact": verdict.intact, "entries": verdict.entries,
                  "last_hash": verdict.last_hash}
        if broken:
            report["broken"] = {"kind": broken.kind, "seq": broken.seq, "id": broken.id,
                                "at": broken.at and utc_text(broken.at),
                                "action": broken.action, "message": broken.message}
        click.echo(json.dumps(report))
    elif broken is None:
        click.echo(f"Audit trail intact: {verdict.entries} entries, "
                   f"last hash {verdict.last_hash}")
    else:
        click.echo(f"Audit trail broken at {_where(broken)}: {broken.message}. "
                   f"The {verdict.entries} entries before it are intact.")
    if broken:
        sys.exit(1)


def _where(broken):
    """seq 5 (id 7, 2026-11-24 03:15:09 UTC, login), as much of it as is known."""
    place = f"seq {broken.seq}" if broken.seq is not None else f"id {broken.id}"
    details = []
    if broken.seq is not None and broken.id is not None:
        details.append(f"id {broken.id}")
    if broken.at is not None:
        details.append(broken.at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    if broken.action:
        details.append(broken.action)
    return f"{place} ({', '.join(details)})" if details else place
