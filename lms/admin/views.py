"""Administration: the audit log."""

from flask import Blueprint, render_template, request
from flask_login import login_required
from sqlalchemy import select

from lms.audit.labels import ACTION_LABELS, OBJECT_LABELS
from lms.audit.models import AuditEvent
from lms.auth.permissions import require
from lms.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/audit")
@login_required
def audit():
    """Privileged actions, newest first, filterable by action."""
    require("admin")
    action = request.args.get("action", "")[:64]
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    actions = db.session.scalars(select(AuditEvent.action).distinct()
                                 .order_by(AuditEvent.action)).all()
    page = db.paginate(query, per_page=50, error_out=False)
    return render_template("audit/list.html", page=page, action=action, actions=actions,
                           action_labels=ACTION_LABELS, object_labels=OBJECT_LABELS)
