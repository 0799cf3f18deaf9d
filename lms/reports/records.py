"""Keeping `programme_progress` right, in the transaction of each change: a first read or
quiz start marks a person started; any change to their certificates recounts what they hold;
a sync that changes a programme's courses or asks for retraining recounts everyone.

Every function is one or two set-based statements (no rows loaded); they flush nothing else.
"""

import functools

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    update,
)

from lms.certificates.models import Certificate
from lms.certificates.services import in_force
from lms.courses.models import Course, ModuleRead, ProgrammeCourse
from lms.extensions import db
from lms.quizzes.models import QuizAttempt
from lms.reports.models import ProgrammeProgress
from lms.sql import upsert, upsert_for


def note_started(user_id, course_id, at):
    """Mark the person started in every programme that requires the course (once)."""
    table = ProgrammeProgress.__table__
    rows = select(literal(user_id, Integer).label("user_id"), ProgrammeCourse.programme_id,
                  literal(at, DateTime).label("started_at"),
                  literal(0, Integer).label("courses_held")) \
        .where(ProgrammeCourse.course_id == course_id)
    statement = upsert(table).from_select(
        ["user_id", "programme_id", "started_at", "courses_held"], rows)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.programme_id],
        set_={"started_at": statement.excluded.started_at},
        where=table.c.started_at.is_(None)))


def _counts_now():
    """SQL: the certificate is in force and no later course version asks to retrain (expiry
    is left to `valid_until`, so that a record needs no change when a day passes)."""
    return and_(in_force(), Certificate.course_id.is_not(None),
                or_(Course.retrain_from_version.is_(None),
                    Certificate.course_version >= Course.retrain_from_version))


def refresh(user_ids=None):
    """Recount what each person holds in every programme (everyone when user_ids is None)."""
    dialect = db.session.get_bind().dialect.name
    zero, count = _refresh_statements(dialect, user_ids is None)
    params = {} if user_ids is None else {"user_ids": list(user_ids)}
    db.session.execute(zero, params)
    db.session.execute(count, params)


@functools.cache
def _refresh_statements(dialect, everyone):
    """(zero the counts, count again) for some people (bound `user_ids`) or everyone: built
    once per dialect, as refresh runs in the transaction of every certificate issued."""
    table = ProgrammeProgress.__table__
    people = bindparam("user_ids", expanding=True)
    zero = update(table).where(true() if everyone else table.c.user_id.in_(people)).values(
        courses_held=0, valid_until=None, trained_at=None)
    held = (select(Certificate.user_id, ProgrammeCourse.programme_id,
                   func.count(func.distinct(Certificate.course_id)).label("courses_held"),
                   func.min(Certificate.expires_on).label("valid_until"),
                   func.max(Certificate.issued_at).label("trained_at"))
            .join(ProgrammeCourse, ProgrammeCourse.course_id == Certificate.course_id)
            .join(Course, Course.id == Certificate.course_id)
            .where(_counts_now(), true() if everyone else Certificate.user_id.in_(people))
            .group_by(Certificate.user_id, ProgrammeCourse.programme_id))
    statement = upsert_for(dialect, table).from_select(
        ["user_id", "programme_id", "courses_held", "valid_until", "trained_at"], held)
    count = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.programme_id],
        set_={"courses_held": statement.excluded.courses_held,
              "valid_until": statement.excluded.valid_until,
              "trained_at": statement.excluded.trained_at})
    return zero, count


def rebuild():
    """Every record from the reads, attempts and certificates on file (after a sync that
    changed programmes or retraining, a migration, or a repair)."""
    table = ProgrammeProgress.__table__
    for source, at in ((ModuleRead, ModuleRead.read_at), (QuizAttempt, QuizAttempt.started_at)):
        first = (select(source.user_id, ProgrammeCourse.programme_id,
                        func.min(at).label("started_at"),
                        literal(0, Integer).label("courses_held"))
                 .join(ProgrammeCourse, ProgrammeCourse.course_id == source.course_id)
                 .where(true())
                 .group_by(source.user_id, ProgrammeCourse.programme_id))
        statement = upsert(table).from_select(
            ["user_id", "programme_id", "started_at", "courses_held"], first)
        db.session.execute(statement.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c.programme_id],
            set_={"started_at": func.coalesce(
                func.min(table.c.started_at, statement.excluded.started_at)
                if db.session.get_bind().dialect.name == "sqlite"
                else func.least(table.c.started_at, statement.excluded.started_at),
                statement.excluded.started_at)}))
    refresh()
    from lms.reports.progress import forget_figures

    forget_figures()
