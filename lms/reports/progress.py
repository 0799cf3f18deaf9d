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

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import add
from typing import NamedTuple

from flask import current_app
from sqlalchemy import and_, case, delete, func, literal, or_, select
from sqlalchemy.exc import DBAPIError

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
from lms.i18n import local_midnight
from lms.org.models import Unit
from lms.reports.models import ProgrammeProgress, UnitFigures
from lms.sql import upsert


class Figures(NamedTuple):
    """The figures of a unit (its own staff or its whole subtree) for one programme."""

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
        return Figures(*map(add, self, other))

    def as_tuple(self):
        return tuple(self)


NONE = Figures()


@dataclass(slots=True)
class UnitRow:
    """A unit of the subtree with its own staff's figures and its subtree's."""

    unit: object  # a Row: id, code, name, parent_id, path, depth
    deadline: date | None
    covered: bool  # the programme applies to this unit
    own: Figures = NONE
    total: Figures = NONE


@dataclass
class Progress:
    """A programme's figures over a subtree: every unit's row, the root's first."""

    programme: Programme
    root: UnitRow
    rows: dict  # unit id -> UnitRow
    required: list  # course ids
    today: date
    as_of: datetime | None = None  # when the figures were counted (UTC), if not just now

    @property
    def figures(self):
        return self.root.total

    @property
    def target(self):
        return self.programme.target_ratio

    def subtree(self, unit_id):
        """The figures of a unit of this report as progress() would give them for that unit
        (the same rows, the unit's subtree only): no query."""
        root = self.rows[unit_id]
        path = root.unit.path
        rows = {key: row for key, row in self.rows.items() if row.unit.path.startswith(path)}
        return Progress(self.programme, root, rows, self.required, self.today, self.as_of)

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


def progress(programme, root, today, at=None, live=False):
    """The programme's figures for `root` and every unit below it.

    Today's come from the kept records; a subtree of at least LMS_REPORTS_LIVE_LIMIT active
    staff is shown from its units' own figures as last counted (`as_of`), if that was today
    and at most LMS_REPORTS_CACHE_MINUTES ago, else counted and kept for the next reader.
    `live` always counts (and keeps nothing). With `at` (a UTC datetime), the figures as
    they stood then, from the certificates and reads on file (for rebuilding past weeks;
    staff as they are now)."""
    with _collector_paused():
        return _progress(programme, root, today, at, live)


@contextmanager
def _collector_paused():
    """No garbage collection while tens of thousands of small rows are made (a full
    collection over the app's heap can double the time); they hold no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _progress(programme, root, today, at, live):
    required = required_courses(programme.id)
    units = db.session.execute(
        select(Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.path, Unit.depth)
        .where(Unit.path.startswith(root.path, autoescape=True))
        .order_by(Unit.depth, Unit.id)).all()
    coverage = _coverage(programme, units)
    as_of = None
    if at is not None:
        own = dict(_own_figures(_history(required, at), root, today, coverage))
    elif live:
        own = dict(_own_figures(_kept(programme.id, required, today), root, today, coverage))
    else:
        own, as_of = _counted(programme, required, root, today, coverage)
    rows = {unit.id: UnitRow(unit, *coverage[unit.id], own.get(unit.id, NONE))
            for unit in units}
    totals = dict(own)
    for unit in reversed(units):  # the deepest first: each unit's total is complete here
        total = totals.get(unit.id)
        if total is None:
            continue
        rows[unit.id].total = total
        parent = unit.parent_id
        if unit.id != root.id and parent in rows:
            above = totals.get(parent)
            totals[parent] = total if above is None else above + total
    return Progress(programme, rows[root.id], rows, required, today, as_of)


def keep_figures(programme, root, today):
    """Count the subtree's figures now and keep every covered unit's own ones (for the
    readers of large subtrees); returns the Progress."""
    report = progress(programme, root, today, live=True)
    _keep(programme, {unit_id: row.own for unit_id, row in report.rows.items()
                      if row.covered}, today)
    return report


def forget_figures(programme_id=None):
    """Drop the kept unit figures (of one programme, or all): after a change of who is
    covered or what counts (an assignment, a sync), in the transaction making it."""
    statement = delete(UnitFigures)
    if programme_id is not None:
        statement = statement.where(UnitFigures.programme_id == programme_id)
    db.session.execute(statement)


def _counted(programme, required, root, today, coverage):
    """({unit id: own Figures}, when counted or None for now): the kept ones when the
    subtree is large and they are fresh; else counted now (and kept when large)."""
    config = current_app.config
    limit = config.get("REPORTS_LIVE_LIMIT") or 0
    kept, as_of = _kept_figures(programme, root, today, coverage)
    oldest = datetime.now(UTC).replace(tzinfo=None) - timedelta(
        minutes=config.get("REPORTS_CACHE_MINUTES") or 0)
    if limit and kept is not None and as_of >= oldest \
            and sum(f.active for f in kept.values()) >= limit:
        return kept, as_of
    own = dict(_own_figures(_kept(programme.id, required, today), root, today, coverage))
    if limit and sum(f.active for f in own.values()) >= limit:
        _keep(programme, {unit_id: own.get(unit_id, NONE)
                          for unit_id, (_, covered) in coverage.items() if covered}, today)
    return own, None


def _kept_figures(programme, root, today, coverage):
    """The own figures kept today for every covered unit of the subtree and the oldest
    count's time; (None, None) when some covered unit has none."""
    rows = db.session.execute(
        select(UnitFigures.unit_id, UnitFigures.active, UnitFigures.trained,
               UnitFigures.in_progress, UnitFigures.on_time, UnitFigures.computed_at)
        .join(Unit, Unit.id == UnitFigures.unit_id)
        .where(UnitFigures.programme_id == programme.id, UnitFigures.computed_on == today,
               Unit.path.startswith(root.path, autoescape=True))).all()
    found = {row[0]: row for row in rows}
    own, oldest = {}, None
    for unit_id, (deadline, covered) in coverage.items():
        if not covered:
            continue
        row = found.get(unit_id)
        if row is None:
            return None, None
        _, active, trained, in_progress, on_time, counted_at = row
        oldest = counted_at if oldest is None or counted_at < oldest else oldest
        if active:
            own[unit_id] = _figures(active, trained, in_progress, on_time, deadline, today)
    return (own, oldest) if oldest is not None else (None, None)


def _keep(programme, own, today):
    """Write these units' own figures ({unit id: Figures}, zeros included) and commit: the
    report pages and the refresh command read and change nothing else. Skipped when the
    session holds changes of its own; a failure (a busy database) only means they are
    counted again next time."""
    if not own or db.session.new or db.session.dirty or db.session.deleted:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    values = [{"programme_id": programme.id, "unit_id": unit_id, "active": figures.active,
               "trained": figures.trained, "in_progress": figures.in_progress,
               "on_time": figures.on_time, "computed_on": today, "computed_at": now}
              for unit_id, figures in sorted(own.items())]  # key order: no deadlock
    table = UnitFigures.__table__
    insert = upsert(table)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.programme_id, table.c.unit_id],
        set_={name: getattr(insert.excluded, name) for name in (
            "active", "trained", "in_progress", "on_time", "computed_on", "computed_at")})
    programme_id = programme.id
    try:
        for start in range(0, len(values), 1000):
            db.session.execute(statement, values[start:start + 1000])
        db.session.commit()
    except DBAPIError:
        db.session.rollback()
        current_app.logger.warning("unit figures not kept for programme %s", programme_id,
                                   exc_info=True)


def _coverage(programme, units):
    """{unit id: (deadline, covered)}: the nearest assignment of the programme at or above
    each unit (its deadline, else the programme's). `units` come parents first."""
    assigned = dict(db.session.execute(
        select(ProgrammeAssignment.unit_id, ProgrammeAssignment.deadline)
        .where(ProgrammeAssignment.programme_id == programme.id)).all())
    default, uncovered = programme.deadline, (None, False)
    result = {}
    for unit in units:
        if unit.id in assigned:
            result[unit.id] = (assigned[unit.id] or default, True)
        elif unit.parent_id in result:
            result[unit.id] = result[unit.parent_id]
        else:  # the root of the subtree: its nearest assignment above
            above = [int(i) for i in unit.path.strip("/").split("/")[:-1]]
            nearest = next((i for i in reversed(above) if i in assigned), None)
            result[unit.id] = ((assigned[nearest] or default, True) if nearest is not None
                               else uncovered)
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


def _own_figures(source, root, today, coverage):
    """(unit id, Figures of the unit's own active staff) for covered units: one query. The
    on-time count is taken for each distinct deadline and the unit's own one is kept."""
    deadlines = sorted({d for d, covered in coverage.values() if covered and d is not None})
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
    position = {d: i for i, d in enumerate(deadlines)}
    for unit_id, active, trained_n, in_progress, *on_time in db.session.execute(query):
        deadline, covered = coverage.get(unit_id, (None, False))
        if not covered:
            continue
        trained_n = int(trained_n or 0)
        on_time_n = int(on_time[position[deadline]] or 0) if deadline else trained_n
        yield unit_id, _figures(active, trained_n, int(in_progress or 0), on_time_n,
                                deadline, today)


def _figures(active, trained, in_progress, on_time, deadline, today):
    """A unit's own Figures from its counts; overdue once its deadline has passed."""
    late = deadline is not None and deadline < today
    return Figures(active, trained, in_progress, active - trained - in_progress,
                   (active - trained) if late else 0, on_time)


def _day_after(day):
    """The first instant after `day` in the app's time zone, as a naive UTC datetime (how
    times are stored)."""
    return local_midnight(day + timedelta(days=1))


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
