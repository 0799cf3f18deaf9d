"""The rows of the report downloads: a unit's figures per sub-unit (from progress()), its
active staff with their standing, and the certificates issued in a year. Staff and
certificates are read in batches from one query each (never a list of everyone), sorted by
unit path then name; times are shown in the app's time zone."""

from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select, union_all

from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.courses.models import ModuleRead
from lms.extensions import db
from lms.i18n import app_zone
from lms.org.models import Unit
from lms.quizzes.models import QuizAttempt
from lms.reports.models import ProgrammeProgress
from lms.reports.progress import _day_after, trained_condition

BATCH = 1000
_TENTH = Decimal("0.1")


def percent(part, whole):
    """part / whole as a percentage with one decimal (half up), 0 when whole is 0."""
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH, ROUND_HALF_UP)


def summary_rows(report, root_parent_code=None):
    """(code, name, parent code, active, trained, share trained %, in progress, not started,
    overdue, target %, deadline): the root, then every unit of its subtree with active staff
    the programme covers, in path order; the figures of each cover its whole subtree."""
    codes = {row.unit.id: row.unit.code for row in report.rows.values()}
    root_id = report.root.unit.id
    target = (Decimal(str(report.target)) * 100).quantize(_TENTH, ROUND_HALF_UP)
    rows = sorted((row for row in report.rows.values()
                   if row.unit.id == root_id or row.total.active),
                  key=lambda row: row.unit.path)
    for row in rows:
        figures = row.total
        parent = root_parent_code if row.unit.id == root_id else codes.get(row.unit.parent_id)
        yield (row.unit.code, row.unit.name, parent or "", figures.active, figures.trained,
               percent(figures.trained, figures.active), figures.in_progress,
               figures.not_started, figures.overdue, target, row.deadline)


def _local(moment, zone):
    """A stored (naive UTC) time as the wall-clock time of `zone`, naive."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def last_activity_subquery(user_ids):
    """SQL (user_id, at): each person's latest module read or quiz start, for everyone
    selected by `user_ids` (a select of ids). Each table is grouped along its user index
    first, which halves the time on a province against grouping the rows of both."""
    reads = (select(ModuleRead.user_id.label("user_id"), func.max(ModuleRead.read_at).label("at"))
             .where(ModuleRead.user_id.in_(user_ids)).group_by(ModuleRead.user_id))
    attempts = (select(QuizAttempt.user_id, func.max(QuizAttempt.started_at))
                .where(QuizAttempt.user_id.in_(user_ids)).group_by(QuizAttempt.user_id))
    both = union_all(reads, attempts).subquery("activity")
    return (select(both.c.user_id, func.max(both.c.at).label("at"))
            .group_by(both.c.user_id).subquery("last_activity"))


def staff_rows(report, status_labels, category_labels):
    """(employee ID, full name, unit code, unit name, category, status, courses held,
    trained on, last activity) of every active person of the units the programme covers:
    the status as progress() counts it (trained, in_progress, not_started, shown through
    `status_labels`), trained on the local date the last required course was certified."""
    covered = [row.unit.id for row in report.rows.values() if row.covered]
    trained = trained_condition(len(report.required), report.today)
    started = ProgrammeProgress.started_at.is_not(None) | (ProgrammeProgress.courses_held > 0)
    status = case((trained, "trained"), (started, "in_progress"), else_="not_started")
    staff = User.active.is_(True) & User.unit_id.in_(covered)
    activity = last_activity_subquery(select(User.id).where(staff))
    query = (select(User.employee_id, User.full_name, Unit.code, Unit.name, User.category,
                    status.label("status"), ProgrammeProgress.courses_held,
                    ProgrammeProgress.trained_at, activity.c.at)
             .join(Unit, Unit.id == User.unit_id)
             .outerjoin(ProgrammeProgress, (ProgrammeProgress.user_id == User.id)
                        & (ProgrammeProgress.programme_id == report.programme.id))
             .outerjoin(activity, activity.c.user_id == User.id)
             .where(staff)
             .order_by(Unit.path, User.sort_key, User.id)
             .execution_options(yield_per=BATCH))
    zone = app_zone()

    def rows():
        for (employee_id, name, unit_code, unit_name, category, state, held, trained_at,
             last) in db.session.execute(query):
            trained_on = _local(trained_at, zone).date() \
                if state == "trained" and trained_at else None
            yield (employee_id, name, unit_code, unit_name,
                   category_labels.get(category, category or ""), status_labels[state],
                   held or 0, trained_on, _local(last, zone))

    return rows()


def year_bounds(year):
    """The first instant of the year and of the next one in the app's time zone, as naive
    UTC times (how issued_at is stored)."""
    return _day_after(date(year - 1, 12, 31)), _day_after(date(year, 12, 31))


def record_rows(root, year, today, status_labels):
    """(employee ID, name, unit code, title, issued on, score, serial, valid until, status
    now) of every certificate not revoked issued in the (local) calendar year to a person,
    active or not, of the subtree: status renewed, expired or valid through
    `status_labels`."""
    start, end = year_bounds(year)
    status = case((Certificate.renewed_at.is_not(None), "renewed"),
                  (Certificate.expires_on < today, "expired"), else_="valid")
    query = (select(User.employee_id, User.full_name, Unit.code, Certificate.title,
                    Certificate.issued_at, Certificate.score, Certificate.serial,
                    Certificate.expires_on, status.label("status"))
             .join(User, User.id == Certificate.user_id)
             .join(Unit, Unit.id == User.unit_id)
             .where(Unit.path.startswith(root.path, autoescape=True),
                    Certificate.revoked_at.is_(None),
                    Certificate.issued_at >= start, Certificate.issued_at < end)
             .order_by(Unit.path, User.sort_key, User.id, Certificate.issued_at,
                       Certificate.id)
             .execution_options(yield_per=BATCH))
    zone = app_zone()

    def rows():
        for (employee_id, name, unit_code, title, issued_at, score, serial, expires_on,
             state) in db.session.execute(query):
            yield (employee_id, name, unit_code, title, _local(issued_at, zone).date(),
                   score, serial, expires_on, status_labels[state])

    return rows()
