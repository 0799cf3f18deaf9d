"""`flask --app wsgi lms ...` commands."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lms.audit.services import record_event
from lms.auth.models import User
from lms.auth.services import password_problem, set_password
from lms.extensions import db
from lms.org.commands import import_staff, import_units
from lms.org.demo import demo_command
from lms.org.services import fill_derived

lms_cli = AppGroup("lms", help="CivicSkills administration commands.")
lms_cli.add_command(demo_command)
lms_cli.add_command(import_units)
lms_cli.add_command(import_staff)


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
