"""Reading rules: who may read what, progress, My training, and programme assignments."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import false, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from lms.audit.services import record_event
from lms.auth.models import User
from lms.auth.permissions import allowed, scope_unit
from lms.courses.models import (
    Course,
    CourseText,
    Module,
    ModuleRead,
    ModuleText,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import Unit, utcnow
from lms.org.services import Page, count_rows, subtree_ids
from lms.text import alpha_key

PRIMARY_LANG = "vi"


# Access ----------------------------------------------------------------------------------

def unit_chain_ids(user):
    """Ids of the user's unit and of every unit above it, from the top down."""
    unit = user.unit
    return [] if unit is None else [int(part) for part in unit.path.strip("/").split("/")]


def readable(user):
    """SQL condition on Course: published, and open or required for the user's unit or above."""
    condition = Course.open.is_(True)
    units = unit_chain_ids(user)
    if units:
        required = (select(ProgrammeCourse.course_id)
                    .join(ProgrammeAssignment,
                          ProgrammeAssignment.programme_id == ProgrammeCourse.programme_id)
                    .where(ProgrammeAssignment.unit_id.in_(units)))
        condition = condition | Course.id.in_(required)
    return Course.published.is_(True) & condition


def find_course(user, slug):
    """The course with this slug when the user may read it (or preview it), else None."""
    query = select(Course).where(Course.slug == slug)
    if not allowed(user, "courses.preview"):
        query = query.where(readable(user))
    return db.session.scalar(query)


def may_record(user, course):
    """True when the user may record reading in this course (a preview is not reading)."""
    if course.published and course.open:
        return True
    return db.session.scalar(select(Course.id).where(Course.id == course.id,
                                                     readable(user))) is not None


# Texts and progress ----------------------------------------------------------------------

def _texts(model, key, ids, lang):
    """Each owner's text in `lang`, or in Vietnamese when that version does not exist."""
    found = {}
    if not ids:
        return found
    for row in db.session.scalars(select(model).where(key.in_(ids),
                                                      model.lang.in_({lang, PRIMARY_LANG}))):
        owner = getattr(row, key.key)
        if owner not in found or row.lang == lang:
            found[owner] = row
    return found


def course_texts(ids, lang):
    """{course id: CourseText} in `lang`, falling back to Vietnamese."""
    return _texts(CourseText, CourseText.course_id, ids, lang)


def module_texts(ids, lang):
    """{module id: ModuleText} in `lang`, falling back to Vietnamese."""
    return _texts(ModuleText, ModuleText.module_id, ids, lang)


def programme_title(programme, lang):
    """The programme's title in `lang`, falling back to Vietnamese."""
    titles = programme.titles or {}
    return titles.get(lang) or titles.get(PRIMARY_LANG) or programme.slug


def reading_progress(user_id, course_ids):
    """{course id: (modules read, modules)} over non-draft modules, for many courses at once."""
    if not course_ids:
        return {}
    rows = db.session.execute(
        select(Module.course_id, func.count(ModuleRead.id), func.count(Module.id))
        .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                   & (ModuleRead.user_id == user_id))
        .where(Module.course_id.in_(course_ids), Module.draft.is_(False))
        .group_by(Module.course_id))
    return {course_id: (read, total) for course_id, read, total in rows}


@dataclass
class CourseEntry:
    """A course as a learner sees it: its text in their language and their progress."""

    course: Course
    text: CourseText | None
    read: int = 0
    total: int = 0

    @property
    def title(self):
        return self.text.title if self.text else self.course.slug

    @property
    def done(self):
        return self.total > 0 and self.read >= self.total


def course_entries(user, courses, lang):
    """CourseEntry for each course, in three queries whatever their number."""
    ids = [course.id for course in courses]
    texts, progress = course_texts(ids, lang), reading_progress(user.id, ids)
    return [CourseEntry(c, texts.get(c.id), *progress.get(c.id, (0, 0))) for c in courses]


def catalogue(user, lang):
    """The courses the user may read (admins: every course), by title, with progress."""
    query = select(Course)
    if not allowed(user, "courses.preview"):
        query = query.where(readable(user))
    entries = course_entries(user, db.session.scalars(query).all(), lang)
    return sorted(entries, key=lambda entry: alpha_key(entry.title))


def course_modules(course, drafts=False):
    """The modules of a course in order; drafts only for a preview."""
    query = select(Module).where(Module.course_id == course.id).order_by(Module.position)
    if not drafts:
        query = query.where(Module.draft.is_(False))
    return db.session.scalars(query).all()


def reads_by_module(user_id, module_ids):
    """{module id: ModuleRead} of the user among these modules."""
    if not module_ids:
        return {}
    return {read.module_id: read for read in db.session.scalars(
        select(ModuleRead).where(ModuleRead.user_id == user_id,
                                 ModuleRead.module_id.in_(module_ids)))}


def is_stale(read, course):
    """True when the read predates the course version that asks for a refresher."""
    return (read is not None and course.retrain_from_version is not None
            and read.course_version < course.retrain_from_version)


def _read_of(user_id, module_id):
    return db.session.scalar(select(ModuleRead).where(ModuleRead.user_id == user_id,
                                                      ModuleRead.module_id == module_id))


def mark_read(user, module):
    """Record once that the user read the module (a stale read is renewed); flushes."""
    course = module.course
    read = _read_of(user.id, module.id)
    if read is None:
        try:
            with db.session.begin_nested():
                read = ModuleRead(user_id=user.id, module_id=module.id, course_id=course.id,
                                  module_version=module.version, course_version=course.version)
                db.session.add(read)
        except IntegrityError:  # a concurrent click recorded it between our check and insert
            return _read_of(user.id, module.id)
    elif is_stale(read, course):
        read.module_version, read.course_version = module.version, course.version
        read.read_at = utcnow()
    return read


# My training -----------------------------------------------------------------------------

@dataclass
class ProgrammeStatus:
    """A programme assigned to the learner: its effective deadline and required courses."""

    programme: Programme
    deadline: date | None
    today: date
    courses: list = field(default_factory=list)

    @property
    def done(self):
        return all(entry.done for entry in self.courses)

    @property
    def days_left(self):
        return None if self.deadline is None else (self.deadline - self.today).days

    @property
    def overdue(self):
        return self.deadline is not None and self.deadline < self.today and not self.done


def my_training(user, lang, today):
    """The programmes assigned to the user's unit or above (the nearest unit's deadline wins)."""
    chain = unit_chain_ids(user)
    if not chain:
        return []
    nearest = {}
    for assignment in db.session.scalars(
            select(ProgrammeAssignment).options(joinedload(ProgrammeAssignment.programme))
            .where(ProgrammeAssignment.unit_id.in_(chain))):
        best = nearest.get(assignment.programme_id)
        if best is None or chain.index(assignment.unit_id) > chain.index(best.unit_id):
            nearest[assignment.programme_id] = assignment
    if not nearest:
        return []
    links = db.session.scalars(
        select(ProgrammeCourse).join(ProgrammeCourse.course)
        .options(joinedload(ProgrammeCourse.course))
        .where(ProgrammeCourse.programme_id.in_(nearest), Course.published.is_(True))
        .order_by(ProgrammeCourse.position, ProgrammeCourse.id)).all()
    courses = {link.course_id: link.course for link in links}
    entries = {e.course.id: e for e in course_entries(user, list(courses.values()), lang)}
    statuses = [ProgrammeStatus(a.programme, a.deadline or a.programme.deadline, today,
                                [entries[link.course_id] for link in links
                                 if link.programme_id == a.programme_id])
                for a in nearest.values()]
    return sorted(statuses, key=lambda s: (s.deadline or date.max,
                                           alpha_key(programme_title(s.programme, lang))))


def _first_unread(user_id, course_id):
    return db.session.scalar(
        select(Module).options(joinedload(Module.course))
        .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                   & (ModuleRead.user_id == user_id))
        .where(Module.course_id == course_id, Module.draft.is_(False), ModuleRead.id.is_(None))
        .order_by(Module.position).limit(1))


def continue_module(user, entries):
    """The first unread module of the course read last, else of the first unfinished entry."""
    recent = db.session.scalar(
        select(ModuleRead.course_id).join(Course, Course.id == ModuleRead.course_id)
        .where(ModuleRead.user_id == user.id, readable(user))
        .order_by(ModuleRead.read_at.desc(), ModuleRead.id.desc()).limit(1))
    candidates = [recent] + [entry.course.id for entry in entries if entry.read < entry.total]
    for course_id in dict.fromkeys(c for c in candidates if c is not None):
        module = _first_unread(user.id, course_id)
        if module is not None:
            return module
    return None


# Programmes and their assignment (HR) ------------------------------------------------------

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
        record_event("programme_assigned", actor=actor, obj=unit, ip=ip,
                     deadline=deadline and deadline.isoformat(), **detail)
        return "assigned"
    if assignment.deadline == deadline:
        return "unchanged"
    record_event("programme_deadline_changed", actor=actor, obj=unit, ip=ip,
                 before=assignment.deadline and assignment.deadline.isoformat(),
                 after=deadline and deadline.isoformat(), **detail)
    assignment.deadline = deadline
    return "changed"


def unassign_programme(actor, assignment, ip=None):
    """Remove a programme from a unit; audit-logged, flushes."""
    record_event("programme_unassigned", actor=actor, obj=assignment.unit, ip=ip,
                 programme=assignment.programme.slug, unit=assignment.unit.code)
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
