"""Weekly snapshots: once a week, idempotent; past weeks rebuilt from the records on file."""

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.reports.models import UnitSnapshot
from lms.reports.progress import Figures
from lms.reports.services import snapshot_figures, week_of
from tests.conftest import make_user
from tests.course_factories import make_course, make_programme


def _setup(db, org):
    course = make_course("one", 1)
    programme = make_programme("basic", [course])
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"]))
    db.session.flush()
    return programme, course


def test_a_second_run_in_the_same_week_changes_nothing(db, org, users, runner):
    programme, course = _setup(db, org)
    issue(users["learner"], kind="course", title="x", course=course)
    db.session.commit()
    first = runner.invoke(args=["lms", "snapshot"])
    assert first.exit_code == 0, first.output
    assert "unit figures recorded" in first.output
    count = db.session.scalar(select(func.count(UnitSnapshot.id)))
    assert count == 5  # every unit with active staff: P, P.STTTT, P.STTTT.VP, P.H1, P.H1.X1
    issue(make_user(org["commune"]), kind="course", title="x", course=course)
    db.session.commit()
    second = runner.invoke(args=["lms", "snapshot"])
    assert "already recorded" in second.output
    assert db.session.scalar(select(func.count(UnitSnapshot.id))) == count
    week = week_of(date.today())
    figures = snapshot_figures(programme, org["province"], week)
    assert (figures.active, figures.trained) == (4, 1)  # as first recorded


def test_past_weeks_are_rebuilt_from_certificates(db, org, users, runner):
    programme, course = _setup(db, org)
    learner = users["learner"]
    certificate = issue(learner, kind="course", title="x", course=course)
    certificate.issued_at = datetime.now() - timedelta(days=15)
    db.session.commit()
    since = (date.today() - timedelta(days=28)).isoformat()
    result = runner.invoke(args=["lms", "snapshot", "--rebuild-from", since])
    assert result.exit_code == 0, result.output
    this_week = week_of(date.today())
    before = snapshot_figures(programme, org["commune"], this_week - timedelta(weeks=4))
    after = snapshot_figures(programme, org["commune"], this_week - timedelta(weeks=1))
    assert before == Figures(active=1, trained=0, in_progress=0, not_started=1)
    assert (after.active, after.trained) == (1, 1)
    rebuilt = db.session.scalar(select(func.count(UnitSnapshot.id)).where(
        UnitSnapshot.rebuilt.is_(True)))
    assert rebuilt > 0


def test_a_bad_date_is_refused(runner):
    result = runner.invoke(args=["lms", "snapshot", "--rebuild-from", "next week"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output
