"""Report downloads of a unit, as CSV or XLSX, for whoever may see its dashboard: the figures
of every sub-unit, the active staff with their standing, and the certificates of a year.
The two that list people are audit-logged (committed before the file streams)."""

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.audit.services import record_event
from lms.auth.sessions import fresh_check_required
from lms.extensions import db
from lms.org.forms import CATEGORY_LABELS
from lms.reports import exports_data, services
from lms.reports.exports import csv_response, xlsx_response
from lms.reports.progress import progress
from lms.reports.views import bp, today, unit_or_404
from lms.sql import begin_write
from lms.web import client_ip

FORMATS = "any(csv, xlsx):fmt"
FIRST_YEAR = 2000


@bp.get(f"/units/<code>/summary.<{FORMATS}>")
@login_required
def export_summary(code, fmt):
    """A unit's figures and those of each unit of its subtree, one row per unit."""
    found = unit_or_404(code)
    report = _report(found)
    header = [_("Unit code"), _("Unit name"), _("Parent unit code"), _("Active staff"),
              _("Trained"), _("Share trained (%)"), _("In progress"), _("Not started"),
              _("Overdue"), _("Target (%)"), _("Deadline")]
    parent_code = found.parent.code if found.parent else None
    return _download(fmt, f"tien-do-{found.code}-{report.today.isoformat()}", _("Progress"),
                     header, exports_data.summary_rows(report, parent_code))


@bp.get(f"/units/<code>/staff.<{FORMATS}>")
@login_required
@fresh_check_required
def export_staff(code, fmt):
    """Every active staff member of the units the programme covers, with their standing."""
    found = unit_or_404(code)
    report = _report(found)
    header = [_("Employee ID"), _("Full name"), _("Unit code"), _("Unit name"), _("Category"),
              _("Status"), _("Courses held"), _("Trained on"), _("Last activity")]
    statuses = {"trained": _("Trained"), "in_progress": _("In progress"),
                "not_started": _("Not started")}
    categories = {key: str(label) for key, label in CATEGORY_LABELS.items()}
    rows = exports_data.staff_rows(report, statuses, categories)
    _record_export(found, "staff", fmt, programme=report.programme.slug)
    return _download(fmt, f"nhan-su-{found.code}-{report.today.isoformat()}", _("Staff"),
                     header, rows)


@bp.get(f"/units/<code>/record-<int:year>.<{FORMATS}>")
@login_required
@fresh_check_required
def export_record(code, year, fmt):
    """The certificates issued in a calendar year to the staff of the subtree (active or
    not), for the annual staff assessment."""
    found = unit_or_404(code)
    day = today()
    if not FIRST_YEAR <= year <= day.year + 1:
        abort(404)
    header = [_("Employee ID"), _("Full name"), _("Unit code"), _("Course or programme"),
              _("Issued on"), _("Score"), _("Serial"), _("Valid until"), _("Status now")]
    statuses = {"valid": _("Valid"), "expired": _("Expired"), "renewed": _("Renewed")}
    rows = exports_data.record_rows(found, year, day, statuses)
    _record_export(found, "record", fmt, year=year)
    return _download(fmt, f"ho-so-{year}-{found.code}-{day.isoformat()}",
                     _("Training record %(year)s", year=year), header, rows)


def _report(unit):
    """The unit's progress in the programme asked for (as on the dashboard), or 404."""
    programme, _programmes = services.choose_programme(unit, request.args.get("programme"))
    if programme is None:
        abort(404)
    return progress(programme, unit, today())


def _record_export(unit, kind, fmt, **detail):
    """Audit a download of personal data; committed now, since the file streams after the
    view has returned. On SQLite a GET reads without the write lock: end the read and write
    from a fresh transaction that takes it (else a concurrent writer makes it fail)."""
    db.session.commit()
    begin_write()
    record_event("report_exported", actor=current_user, object_type="units",
                 object_id=unit.code, ip=client_ip(), unit=unit.code, kind=kind, format=fmt,
                 **detail)
    db.session.commit()


def _download(fmt, stem, sheet_title, header, rows):
    if fmt == "xlsx":
        return xlsx_response(f"{stem}.xlsx", sheet_title, header, rows)
    return csv_response(f"{stem}.csv", header, rows)
