"""HR pages: the certificate register of a subtree, revocation and re-issue (heads read the
register of their subtree; only HR and admins change it)."""

from datetime import UTC, date, datetime

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from lms.auth.forms import ConfirmForm, at_most, required
from lms.auth.permissions import allowed, require
from lms.auth.sessions import fresh_check_required
from lms.certificates import register as services
from lms.certificates.models import Certificate
from lms.certificates.views import bp
from lms.extensions import db
from lms.org.services import unit_by_code
from lms.reports.exports import csv_response
from lms.web import client_ip, row_id

PROBLEMS = {
    "reason_required": _l("Give the reason for the revocation."),
    "already_revoked": _l("This certificate is already revoked."),
    "already_replaced": _l("This certificate was already re-issued."),
    "other_in_force": _l("The person holds another certificate in force for the same course "
                         "or programme."),
}


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[required(), at_most(500)],
                           description=_l("Kept with the certificate, in the register and in "
                                          "the audit log."))


def _today():
    return to_user_timezone(datetime.now(UTC)).date()


def _date_arg(name):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters():
    """The register's filters from the query string: (service arguments, values to echo)."""
    code = request.args.get("unit", "").strip()
    unit = unit_by_code(code) if code else None
    if code and unit is None:
        abort(404)
    if unit is not None:
        require("certificates.view", unit)
    status = request.args.get("status", "")
    filters = {
        "query": request.args.get("q", "")[:100],
        "course_id": request.args.get("course", type=row_id),
        "unit_id": unit.id if unit is not None else None,
        "status": status if status in services.STATUSES else None,
        "issued_from": _date_arg("from"),
        "issued_to": _date_arg("to"),
    }
    args = {"q": filters["query"] or None, "course": filters["course_id"],
            "unit": unit.code if unit is not None else None, "status": filters["status"],
            "from": filters["issued_from"] and filters["issued_from"].isoformat(),
            "to": filters["issued_to"] and filters["issued_to"].isoformat()}
    return filters, {key: value for key, value in args.items() if value is not None}


@bp.get("/certificates/register")
@login_required
def register():
    """Certificates held by the people in the viewer's subtree, filtered, newest first."""
    require("certificates.view")
    filters, args = _filters()
    page = services.register_page(current_user, **filters, today=_today(),
                                  page=request.args.get("page", 1, type=int),
                                  per_page=current_app.config["PER_PAGE"])
    return render_template(
        "certificates/register.html", page=page, args=args,
        courses=services.register_courses(current_user), statuses=services.STATUSES,
        can_manage=allowed(current_user, "certificates.manage"), confirm_form=ConfirmForm())


@bp.get("/certificates/register.csv")
@login_required
def register_csv():
    """The filtered register as a CSV file for Excel."""
    require("certificates.view")
    filters, _args = _filters()
    return csv_response(f"certificates-{_today().isoformat()}.csv", services.CSV_HEADER,
                        services.register_rows(current_user, today=_today(), **filters))


def _managed(certificate_id):
    """The certificate, when the current user may change it (404 outside their subtree)."""
    require("certificates.manage")
    certificate = db.get_or_404(Certificate, certificate_id)
    require("certificates.manage", certificate.user)
    return certificate


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["GET", "POST"])
@login_required
@fresh_check_required
def revoke(certificate_id):
    """Ask for the reason, then revoke the certificate (audit-logged)."""
    certificate = _managed(certificate_id)
    form = RevokeForm()
    if certificate.revoked_at is None and form.validate_on_submit():
        try:
            services.revoke_certificate(current_user, certificate, form.reason.data,
                                        ip=client_ip())
        except services.RegisterError as error:
            form.reason.errors.append(str(PROBLEMS[error.code]))
        else:
            db.session.commit()
            flash(_("Certificate %(serial)s revoked.", serial=certificate.serial), "success")
            return redirect(url_for("certificates.register"))
    return render_template("certificates/register_revoke.html", certificate=certificate,
                           form=form)


@bp.post("/certificates/<int:certificate_id>/reissue")
@login_required
@fresh_check_required
def reissue(certificate_id):
    """Re-issue a certificate in the person's current name; the old one is revoked."""
    certificate = _managed(certificate_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        new = services.reissue_certificate(current_user, certificate, ip=client_ip())
    except services.RegisterError as error:
        db.session.rollback()
        flash(str(PROBLEMS[error.code]), "error")
        return redirect(url_for("certificates.register"))
    db.session.commit()
    flash(_("Certificate %(old)s re-issued as %(new)s.", old=certificate.serial,
            new=new.serial), "success")
    return redirect(url_for("certificates.register", q=new.serial))
