"""Account emails: activation and password-reset links."""

from datetime import timedelta

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select

from lms.auth.models import User
from lms.auth.services import make_token
from lms.extensions import db
from lms.notify.services import build_message, send_messages
from lms.org.models import utcnow

# Someone invited less than this long ago is not invited again by a bulk send.
REINVITE_AFTER = timedelta(days=1)


def account_link(user):
    """The absolute one-time link: activation for a new account, reset otherwise."""
    purpose = "reset" if user.is_activated else "activate"
    path = url_for(f"auth.{purpose}", token=make_token(user, purpose))
    return purpose, current_app.config["BASE_URL"].rstrip("/") + path


def _link_message(user):
    purpose, link = account_link(user)
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        if purpose == "activate":
            subject = _("Activate your CivicSkills account")
        else:
            subject = _("Reset your CivicSkills password")
        text = render_template("auth/email_link.txt", user=user, link=link, purpose=purpose)
        html = render_template("auth/email_link.html", user=user, link=link, purpose=purpose)
    return build_message(user.email, subject, text, html)


def send_account_link(user):
    """Email the user their activation or reset link, in their language."""
    msg = _link_message(user)
    send_messages([msg])
    if not user.is_activated:
        user.invited_at = utcnow()
    return msg["Message-ID"]


def pending_invitations(unit_ids, now=None):
    """Active staff of these units who have an email, no password yet, and no recent invite."""
    recent = (now or utcnow()) - REINVITE_AFTER
    return select(User).where(
        User.unit_id.in_(unit_ids), User.active.is_(True), User.password_hash.is_(None),
        User.email.is_not(None), or_(User.invited_at.is_(None), User.invited_at < recent),
    ).order_by(User.id)


def send_invitations(unit_ids, progress=None):
    """Email an activation link to everyone pending in these units; return how many."""
    users = db.session.scalars(pending_invitations(unit_ids)).all()
    now = utcnow()

    def messages():
        for user in users:
            yield _link_message(user)
            user.invited_at = now
            if progress:
                progress(1)

    send_messages(messages())
    return len(users)
