"""Sign-in, activation and password forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from lms.auth.services import MIN_PASSWORD_LENGTH, password_problem
from lms.config import LANGUAGES


def required():
    """DataRequired with our own (translated) message; WTForms has no Vietnamese catalogue."""
    return DataRequired(message=_l("Fill in this field."))


def at_most(n):
    """Length(max=n) with a translated message."""
    return Length(max=n, message=_l("Use at most %(max)d characters."))


class LoginForm(FlaskForm):
    login = StringField(_l("Email or employee ID"), validators=[required(), at_most(255)])
    password = PasswordField(_l("Password"), validators=[required(), at_most(1024)])
    next = HiddenField()


class CodeForm(FlaskForm):
    """The second step of signing in: a code from the authenticator app or a recovery code."""

    code = StringField(_l("Code"), validators=[required(), at_most(40)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "off",
                                  "spellcheck": "false"},
                       description=_l("The 6 digits your authenticator app shows now, or one "
                                      "of your recovery codes."))


class SetupCodeForm(FlaskForm):
    """Confirming a new authenticator: the code it shows proves it was set up right."""

    code = StringField(_l("Code shown by the app"), validators=[required(), at_most(12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[required(), at_most(1024)])
    next = HiddenField()


class ConfirmCodeForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app"),
                       validators=[required(), at_most(12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    next = HiddenField()


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[required(), at_most(1024),
                    Length(min=MIN_PASSWORD_LENGTH,
                           message=_l("Use at least %(min)d characters."))],
        description=_l("At least %(n)d characters; a short sentence is easy to remember.",
                       n=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[required(), EqualTo("password", message=_l("The passwords differ."))],
    )

    def validate_password(self, field):
        if password_problem(field.data) == "too_simple":
            raise ValidationError(_l("Use more different characters."))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[required()])


class RequestLinkForm(FlaskForm):
    email = EmailField(_l("Your work email"),
                       validators=[required(), at_most(255),
                                   Email(check_deliverability=False,
                                         message=_l("Enter a valid email address."))])


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=[SelectChoice(code) for code in LANGUAGES])
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
