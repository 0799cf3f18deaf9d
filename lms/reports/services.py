"""What the dashboard, exports, API and snapshots show: a unit's progress, its sub-units, the
staff not yet trained (a page at a time), the trend from weekly snapshots and the forecast.
The figures come from lms.reports.progress; nothing here counts people in Python."""

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import joinedload

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import counts_as_trained
from lms.courses.models import Course, CourseText, ModuleRead, Programme
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import Page
from lms.quizzes.models import QuizAttempt
from lms.reports.forecast import forecast
from lms.reports.models import ProgrammeProgress, UnitSnapshot
from lms.reports.progress import (
    Figures,
    keep_figures,
    programmes_for,
    progress,
    trained_condition,
)
from lms.sql import upsert
from lms.text import fold

TREND_WEEKS = 12
STAFF_PER_PAGE = 25


def week_of(day):
    """The Monday of the ISO week of `day`."""
    return day - timedelta(days=day.weekday())


def choose_programme(unit, slug=None):
    """The programme a unit's dashboard shows: the one asked for, else the first assigned at
    or above the unit (then below); None when there is none."""
    programmes = programmes_for(unit)
    if slug:
        return next((p for p in programmes if p.slug == slug), None), programmes
    return (programmes[0] if programmes else None), programmes


def sub_units(report):
    """The root's direct sub-units the programme covers, furthest from the target first."""
    return sorted(report.children(), key=lambda row: (row.total.ratio - report.target,
                                                      row.unit.name))


@dataclass
class StaffRow:
    """A person not yet trained, as the dashboard lists them."""

    user: User
    status: str  # in_progress | not_started (overdue is shown beside, from the deadline)
    last_activity: datetime | None
    lacks: list  # titles of the required courses without a certificate that counts


def untrained_staff(report, query="", page=1, per_page=STAFF_PER_PAGE, lang="vi"):
    """A page of the active staff of the subtree who are not trained (sorted by name, search
    without diacritics), with their status, last activity and what they lack: four queries
    whatever the page."""
    trained = trained_condition(len(report.required), report.today)
    words = fold(query).split()[:5]
    conditions = [User.active.is_(True), _covered(report), ~func.coalesce(trained, False),
                  *(User.search_text.contains(word, autoescape=True) for word in words)]
    if words:
        base = select(User.id).outerjoin(
            ProgrammeProgress, (ProgrammeProgress.user_id == User.id)
            & (ProgrammeProgress.programme_id == report.programme.id)).where(*conditions)
        total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    else:  # the dashboard's own figures already count them
        total = report.figures.untrained
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    rows = db.session.execute(
        select(User, ProgrammeProgress.started_at, ProgrammeProgress.courses_held)
        .options(joinedload(User.unit))
        .outerjoin(ProgrammeProgress, (ProgrammeProgress.user_id == User.id)
                   & (ProgrammeProgress.programme_id == report.programme.id))
        .where(*conditions).order_by(User.sort_key, User.id)
        .limit(per_page).offset((page - 1) * per_page)).all()
    ids = [row[0].id for row in rows]
    activity = last_activity(ids)
    held = held_courses(ids, report.required, report.today)
    titles = course_titles(report.required, lang)
    items = [StaffRow(user, "in_progress" if started or courses_held else "not_started",
                      activity.get(user.id),
                      [titles[c] for c in report.required if c not in held.get(user.id, ())])
             for user, started, courses_held in rows]
    return Page(items, total, page, per_page)


def _covered(report):
    """SQL: the person's unit is one the programme covers in the report's subtree (the whole
    subtree by its path when every unit of it is covered, so that the name index can lead)."""
    rows = report.rows.values()
    if all(row.covered for row in rows):
        root = report.root.unit
        return User.unit_id.is_not(None) if root.parent_id is None else User.unit_id.in_(
            select(Unit.id).where(Unit.path.startswith(root.path, autoescape=True)))
    return User.unit_id.in_([row.unit.id for row in rows if row.covered])


def last_activity(user_ids):
    """{user id: the latest module read or quiz start} of these people."""
    if not user_ids:
        return {}
    reads = select(ModuleRead.user_id.label("user_id"), ModuleRead.read_at.label("at")).where(
        ModuleRead.user_id.in_(user_ids))
    attempts = select(QuizAttempt.user_id, QuizAttempt.started_at).where(
        QuizAttempt.user_id.in_(user_ids))
    both = reads.union_all(attempts).subquery()
    return dict(db.session.execute(select(both.c.user_id, func.max(both.c.at))
                                   .group_by(both.c.user_id)).all())


def held_courses(user_ids, required, today):
    """{user id: set of required course ids they hold a certificate for that counts}."""
    if not user_ids:
        return {}
    held = {}
    for user_id, course_id in db.session.execute(
            select(Certificate.user_id, Certificate.course_id)
            .join(Course, Course.id == Certificate.course_id)
            .where(Certificate.user_id.in_(user_ids), Certificate.course_id.in_(required),
                   counts_as_trained(today))):
        held.setdefault(user_id, set()).add(course_id)
    return held


def course_titles(course_ids, lang):
    """{course id: title in `lang`, else Vietnamese, else the slug}."""
    rows = db.session.execute(
        select(Course.id, Course.slug, CourseText.lang, CourseText.title)
        .outerjoin(CourseText, CourseText.course_id == Course.id)
        .where(Course.id.in_(course_ids))).all()
    titles = {}
    for course_id, slug, text_lang, title in rows:
        if text_lang == lang or course_id not in titles:
            titles[course_id] = title or slug
    return titles


# Snapshots ------------------------------------------------------------------------------

def trend(programme, unit, today, weeks=TREND_WEEKS):
    """[(week, ratio)] of the unit's snapshots over the last weeks, oldest first."""
    since = week_of(today) - timedelta(weeks=weeks)
    return [(week, trained / active if active else 0.0) for week, trained, active in
            db.session.execute(
                select(UnitSnapshot.week, UnitSnapshot.trained, UnitSnapshot.active)
                .where(UnitSnapshot.unit_id == unit.id,
                       UnitSnapshot.programme_id == programme.id, UnitSnapshot.week >= since)
                .order_by(UnitSnapshot.week))]


def outlook(report, points, deadline):
    """The forecast from the snapshots and today's figures (today replaces this week's)."""
    today = report.today
    series = [(week, ratio) for week, ratio in points if week < week_of(today)]
    series.append((today, report.figures.ratio))
    return forecast(series, report.target, deadline=deadline, today=today)


def record_snapshots(today, *, rebuilt_from=None):
    """This week's figures for every unit and assigned programme, once: a second run in
    the same week inserts nothing. Returns the rows inserted."""
    week = week_of(today)
    inserted = 0
    for programme in db.session.scalars(select(Programme).order_by(Programme.id)):
        for root in db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))):
            report = progress(programme, root, today, live=True)
            inserted += _insert_week(programme, week, report.rows.values(), rebuilt=False)
    return inserted


def refresh_figures(today):
    """Count every unit's own figures for every programme now and keep them, so that the
    dashboards of very large subtrees read them (lms.reports.progress). Returns the number
    of (programme, unit) figures kept."""
    kept = 0
    for programme in db.session.scalars(select(Programme).order_by(Programme.id)):
        for root in db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))):
            report = keep_figures(programme, root, today)
            kept += sum(1 for row in report.rows.values() if row.covered)
    return kept


def rebuild_snapshots(since, today):
    """The weeks from `since` to last week, from the certificates and reads on file (staff
    as they are now): weeks already recorded are left as they are. Returns rows inserted."""
    inserted = 0
    week = week_of(since)
    while week < week_of(today):
        moment = datetime.combine(week + timedelta(days=7), time.min)
        for programme in db.session.scalars(select(Programme).order_by(Programme.id)):
            for root in db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))):
                report = progress(programme, root, week + timedelta(days=6), at=moment)
                inserted += _insert_week(programme, week, report.rows.values(), rebuilt=True)
        week += timedelta(days=7)
    return inserted


def _insert_week(programme, week, rows, rebuilt):
    values = [{"unit_id": row.unit.id, "programme_id": programme.id, "week": week,
               "active": row.total.active, "trained": row.total.trained,
               "in_progress": row.total.in_progress, "not_started": row.total.not_started,
               "overdue": row.total.overdue, "on_time": row.total.on_time,
               "target": programme.target_ratio, "rebuilt": rebuilt,
               "recorded_at": datetime.now()}
              for row in rows if row.covered and row.total.active]
    if not values:
        return 0
    table = UnitSnapshot.__table__
    result = db.session.execute(upsert(table).values(values).on_conflict_do_nothing(
        index_elements=[table.c.unit_id, table.c.programme_id, table.c.week])
        .returning(table.c.id))
    return len(result.all())  # (psycopg's rowcount is -1 here: the rows say what was new)


def snapshot_figures(programme, unit, week):
    """The Figures recorded for the unit in that week, or None."""
    row = db.session.scalar(select(UnitSnapshot).where(
        UnitSnapshot.unit_id == unit.id, UnitSnapshot.programme_id == programme.id,
        UnitSnapshot.week == week))
    return None if row is None else Figures(row.active, row.trained, row.in_progress,
                                            row.not_started, row.overdue, row.on_time)


__all__ = ["and_", "date", "or_", "true"]
