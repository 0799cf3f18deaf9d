"""Browsing the organisation: units, staff lists, a person's record and its changes."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from lms.audit.services import record_event
from lms.auth.forms import ConfirmForm
from lms.auth.mails import pending_invitations, send_account_link, send_invitations
from lms.auth.models import User
from lms.auth.permissions import allowed, require, scope_unit
from lms.auth.sessions import fresh_check_required
from lms.extensions import db
from lms.org import services
from lms.org.forms import CATEGORY_LABELS, ROLE_LABELS, RoleForm
from lms.web import client_ip

bp = Blueprint("org", __name__, url_prefix="/org")


@bp.context_processor
def _labels():
    return {"role_labels": ROLE_LABELS, "category_labels": CATEGORY_LABELS}


@bp.get("/")
@login_required
def index():
    """Start at the top of the viewer's scope."""
    require("org.view")
    root = scope_unit(current_user)
    if root is not None:
        return redirect(url_for("org.unit", code=root.code))
    tops = services.top_units()
    if len(tops) == 1:
        return redirect(url_for("org.unit", code=tops[0].code))
    return render_template("org/units.html", units=tops)


@bp.get("/units/<code>")
@login_required
def unit(code):
    """A unit: where it sits, its sub-units with their staff counts."""
    found = services.unit_by_code(code)
    if found is None:
        abort(404)
    require("org.view", found)
    return render_template(
        "org/unit.html",
        unit=found,
        ancestors=[u for u in services.ancestors(found) if allowed(current_user, "org.view", u)],
        children=services.children_with_counts(found),
        active_count=services.count_staff(found),
        inactive_count=services.count_staff(found, active=False),
        pending_count=services.count_rows(pending_invitations(services.subtree_ids(found))),
        can_manage=allowed(current_user, "org.manage", found),
        confirm_form=ConfirmForm(),
    )


@bp.post("/units/<code>/invite")
@login_required
def invite(code):
    """Email activation links to the subtree's staff who have not activated their account."""
    found = services.unit_by_code(code)
    if found is None:
        abort(404)
    require("org.manage", found)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    sent = send_invitations(services.subtree_ids(found))
    record_event("invitations_sent", actor=current_user, obj=found, ip=client_ip(), count=sent)
    db.session.commit()
    flash(ngettext("%(num)d activation link sent.", "%(num)d activation links sent.", sent),
          "success")
    return redirect(url_for("org.unit", code=found.code))


@bp.get("/staff")
@login_required
def staff():
    """Staff of a subtree, searchable regardless of diacritics and case, paginated."""
    require("org.view")
    code = request.args.get("unit", "")
    unit_ = services.unit_by_code(code) if code else scope_unit(current_user)
    if code and unit_ is None:
        abort(404)
    if unit_ is not None:
        require("org.view", unit_)
    elif current_user.role != "admin":
        abort(404)
    status = request.args.get("status", "active")
    if status not in services.STATUSES:
        status = "active"
    query = request.args.get("q", "")[:100]
    page = services.staff_page(
        unit_,
        query=query,
        status=status,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["PER_PAGE"],
    )
    return render_template("org/staff.html", unit=unit_, page=page, query=query, status=status)


@bp.get("/staff/<int:user_id>")
@login_required
def person(user_id):
    """One staff member's record; HR in scope can change role and status."""
    user = require("org.view", db.get_or_404(User, user_id))
    can_manage = allowed(current_user, "org.manage", user) and user.id != current_user.id
    role_form = RoleForm(role=user.role)
    if current_user.role != "admin":
        role_form.role.choices = [c for c in role_form.role.choices if c.value != "admin"]
    return render_template(
        "org/person.html",
        user=user,
        can_manage=can_manage,
        role_form=role_form,
        confirm_form=ConfirmForm(),
        can_admin=allowed(current_user, "admin"),
    )


@bp.post("/staff/<int:user_id>/role")
@login_required
@fresh_check_required
def change_role(user_id):
    """Change a staff member's role (audit-logged)."""
    user = require("org.manage", db.get_or_404(User, user_id))
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = services.change_role(current_user, user, form.role.data, ip=client_ip())
    except PermissionError:
        abort(403)
    db.session.commit()
    if changed:
        flash(_("Role changed to %(role)s.", role=ROLE_LABELS[user.role]), "success")
    return redirect(url_for("org.person", user_id=user.id))


@bp.post("/staff/<int:user_id>/deactivate")
@login_required
def deactivate(user_id):
    """Deactivate a staff member: history stays, sessions end at once."""
    return _set_active(user_id, False)


@bp.post("/staff/<int:user_id>/reactivate")
@login_required
def reactivate(user_id):
    """Reactivate a staff member."""
    return _set_active(user_id, True)


def _set_active(user_id, active):
    user = require("org.manage", db.get_or_404(User, user_id))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.set_active(current_user, user, active, ip=client_ip())
    except PermissionError:
        abort(403)
    db.session.commit()
    flash(_("Account reactivated.") if active else _("Account deactivated."), "success")
    return redirect(url_for("org.person", user_id=user.id))


@bp.post("/staff/<int:user_id>/send-link")
@login_required
def send_link(user_id):
    """Email the person an activation link (or a reset link once activated)."""
    user = require("org.manage", db.get_or_404(User, user_id))
    if not ConfirmForm().validate_on_submit() or not user.active or not user.email:
        abort(400)
    send_account_link(user)
    record_event("account_link_sent", actor=current_user, obj=user, ip=client_ip())
    db.session.commit()
    flash(_("A link was sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("org.person", user_id=user.id))


from lms.org import import_views  # noqa: E402,F401  (routes on the same blueprint)
