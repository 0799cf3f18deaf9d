"""A unit's progress toward a programme's target, as SQL aggregates.

A staff member is *trained* in a programme when they hold a certificate that counts (in
force, not expired, not from a course version asking to retrain) for every required course;
*in progress* when they started (a module read or a quiz attempt in one of its courses) but
are not trained; *not started* otherwise. A unit's figures cover the active staff of its
whole subtree who are subject to the programme (it is assigned to their unit or above);
*overdue*: not trained after the deadline of the nearest assignment; *on time*: trained on
or before it.

People are only ever counted by the database: one grouped query gives each unit's own staff,
and the figures of a subtree are the sums of its units' rows (units, never people, are
added up here).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, func, literal, or_, select

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import counts_as_trained
from lms.courses.models import (
    Course,
    ModuleRead,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import Unit
from lms.reports.models import ProgrammeProgress


@dataclass(frozen=True)
class Figures:
    """The figures of a unit (its whole subtree) for one programme."""

    active: int = 0
    trained: int = 0
    in_progress: int = 0
    not_started: int = 0
    overdue: int = 0
    on_time: int = 0  # trained on or before the deadline (or with no deadline)

    @property
    def ratio(self):
        return self.trained / self.active if self.active else 0.0

    @property
    def untrained(self):
        return self.active - self.trained

    @property
    def on_time_rate(self):
        return self.on_time / self.trained if self.trained else None

    def __add__(self, other):
        return Figures(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self):
        return (self.active, self.trained, self.in_progress, self.not_started, self.overdue,
                self.on_time)


@dataclass
class UnitRow:
    """A unit of the subtree with its own staff's figures and its subtree's."""

    unit: object  # a Row: id, code, name, parent_id, path, depth
    deadline: date | None
    covered: bool  # the programme applies to this unit
    own: Figures = field(default_factory=Figures)
    total: Figures = field(default_factory=Figures)


@dataclass
class Progress:
    """A programme's figures over a subtree: every unit's row, the root's first."""

    programme: Programme
    root: UnitRow
    rows: dict  # unit id -> UnitRow
    required: list  # course ids
    today: date

    @property
    def figures(self):
        return self.root.total

    @property
    def target(self):
        return self.programme.target_ratio

    def children(self, unit_id=None):
        """The direct sub-units of a unit (the root by default) that the programme covers."""
        parent = self.root.unit.id if unit_id is None else unit_id
        return [row for row in self.rows.values()
                if row.unit.parent_id == parent and row.total.active]


def required_courses(programme_id):
    """Ids of the courses a programme requires."""
    return list(db.session.scalars(select(ProgrammeCourse.course_id).where(
        ProgrammeCourse.programme_id == programme_id).order_by(ProgrammeCourse.position)))


def programmes_for(unit):
    """The programmes assigned to the unit, above it or below it (those its dashboard can
    show), in title order."""
    ids = [int(part) for part in unit.path.strip("/").split("/")]
    assigned = select(ProgrammeAssignment.programme_id).join(
        Unit, Unit.id == ProgrammeAssignment.unit_id).where(
        or_(Unit.id.in_(ids), Unit.path.startswith(unit.path, autoescape=True)))
    programmes = db.session.scalars(select(Programme).where(Programme.id.in_(assigned))).all()
    return sorted(programmes, key=lambda p: ((p.titles or {}).get("vi") or p.slug))


def trained_condition(total, today):
    """SQL over ProgrammeProgress (outer-joined): trained in the programme today."""
    if not total:
        return literal(False)
    return and_(ProgrammeProgress.courses_held >= total,
                ProgrammeProgress.valid_until.is_(None)
                | (ProgrammeProgress.valid_until >= today))


def progress(programme, root, today, at=None):
    """The programme's figures for `root` and every unit below it: today's, from the kept
    records, or, with `at` (a UTC datetime), as they stood then, from the certificates and
    reads on file (for rebuilding past weeks; staff as they are now)."""
    required = required_courses(programme.id)
    units = db.session.execute(
        select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.path, Unit.depth)
        .where(Unit.path.startswith(root.path, autoescape=True))
        .order_by(Unit.depth, Unit.id)).all()
    coverage = _coverage(programme, root, units)
    rows = {u.id: UnitRow(u, *coverage[u.id]) for u in units}
    deadlines = sorted({d for d, covered in coverage.values() if covered and d is not None})
    source = _history(required, at) if at is not None else _kept(programme.id, required,
                                                                 today)
    for unit_id, own in _own_figures(source, root, deadlines, today, coverage):
        rows[unit_id].own = own
    sums = {unit_id: list(row.own.as_tuple()) for unit_id, row in rows.items()}
    for row in sorted(rows.values(), key=lambda r: -r.unit.depth):  # leaves first
        parent = row.unit.parent_id
        if parent in sums and row.unit.id != root.id:
            sums[parent] = [a + b for a, b in zip(sums[parent], sums[row.unit.id], strict=True)]
    for unit_id, values in sums.items():
        rows[unit_id].total = Figures(*values)
    return Progress(programme, rows[root.id], rows, required, today)


def _coverage(programme, root, units):
    """{unit id: (deadline, covered)}: the nearest assignment of the programme at or above
    each unit (its deadline, else the programme's)."""
    assignments = db.session.execute(
        select(Unit.path, ProgrammeAssignment.deadline)
        .join(Unit, Unit.id == ProgrammeAssignment.unit_id)
        .where(ProgrammeAssignment.programme_id == programme.id)).all()
    result = {}
    for unit in units:
        nearest = max((a for a in assignments if unit.path.startswith(a.path)),
                      key=lambda a: len(a.path), default=None)
        result[unit.id] = ((nearest.deadline or programme.deadline, True) if nearest
                           else (None, False))
    return result


@dataclass(frozen=True)
class _Source:
    """Where a person's standing comes from: outer joins onto User and the SQL for trained,
    started and when trained."""

    joins: tuple  # (selectable, on clause)
    trained: object
    started: object
    trained_at: object


def _kept(programme_id, required, today):
    """Today's standing, from the records kept with every change."""
    on = (ProgrammeProgress.user_id == User.id) & (ProgrammeProgress.programme_id == programme_id)
    return _Source(((ProgrammeProgress, on),), trained_condition(len(required), today),
                   ProgrammeProgress.started_at.is_not(None)
                   | (ProgrammeProgress.courses_held > 0),
                   ProgrammeProgress.trained_at)


def _history(required, at):
    """The standing at `at`, from the certificates and reads on file."""
    held = (select(Certificate.user_id.label("user_id"),
                   func.count(func.distinct(Certificate.course_id)).label("held"),
                   func.max(Certificate.issued_at).label("trained_at"))
            .where(Certificate.course_id.in_(required), Certificate.issued_at < at,
                   Certificate.revoked_at.is_(None) | (Certificate.revoked_at >= at),
                   Certificate.renewed_at.is_(None) | (Certificate.renewed_at >= at),
                   Certificate.expires_on.is_(None) | (Certificate.expires_on >= at.date()))
            .group_by(Certificate.user_id).subquery("held_then"))
    reads = (select(ModuleRead.user_id.label("user_id"))
             .where(ModuleRead.course_id.in_(required), ModuleRead.read_at < at)
             .group_by(ModuleRead.user_id).subquery("read_then"))
    trained = and_(held.c.held.is_not(None), held.c.held >= len(required)) if required \
        else literal(False)
    return _Source(((held, held.c.user_id == User.id), (reads, reads.c.user_id == User.id)),
                   trained, reads.c.user_id.is_not(None) | held.c.held.is_not(None),
                   held.c.trained_at)


def _own_figures(source, root, deadlines, today, coverage):
    """(unit id, Figures of the unit's own active staff) for covered units: one query. The
    on-time count is taken for each distinct deadline and the unit's own one is kept."""
    trained, started = source.trained, source.started
    columns = [User.unit_id, func.count(User.id),
               func.sum(case((trained, 1), else_=0)),
               func.sum(case((and_(~trained, started), 1), else_=0))]
    columns += [func.sum(case((and_(trained, source.trained_at < _day_after(d)), 1),
                              else_=0)) for d in deadlines]
    query = select(*columns)
    for target, on in source.joins:
        query = query.outerjoin(target, on)
    query = (query.where(User.active.is_(True),
                         User.unit_id.in_(select(Unit.id).where(
                             Unit.path.startswith(root.path, autoescape=True))))
             .group_by(User.unit_id))
    for unit_id, active, trained_n, in_progress, *on_time in db.session.execute(query):
        deadline, covered = coverage.get(unit_id, (None, False))
        if not covered:
            continue
        trained_n, in_progress = int(trained_n or 0), int(in_progress or 0)
        late = deadline is not None and deadline < today
        yield unit_id, Figures(
            active=active, trained=trained_n, in_progress=in_progress,
            not_started=active - trained_n - in_progress,
            overdue=(active - trained_n) if late else 0,
            on_time=int(on_time[deadlines.index(deadline)] or 0) if deadline else trained_n)


def _day_after(day):
    """The first instant after `day` in the app's time zone, as a naive UTC datetime (how
    times are stored)."""
    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Ho_Chi_Minh")
    local = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def by_competence(report, competences):
    """({course id: holders}, {DigComp code: holders}) among the active staff of the
    report's covered subtree: holders of a certificate that counts today for the course, or
    for any required course covering the competence. One query."""
    required = report.required
    if not required:
        return {}, {}
    covered = [row.unit.id for row in report.rows.values() if row.covered]
    by_code = {}
    for course_id in required:
        for code in competences.get(course_id) or []:
            by_code.setdefault(code, []).append(course_id)
    holder = func.count(func.distinct(Certificate.user_id))
    columns = [func.count(func.distinct(case((Certificate.course_id == c, Certificate.user_id))))
               for c in required]
    columns += [func.count(func.distinct(case((Certificate.course_id.in_(ids),
                                               Certificate.user_id))))
                for ids in by_code.values()]
    row = db.session.execute(
        select(holder, *columns)
        .join(Course, Course.id == Certificate.course_id)
        .join(User, User.id == Certificate.user_id)
        .where(Certificate.course_id.in_(required), counts_as_trained(report.today),
               User.active.is_(True), User.unit_id.in_(covered))).one()
    values = list(row[1:])
    courses = dict(zip(required, values[:len(required)], strict=True))
    return courses, dict(zip(by_code, values[len(required):], strict=True))
