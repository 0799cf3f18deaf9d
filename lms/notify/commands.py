"""`flask lms send-digests`, `send-reminders` and `send-expiry-reminders`: render the weekly
digests and the reminders and queue them in the outbox (once per recipient and period, so a
second run queues nothing new). They do not send: `flask lms send-outbox` (and the
scheduler) does."""

import click
from flask.cli import with_appcontext

from lms.extensions import db
from lms.notify.digests import (
    UnknownUnit,
    local_today,
    parse_week,
    queue_digests,
    week_period,
)
from lms.notify.reminders import queue_expiry_reminders, queue_reminders

SENT_BY = "sent by the outbox sender: flask lms send-outbox"


@click.command("send-digests")
@click.option("--week", metavar="YYYY-Www", default=None,
              help="The ISO week of the digests, e.g. 2026-W47 (default: this week). The "
                   "figures are today's.")
@click.option("--unit", "unit_code", metavar="CODE", default=None,
              help="Only the heads of this unit and of the units below it.")
@click.option("--dry-run", is_flag=True, help="Show who would get a digest; queue nothing.")
@with_appcontext
def send_digests_command(week, unit_code, dry_run):
    """Queue this week's progress digest for every unit head who has not got it yet."""
    try:
        monday = parse_week(week) if week else local_today()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from exc
    try:
        run = queue_digests(monday, unit_code=unit_code, dry_run=dry_run)
    except UnknownUnit as exc:
        raise click.BadParameter(str(exc), param_hint="--unit") from exc
    if dry_run:
        for email, subject in run.would_queue:
            click.echo(f"{email}: {subject}")
        click.echo(f"{run.period}: {_digests(len(run.would_queue))} would be queued "
                   f"for {run.heads} head(s); {run.skipped_already} already queued"
                   + _without_email(run.without_email) + ". Nothing was queued.")
        return
    db.session.commit()
    click.echo(f"{run.period}: {_digests(run.queued)} queued for {run.heads} head(s); "
               f"{run.skipped_already} already queued" + _without_email(run.without_email)
               + f". They are {SENT_BY}")


@click.command("send-reminders")
@click.option("--dry-run", is_flag=True, help="Count who would be reminded; queue nothing.")
@with_appcontext
def send_reminders_command(dry_run):
    """Queue this week's reminder for every learner whose training is due within two weeks
    or overdue (at most one a week each)."""
    today = local_today()
    count = queue_reminders(today, dry_run=dry_run)
    if dry_run:
        click.echo(f"{week_period(today)}: {_reminders(count)} would be queued. "
                   "Nothing was queued.")
        return
    db.session.commit()
    click.echo(f"{week_period(today)}: {_reminders(count)} queued. They are {SENT_BY}")


@click.command("send-expiry-reminders")
@click.option("--dry-run", is_flag=True, help="Count the certificates; queue nothing.")
@with_appcontext
def send_expiry_reminders_command(dry_run):
    """Queue a reminder for every course certificate expiring within 30 days (once per
    certificate)."""
    count = queue_expiry_reminders(local_today(), dry_run=dry_run)
    if dry_run:
        click.echo(f"{_reminders(count)} about expiring certificates would be queued. "
                   "Nothing was queued.")
        return
    db.session.commit()
    click.echo(f"{_reminders(count)} about expiring certificates queued. They are {SENT_BY}")


def _digests(n):
    return f"{n} digest" if n == 1 else f"{n} digests"


def _reminders(n):
    return f"{n} reminder" if n == 1 else f"{n} reminders"


def _without_email(n):
    return f"; {n} without an email address" if n else ""
