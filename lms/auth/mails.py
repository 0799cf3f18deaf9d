"""Account emails: activation and password-reset links."""

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from lms.auth.services import make_token
from lms.notify.services import send_email


def account_link(user):
    """The absolute one-time link: activation for a new account, reset otherwise."""
    purpose = "reset" if user.is_activated else "activate"
    path = url_for(f"auth.{purpose}", token=make_token(user, purpose))
    return purpose, current_app.config["BASE_URL"].rstrip("/") + path


def send_account_link(user):
    """Email the user their activation or reset link, in their language."""
    purpose, link = account_link(user)
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        if purpose == "activate":
            subject = _("Activate your CivicSkills account")
        else:
            subject = _("Reset your CivicSkills password")
        text = render_template("auth/email_link.txt", user=user, link=link, purpose=purpose)
        html = render_template("auth/email_link.html", user=user, link=link, purpose=purpose)
    return send_email(user.email, subject, text, html)
