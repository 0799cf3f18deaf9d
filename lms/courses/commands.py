"""`flask lms sync-content`: check the content folder, then load it in one transaction."""

import click
from flask import current_app
from flask.cli import with_appcontext

from lms.courses.content import load_content
from lms.courses.sync import apply_sync, plan_sync
from lms.extensions import db


@click.command("sync-content")
@click.option("--dry-run", is_flag=True, help="Check and report what would change; write nothing.")
@with_appcontext
def sync_content(dry_run):
    """Check courses/, quizzes/ and programmes/ and sync them into the catalogue."""
    folder = current_app.config["CONTENT_DIR"]
    catalogue = load_content(folder)
    plan = None if catalogue.errors else plan_sync(catalogue)
    errors = catalogue.errors or plan.errors
    if errors:
        for error in errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(errors)} error(s) in {folder}: nothing was synced.", err=True)
        raise click.exceptions.Exit(1)
    for line in plan.lines():
        click.echo(line)
    if dry_run:
        click.echo(f"Dry run, nothing written: {plan.counts()}.")
        return
    apply_sync(plan)
    db.session.commit()
    click.echo(f"Content synced from {folder}: {plan.counts()}.")
