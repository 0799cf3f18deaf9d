"""`flask lms sync-content`: check the content folder, then load it in one transaction."""

import click
from flask import current_app
from flask.cli import with_appcontext

from lms.courses.sync import sync_folder
from lms.extensions import db


@click.command("sync-content")
@click.option("--dry-run", is_flag=True, help="Check and report what would change; write nothing.")
@click.option("--force", is_flag=True,
              help="Check everything again even if the files are those of the last sync.")
@with_appcontext
def sync_content(dry_run, force):
    """Check courses/, quizzes/ and programmes/ and sync them into the catalogue."""
    folder = current_app.config["CONTENT_DIR"]
    result = sync_folder(folder, dry_run=dry_run, force=force)
    if result.identical_to is not None:
        when = result.identical_to.strftime("%Y-%m-%d %H:%M")
        click.echo(f"no change: the files are those synced at {when} UTC "
                   "(--force checks them again).")
        return
    plan, errors = result.plan, result.errors
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
    db.session.commit()
    click.echo(f"Content synced from {folder}: {plan.counts()}.")
