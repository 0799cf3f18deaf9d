"""Administration: the audit log, filtered, and its export."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.audit.forms import AuditFilterForm
from lms.audit.labels import ACTION_LABELS, OBJECT_LABELS
from lms.audit.services import (
    detail_json,
    events_page,
    export_rows,
    record_event,
)
from lms.auth.permissions import require
from lms.extensions import db
from lms.i18n import app_zone
from lms.reports.exports import csv_response, xlsx_response
from lms.sql import begin_write
from lms.web import client_ip, page_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")



@bp.get("/audit")
@login_required
def audit():
    """Privileged actions, newest first, filtered by actor, action, object, dates, address."""
    require("admin")
    form = AuditFilterForm(request.args)
    if not form.validate():
        return _list(form, None)
    page = page_arg()
    return _list(form, events_page(form.filters(), page, current_app.config["PER_PAGE"]))


@bp.get("/audit.<any(csv, xlsx):fmt>")
@login_required
def audit_export(fmt):
    """The filtered audit log as a file for Excel; the export is itself audit-logged
    (committed before the file streams)."""
    require("admin")
    form = AuditFilterForm(request.args)
    if not form.validate():
        return _list(form, None), 400
    filters = form.query_args()
    db.session.commit()  # end the read: on SQLite, write from a fresh transaction
    begin_write()
    event = record_event("audit_exported", actor=current_user, ip=client_ip(), format=fmt,
                         filters=filters)
    db.session.flush()
    leave_out = event.id
    db.session.commit()
    header = [_("Seq"), _("Time (%(zone)s)", zone=app_zone().key), _("Employee ID"),
              _("Actor"), _("Action code"), _("Action"), _("Object type"), _("Object ID"),
              _("Address"), _("Details (JSON)"), _("Hash")]
    rows = export_rows(form.filters(), ACTION_LABELS, leave_out=leave_out)
    stem = f"nhat-ky-he-thong-{datetime.now(UTC).astimezone(app_zone()).date()}"
    if fmt == "xlsx":
        return xlsx_response(f"{stem}.xlsx", _("Audit log"), header, rows)
    return csv_response(f"{stem}.csv", header, rows)


def _list(form, page):
    return render_template("audit/list.html", form=form, page=page, args=form.query_args(),
                           action_labels=ACTION_LABELS, object_labels=OBJECT_LABELS,
                           detail_json=detail_json)
