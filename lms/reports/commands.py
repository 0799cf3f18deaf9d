"""`flask lms snapshot`: record every unit's figures for this week (once), and rebuild past
weeks from the certificates and reads on file; `flask lms refresh-figures`: count every unit's
figures now for the dashboards of very large subtrees."""

import time
from datetime import UTC, date, datetime

import click
from flask.cli import with_appcontext
from flask_babel import to_user_timezone

from lms.audit.services import record_event
from lms.extensions import db
from lms.reports.services import (
    rebuild_snapshots,
    record_snapshots,
    refresh_figures,
    week_of,
)


@click.command("snapshot")
@click.option("--rebuild-from", "since", metavar="YYYY-MM-DD", default=None,
              help="Also rebuild the weeks from this date to last week from the records on "
                   "file (weeks already recorded are kept).")
@with_appcontext
def snapshot_command(since):
    """Record this week's figures of every unit for every programme (a second run in the same
    week changes nothing)."""
    today = to_user_timezone(datetime.now(UTC)).date()
    rebuilt = 0
    if since:
        try:
            start = date.fromisoformat(since)
        except ValueError as exc:
            raise click.BadParameter("expected a date as YYYY-MM-DD",
                                     param_hint="--rebuild-from") from exc
        if start > today:
            raise click.BadParameter("the date is in the future", param_hint="--rebuild-from")
        rebuilt = rebuild_snapshots(start, today)
    recorded = record_snapshots(today)
    record_event("snapshot_recorded", object_type="snapshots", week=week_of(today).isoformat(),
                 recorded=recorded, rebuilt=rebuilt)
    db.session.commit()
    click.echo(f"week of {week_of(today).isoformat()}: {recorded} unit figures recorded"
               + (f", {rebuilt} rebuilt for past weeks" if since else "")
               + ("" if recorded else " (this week was already recorded)"))


@click.command("refresh-figures")
@with_appcontext
def refresh_figures_command():
    """Count every unit's figures for every programme now and keep them: the dashboards of
    subtrees with at least LMS_REPORTS_LIVE_LIMIT active staff show them (for at most
    LMS_REPORTS_CACHE_MINUTES) instead of counting everyone on each request."""
    started = time.perf_counter()
    kept = refresh_figures(to_user_timezone(datetime.now(UTC)).date())
    click.echo(f"{kept} unit figures counted and kept in {time.perf_counter() - started:.1f} s")
