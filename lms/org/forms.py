"""Forms of the organisation pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from lms.auth.models import ROLES

ROLE_LABELS = {
    "learner": _l("Learner"),
    "head": _l("Unit head"),
    "hr": _l("HR / training officer"),
    "admin": _l("Administrator"),
}
CATEGORY_LABELS = {
    "cadre": _l("Cadre"),
    "civil_servant": _l("Civil servant"),
    "public_employee": _l("Public employee"),
}


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
