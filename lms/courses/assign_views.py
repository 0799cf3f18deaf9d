"""HR pages: programmes, their assignment to units, and who needs a refresher."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.auth.forms import ConfirmForm
from lms.auth.permissions import allowed, require
from lms.courses import assignments, services
from lms.courses.forms import AssignForm
from lms.courses.models import Programme, ProgrammeAssignment
from lms.courses.views import bp, current_lang
from lms.extensions import db
from lms.org.services import unit_by_code
from lms.web import client_ip

OUTCOMES = {
    "assigned": _l("Programme assigned."),
    "changed": _l("Deadline changed."),
    "unchanged": _l("Nothing changed: the unit already had this programme and deadline."),
}


def _assign_form(programmes):
    return AssignForm([(p.slug, services.programme_title(p, current_lang()))
                       for p in programmes])


def _programmes_page(programmes, form):
    can_assign = allowed(current_user, "programmes.assign")
    course_ids = {link.course_id for programme in programmes for link in programme.courses}
    return render_template(
        "courses/programmes.html", programmes=programmes,
        course_texts=services.course_texts(course_ids, current_lang()),
        assignments=assignments.assignments_in_scope(current_user),
        form=form if can_assign else None,
        units=assignments.units_in_scope(current_user) if can_assign else [],
        can_assign=can_assign, confirm_form=ConfirmForm(),
        can_see_quiz_stats=allowed(current_user, "quizzes.stats"))


@bp.get("/programmes")
@login_required
def programmes():
    """Programmes, their courses and the assignments in the viewer's scope."""
    require("programmes.view")
    found = assignments.programmes_overview()
    return _programmes_page(found, _assign_form(found))


@bp.post("/programmes/assign")
@login_required
def assign():
    """Assign a programme to a unit in scope, or change its deadline there."""
    require("programmes.assign")
    found = assignments.programmes_overview()
    form = _assign_form(found)
    if not form.validate_on_submit():
        return _programmes_page(found, form)
    unit = unit_by_code(form.unit.data.strip())
    if unit is None:
        form.unit.errors.append(_("No unit has this code."))
        return _programmes_page(found, form)
    require("programmes.assign", unit)
    programme = next(p for p in found if p.slug == form.programme.data)
    outcome = assignments.assign_programme(current_user, programme, unit, form.deadline.data,
                                        ip=client_ip())
    db.session.commit()
    flash(str(OUTCOMES[outcome]), "success")
    return redirect(url_for("courses.programmes"))


@bp.post("/programmes/assignments/<int:assignment_id>/remove")
@login_required
def unassign(assignment_id):
    """Remove a programme from a unit in scope."""
    require("programmes.assign")
    assignment = db.get_or_404(ProgrammeAssignment, assignment_id)
    require("programmes.assign", assignment.unit)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    assignments.unassign_programme(current_user, assignment, ip=client_ip())
    db.session.commit()
    flash(_("Assignment removed."), "success")
    return redirect(url_for("courses.programmes"))


@bp.get("/programmes/<slug>/refreshers")
@login_required
def refreshers(slug):
    """People in scope who completed a course of the programme before its refresher version."""
    require("programmes.view")
    programme = db.first_or_404(select(Programme).where(Programme.slug == slug))
    page, counts = assignments.refreshers(current_user, programme,
                                       page=request.args.get("page", 1, type=int),
                                       per_page=current_app.config["PER_PAGE"])
    courses = [link.course for link in programme.courses]
    texts = services.course_texts([c.id for c in courses], current_lang())
    titles = {c.id: texts[c.id].title if c.id in texts else c.slug for c in courses}
    return render_template("courses/refreshers.html", programme=programme, page=page,
                           counts=counts, courses=courses, titles=titles)
