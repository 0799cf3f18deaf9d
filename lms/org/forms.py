"""Forms of the organisation pages."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError

from lms.auth.models import ROLES
from lms.uploads import check_upload

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


class ImportForm(FlaskForm):
    kind = SelectField(_l("The file lists"), choices=[
        SelectChoice("staff", _l("Staff: employee_id, full_name, email, unit_code, category, "
                                 "role")),
        SelectChoice("units", _l("Units: code, name, parent_code, head_employee_id")),
    ])
    file = FileField(_l("CSV file (UTF-8)"), validators=[FileRequired(_l("Choose a file."))],
                     description=_l("In Excel: File › Save As › “CSV UTF-8 (Comma delimited)”."),
                     render_kw={"accept": ".csv,text/csv"})
    deactivate_missing = BooleanField(_l("Deactivate the staff who are not in the file"))

    def validate_file(self, field):
        """Size and type from the content, by the rules of lms/uploads.py."""
        stream = field.data.stream
        data = stream.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
        stream.seek(0)
        problem = check_upload(data, field.data.filename, ("csv",))
        if problem is not None:
            raise ValidationError(problem)


class ApplyImportForm(FlaskForm):
    """The previewed import, named by a signed token."""

    token = HiddenField(validators=[DataRequired()])
