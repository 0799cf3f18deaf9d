"""Forms of the course and programme pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from lms.auth.forms import at_most, required


class LocalDateField(DateField):
    """A date field whose parse error is ours to translate (WTForms has no Vietnamese)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_l("Enter a date, for example 2026-12-31.")) from None


class MarkReadForm(FlaskForm):
    """"I have read this module": only the CSRF token; the reader is always the current user."""


class AssignForm(FlaskForm):
    programme = SelectField(_l("Programme"), choices=[], validators=[required()])
    unit = StringField(_l("Unit code"), validators=[required(), at_most(64)],
                       description=_l("The programme applies to this unit and every unit "
                                      "below it."),
                       render_kw={"list": "unit-codes", "autocomplete": "off"})
    deadline = LocalDateField(_l("Deadline (optional)"), validators=[Optional()],
                         description=_l("Empty: the programme's own deadline. Assigning a "
                                        "programme again to the same unit changes its "
                                        "deadline."))

    def __init__(self, programmes=(), *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.programme.choices = [(slug, title) for slug, title in programmes]
