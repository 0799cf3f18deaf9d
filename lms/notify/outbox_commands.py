"""`flask lms send-outbox`: send the due emails of the outbox now (the scheduler's outbox job
does the same every minute)."""

import click
from flask.cli import with_appcontext

from lms.notify.outbox import BATCH, SendResult, send_due


@click.command("send-outbox")
@click.option("--batch", default=BATCH, show_default=True, type=click.IntRange(1, 10_000),
              help="Messages claimed (and sent over one connection) at a time.")
@with_appcontext
def send_outbox_command(batch):
    """Send every due message of the outbox, a batch at a time, until none is due."""
    total = send_all(batch)
    click.echo(f"{total.sent} sent, {total.retried} to retry later, {total.failed} failed, "
               f"{total.cancelled} cancelled")
    for row_id, error in total.errors[:20]:
        click.echo(f"  message {row_id}: {error}", err=True)


def send_all(batch=BATCH):
    """Send batches until a batch sends nothing (what is left waits for its retry time)."""
    total = SendResult()
    while True:
        result = send_due(batch)
        total.sent += result.sent
        total.retried += result.retried
        total.failed += result.failed
        total.cancelled += result.cancelled
        total.errors += result.errors
        if result.handled < batch:
            return total
