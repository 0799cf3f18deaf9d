"""Sign-in, activation and password forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from lms.auth.services import MIN_PASSWORD_LENGTH, password_problem
from lms.config import LANGUAGES


class LoginForm(FlaskForm):
    login = StringField(_l("Email or employee ID"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description=_l("At least %(n)d characters; a short sentence is easy to remember.",
                       n=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )

    def validate_password(self, field):
        if password_problem(field.data) == "too_simple":
            raise ValidationError(_l("Use more different characters."))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])


class RequestLinkForm(FlaskForm):
    email = EmailField(_l("Your work email"),
                       validators=[DataRequired(), Email(check_deliverability=False),
                                   Length(max=255)])


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=[SelectChoice(code) for code in LANGUAGES])
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
