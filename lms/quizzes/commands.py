"""`flask lms regrade SLUG`: grade a bank's submitted attempts again with its current key."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from lms.extensions import db
from lms.quizzes.models import QuizBank
from lms.quizzes.services import regrade


@click.command("regrade")
@click.argument("slug")
@with_appcontext
def regrade_command(slug):
    """Re-grade every submitted attempt of question bank SLUG with its current answer key."""
    bank = db.session.scalar(select(QuizBank).where(QuizBank.slug == slug))
    if bank is None:
        raise click.BadParameter(f"there is no question bank {slug!r}", param_hint="SLUG")
    counts = regrade(bank, actor=None)
    db.session.commit()
    click.echo(f"{slug}: {counts['attempts']} attempt(s) re-graded: {counts['changed']} changed, "
               f"{counts['now_passed']} now passed, {counts['now_failed']} now failed.")
