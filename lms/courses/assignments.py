"""Programmes and their assignment to units (HR), and who needs a refresher."""

from sqlalchemy import false, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from lms.audit.services import record_event
from lms.auth.models import User
from lms.auth.permissions import scope_unit
from lms.courses.models import (
    Course,
    Module,
    ModuleRead,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import Page, count_rows, subtree_ids
from lms.reports.progress import forget_figures


def _in_scope(user, unit_id_column):
    """SQL condition: the unit lies in the subtree the user oversees."""
    if user.role == "admin":
        return true()
    root = scope_unit(user)
    return false() if root is None else unit_id_column.in_(subtree_ids(root))


def programmes_overview():
    """Every programme with its required courses loaded."""
    return db.session.scalars(select(Programme).order_by(Programme.slug).options(
        selectinload(Programme.courses).joinedload(ProgrammeCourse.course))).all()


def assignments_in_scope(user):
    """(assignment, assigned by whom) for the units the user oversees, by programme and unit."""
    return db.session.execute(
        select(ProgrammeAssignment, User.full_name)
        .join(Unit, Unit.id == ProgrammeAssignment.unit_id)
        .outerjoin(User, User.id == ProgrammeAssignment.assigned_by_id)
        .options(joinedload(ProgrammeAssignment.unit))
        .where(_in_scope(user, ProgrammeAssignment.unit_id))
        .order_by(ProgrammeAssignment.programme_id, Unit.path)).all()


def units_in_scope(user, limit=1000):
    """Units the user oversees (at most `limit`), as suggestions for the unit code field."""
    return db.session.execute(select(Unit.code, Unit.name).where(_in_scope(user, Unit.id))
                              .order_by(Unit.path).limit(limit)).all()


def assign_programme(actor, programme, unit, deadline, ip=None):
    """Assign a programme to a unit, or change its deadline there; audit-logged, flushes."""
    assignment = db.session.scalar(select(ProgrammeAssignment).where(
        ProgrammeAssignment.programme_id == programme.id, ProgrammeAssignment.unit_id == unit.id))
    detail = {"programme": programme.slug, "unit": unit.code}
    if assignment is None:
        try:
            with db.session.begin_nested():
                db.session.add(ProgrammeAssignment(programme=programme, unit_id=unit.id,
                                                   deadline=deadline, assigned_by_id=actor.id))
        except IntegrityError:  # assigned by someone else meanwhile: theirs stands
            return "unchanged"
        forget_figures(programme.id)
        record_event("programme_assigned", actor=actor, obj=unit, ip=ip,
                     deadline=deadline and deadline.isoformat(), **detail)
        return "assigned"
    if assignment.deadline == deadline:
        return "unchanged"
    record_event("programme_deadline_changed", actor=actor, obj=unit, ip=ip,
                 before=assignment.deadline and assignment.deadline.isoformat(),
                 after=deadline and deadline.isoformat(), **detail)
    assignment.deadline = deadline
    forget_figures(programme.id)
    return "changed"


def unassign_programme(actor, assignment, ip=None):
    """Remove a programme from a unit; audit-logged, flushes."""
    record_event("programme_unassigned", actor=actor, obj=assignment.unit, ip=ip,
                 programme=assignment.programme.slug, unit=assignment.unit.code)
    forget_figures(assignment.programme_id)
    db.session.delete(assignment)
    db.session.flush()


def refreshers(user, programme, page=1, per_page=50):
    """People in scope who read every module of a course of the programme, some at a course
    version below its retrain_from_version: a Page of (person, course id, oldest version,
    last read), and {course id: how many}."""
    modules = (select(Module.course_id, func.count().label("n"))
               .where(Module.draft.is_(False)).group_by(Module.course_id).subquery())
    reads = (select(ModuleRead.user_id, ModuleRead.course_id, func.count().label("n"),
                    func.min(ModuleRead.course_version).label("version"),
                    func.max(ModuleRead.read_at).label("last"))
             .join(Module, Module.id == ModuleRead.module_id)
             .join(ProgrammeCourse, ProgrammeCourse.course_id == ModuleRead.course_id)
             .join(User, User.id == ModuleRead.user_id)
             .where(Module.draft.is_(False), ProgrammeCourse.programme_id == programme.id,
                    User.active.is_(True), _in_scope(user, User.unit_id))
             .group_by(ModuleRead.user_id, ModuleRead.course_id).subquery())
    base = (select(User, reads.c.course_id, reads.c.version, reads.c.last)
            .join(reads, reads.c.user_id == User.id)
            .join(Course, Course.id == reads.c.course_id)
            .join(modules, modules.c.course_id == Course.id)
            .join(ProgrammeCourse, (ProgrammeCourse.course_id == Course.id)
                  & (ProgrammeCourse.programme_id == programme.id))
            .where(reads.c.n >= modules.c.n, Course.retrain_from_version.is_not(None),
                   reads.c.version < Course.retrain_from_version))
    found = base.subquery()
    counts = dict(db.session.execute(select(found.c.course_id, func.count())
                                     .group_by(found.c.course_id)).all())
    total = count_rows(base)
    page = max(1, min(page, -(-total // per_page) or 1))
    rows = db.session.execute(
        base.options(joinedload(User.unit))
        .order_by(ProgrammeCourse.position, User.sort_key, User.id)
        .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(rows, total, page, per_page), counts
