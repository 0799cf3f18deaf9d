"""The outbox for admins: every email queued, sent, failed (with the server's words) or
cancelled, and a resend for the failed ones."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.auth.forms import ConfirmForm
from lms.auth.permissions import require
from lms.extensions import db
from lms.notify import outbox
from lms.notify.models import KINDS, STATUSES, OutboxMessage
from lms.web import client_ip, page_arg

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")



@bp.get("/")
@login_required
def index():
    """The messages, newest first, by status and kind; a search by address."""
    require("admin")
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    address = request.args.get("q", "").strip()[:254]
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    if kind in KINDS:
        query = query.where(OutboxMessage.kind == kind)
    if address:
        query = query.where(OutboxMessage.to_address.contains(address.lower(),
                                                              autoescape=True))
    number = page_arg()
    page = db.paginate(query, page=number, per_page=50, error_out=False)
    return render_template("notify/outbox.html", page=page, status=status, kind=kind,
                           q=address, counts=outbox.status_counts(), statuses=STATUSES,
                           kinds=KINDS, confirm_form=ConfirmForm())


@bp.get("/<int:message_id>")
@login_required
def show(message_id):
    """One message as it was rendered (the text part; the HTML part is not rendered here)."""
    require("admin")
    row = db.session.get(OutboxMessage, message_id) or abort(404)
    return render_template("notify/message.html", row=row, confirm_form=ConfirmForm())


@bp.post("/<int:message_id>/resend")
@login_required
def resend(message_id):
    """Queue a failed or cancelled message again."""
    require("admin")
    row = db.session.get(OutboxMessage, message_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if outbox.resend(current_user, row, ip=client_ip()):
        db.session.commit()
        flash(_("The message to %(address)s is queued again.", address=row.to_address),
              "success")
    else:
        flash(_("Only a failed or cancelled message can be sent again."), "error")
    return redirect(url_for("outbox.index", status=request.args.get("status") or None))
