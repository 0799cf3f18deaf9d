"""`flask lms import-units` and `flask lms import-staff`: all-or-nothing roster imports."""

import sys

import click
from flask.cli import with_appcontext

from lms.extensions import db
from lms.org import imports

CSV_FILE = click.Path(exists=True, dir_okay=False, readable=True)
SIGNS = {"added": "+", "updated": "~", "deactivated": "-"}


@click.command("import-units")
@click.argument("file", type=CSV_FILE)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@with_appcontext
def import_units(file, dry_run):
    """Import the units tree from FILE (CSV: code,name,parent_code,head_employee_id)."""
    _import("units", file, dry_run)


@click.command("import-staff")
@click.argument("file", type=CSV_FILE)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--deactivate-missing", is_flag=True,
              help="Deactivate active staff who are not in the file.")
@with_appcontext
def import_staff(file, dry_run, deactivate_missing):
    """Import the staff roster from FILE (CSV: employee_id,full_name,email,unit_code,
    category,role)."""
    _import("staff", file, dry_run, deactivate_missing)


def _import(kind, file, dry_run, deactivate_missing=False):
    """Check the whole file, then write it in one transaction (or report and write nothing).

    Planning only reads, so a refused file or a dry run leaves nothing to roll back.
    """
    table = imports.read_table(file, file, kind)
    with click.progressbar(length=len(table.rows), label="Checking rows",
                           file=sys.stderr) as bar:
        plan = imports.plan_table(table, None, deactivate_missing, progress=bar.update)
    if not plan.ok:
        for error in plan.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(plan.errors)} error(s): nothing was imported.", err=True)
        raise click.exceptions.Exit(1)
    if dry_run:
        _echo_changes(plan)
        click.echo(f"Dry run, nothing written. {_summary(plan)}")
        return
    with click.progressbar(length=plan.writes, label="Writing", file=sys.stderr) as bar:
        imports.apply_plan(plan, progress=bar.update)
    db.session.commit()
    click.echo(f"Imported. {_summary(plan)}")


def _summary(plan):
    c = plan.counts
    text = f"{plan.file}: {c['added']} added, {c['updated']} updated"
    if plan.kind == "staff":
        text += f" ({c['reactivated']} reactivated)"
    text += f", {c['unchanged']} unchanged"
    if plan.kind == "staff":
        text += f", {c['deactivated']} deactivated"
    return text + "."


def _echo_changes(plan):
    for kind, changes in plan.samples.items():
        for change in changes:
            fields = "; ".join(
                f"{name}: {_shown(after)}" if kind == "added"
                else f"{name}: {_shown(before)} → {_shown(after)}"
                for name, before, after in change.fields)
            click.echo(f"{SIGNS[kind]} {change.key} {change.label}"
                       + (f" ({fields})" if fields else ""))
        more = plan.counts[kind] - len(changes)
        if more > 0:
            click.echo(f"{SIGNS[kind]} … and {more} more")


def _shown(value):
    return "—" if value in (None, "") else str(value)
