"""The audit log's filters (a GET form: no CSRF token, read from the query string)."""

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Optional, ValidationError

from lms.audit.labels import ACTION_LABELS, OBJECT_LABELS
from lms.auth.forms import at_most
from lms.courses.forms import LocalDateField
from lms.text import alpha_key

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
FILTERS = ("actor", "action", "object_type", "object_id", "ip", "since", "until")


def _plausible(form, field):
    if field.data and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_("Enter a date between %(first)s and %(last)s.",
                                first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))


def _no_control_characters(form, field):
    if field.data and any(ord(c) < 32 for c in field.data):
        raise ValidationError(_("Remove the control characters from this field."))


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField(_l("Actor: name, employee ID or email"),
                        validators=[Optional(), at_most(100), _no_control_characters])
    action = SelectField(_l("Action"), validate_choice=False,
                         validators=[_no_control_characters])
    object_type = SelectField(_l("Object type"), validate_choice=False,
                              validators=[_no_control_characters])
    object_id = StringField(_l("Object ID"),
                            validators=[Optional(), at_most(64), _no_control_characters])
    ip = StringField(_l("Address"), validators=[Optional(), at_most(64), _no_control_characters])
    since = LocalDateField(_l("From date"), validators=[Optional(), _plausible])
    until = LocalDateField(_l("Until date"), validators=[Optional(), _plausible])

    def __init__(self, formdata):
        super().__init__(formdata)
        everything = [("", _("All"))]
        self.action.choices = everything + _by_label(ACTION_LABELS)
        self.object_type.choices = everything + _by_label(OBJECT_LABELS)

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date."))

    def filters(self):
        """The filters given, as event_conditions() takes them."""
        values = {name: self[name].data for name in FILTERS}
        values = {name: value.strip() if isinstance(value, str) else value
                  for name, value in values.items()}
        return {name: value for name, value in values.items() if value}

    def query_args(self):
        """The filters given, as query-string values (for links to other pages, exports)."""
        return {name: value.isoformat() if isinstance(value, date) else value
                for name, value in self.filters().items()}


def _by_label(labels):
    return sorted(((code, str(label)) for code, label in labels.items()),
                  key=lambda choice: alpha_key(choice[1]))
