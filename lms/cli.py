"""`flask --app wsgi lms ...` commands."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lms.admin.backup import backup_command, restore_command
from lms.audit.commands import audit_cli
from lms.audit.services import record_event
from lms.auth.mails import pending_invitations, send_invitations
from lms.auth.models import User
from lms.auth.services import password_problem, set_password
from lms.certificates.commands import (
    invite_refreshers_command,
    rotate_certificate_key_command,
    verify_certificate_command,
)
from lms.courses.commands import sync_content
from lms.extensions import db
from lms.notify.commands import (
    send_digests_command,
    send_expiry_reminders_command,
    send_reminders_command,
)
from lms.notify.outbox_commands import send_outbox_command
from lms.org.commands import import_staff, import_units
from lms.org.demo import demo_command
from lms.org.models import Unit
from lms.org.services import count_rows, fill_derived, subtree_ids, unit_by_code
from lms.quizzes.commands import regrade_command
from lms.reports.commands import refresh_figures_command, snapshot_command
from lms.scheduler import run_job_command, scheduler_command
from lms.web import base_url_context

lms_cli = AppGroup("lms", help="CivicSkills administration commands.")
lms_cli.add_command(demo_command)
lms_cli.add_command(import_units)
lms_cli.add_command(import_staff)
lms_cli.add_command(sync_content)
lms_cli.add_command(regrade_command)
lms_cli.add_command(verify_certificate_command)
lms_cli.add_command(rotate_certificate_key_command)
lms_cli.add_command(invite_refreshers_command)
lms_cli.add_command(snapshot_command)
lms_cli.add_command(send_outbox_command)
lms_cli.add_command(refresh_figures_command)
lms_cli.add_command(scheduler_command)
lms_cli.add_command(run_job_command)
lms_cli.add_command(send_digests_command)
lms_cli.add_command(send_reminders_command)
lms_cli.add_command(send_expiry_reminders_command)
lms_cli.add_command(audit_cli)
lms_cli.add_command(backup_command)
lms_cli.add_command(restore_command)


@lms_cli.command("create-admin")
@click.option("--email", prompt=True, help="The administrator's email (used to sign in).")
@click.option("--name", "full_name", prompt="Full name", help="The administrator's full name.")
@click.option("--employee-id", default=None, help="Employee ID, if the admin is also staff.")
@click.password_option(help="At least 10 characters.")
def create_admin(email, full_name, employee_id, password):
    """Create an administrator, or make an existing account one and set its password."""
    if password_problem(password):
        raise click.BadParameter("use at least 10 characters, not all the same",
                                 param_hint="--password")
    email = email.strip().lower()
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, full_name=full_name, employee_id=employee_id)
        db.session.add(user)
    user.role = "admin"
    user.active = True
    fill_derived(user)
    set_password(user, password)
    db.session.flush()
    record_event("admin_created", obj=user, via="cli")
    db.session.commit()
    click.echo(f"Administrator {email} is ready.")


@lms_cli.command("send-invites")
@click.option("--unit", "unit_code", default=None, help="Only this unit and its subtree.")
@click.option("--dry-run", is_flag=True, help="Count who would be invited; send nothing.")
def send_invites(unit_code, dry_run):
    """Email activation links to active staff who have not activated their account."""
    if unit_code:
        unit = unit_by_code(unit_code)
        if unit is None:
            raise click.BadParameter(f"unknown unit code {unit_code!r}", param_hint="--unit")
        unit_ids = subtree_ids(unit)
    else:
        unit_ids = select(Unit.id)
    pending = count_rows(pending_invitations(unit_ids))
    if dry_run:
        click.echo(f"{pending} people would be invited.")
        return
    with base_url_context(), click.progressbar(length=pending,
                                               label="Sending activation links") as bar:
        sent = send_invitations(unit_ids, progress=bar.update)
    record_event("invitations_sent", object_type="units", object_id=unit_code, via="cli",
                 count=sent)
    db.session.commit()
    click.echo(f"{sent} activation links sent.")
