"""Roster upload: preview what a units or staff file would change, then apply it."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lms.auth.permissions import require
from lms.extensions import db
from lms.org import imports
from lms.org.forms import ApplyImportForm, ImportForm
from lms.org.views import bp
from lms.uploads import display_name, store_upload, stored_upload
from lms.web import client_ip

UPLOAD_MAX_AGE = 2 * 3600  # a preview can be applied for this long
ERRORS_SHOWN = 500


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_roster():
    """Upload a units or staff file and preview what it would change."""
    require("org.import")
    form = ImportForm()
    if not form.validate_on_submit():
        return render_template("org/import.html", form=form)
    data = form.file.data.read()  # checked by the form: a CSV file within the size cap
    name = display_name(form.file.data.filename)
    plan = imports.plan_file(form.kind.data, data, name, current_user,
                             form.deactivate_missing.data)
    apply_form = None
    if plan.ok:
        ticket = {"f": store_upload(data, UPLOAD_MAX_AGE), "k": plan.kind,
                  "d": plan.deactivate_missing, "n": name, "u": current_user.id}
        apply_form = ApplyImportForm(token=_serializer().dumps(ticket))
    return _preview(plan, apply_form)


@bp.post("/import/apply")
@login_required
def import_apply():
    """Re-check the previewed file against the database as it is now, then apply it."""
    require("org.import")
    form = ApplyImportForm()
    ticket = _read_ticket(form.token.data) if form.validate_on_submit() else None
    path = stored_upload(ticket["f"]) if ticket else None
    if path is None or not path.is_file():
        flash(_("This preview has expired or was already applied. Please upload the file "
                "again."), "error")
        return redirect(url_for("org.import_roster"))
    plan = imports.plan_file(ticket["k"], path.read_bytes(), ticket["n"], current_user,
                             ticket["d"])
    if not plan.ok:
        path.unlink(missing_ok=True)
        return _preview(plan, None)
    counts = imports.apply_plan(plan, ip=client_ip())
    db.session.commit()
    path.unlink(missing_ok=True)
    flash(_("%(file)s imported: %(added)d added, %(updated)d updated, %(unchanged)d "
            "unchanged, %(deactivated)d deactivated.", file=plan.file, **counts), "success")
    return redirect(url_for("org.import_roster"))


def _preview(plan, apply_form):
    return render_template("org/import_preview.html", plan=plan, apply_form=apply_form,
                           errors=plan.errors[:ERRORS_SHOWN],
                           hidden_errors=max(0, len(plan.errors) - ERRORS_SHOWN))


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lms.import")


def _read_ticket(token):
    """The upload a signed token names, when it is valid and was issued to this user."""
    try:
        ticket = _serializer().loads(token, max_age=UPLOAD_MAX_AGE)
    except BadSignature:
        return None
    valid = isinstance(ticket, dict) and ticket.get("u") == current_user.id \
        and ticket.get("k") in imports.KINDS and isinstance(ticket.get("d"), bool) \
        and isinstance(ticket.get("n"), str) and stored_upload(ticket.get("f")) is not None
    return ticket if valid else None
