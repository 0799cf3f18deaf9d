"""A unit's progress toward a programme's target: who is trained, in progress, not started,
overdue or on time, over the whole subtree, from records kept with every change."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms.certificates.services import issue, revoke
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.reports.models import ProgrammeProgress
from lms.reports.progress import Figures, progress
from lms.reports.records import rebuild
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme

TODAY = date.today()


@pytest.fixture
def setup(db, org):
    """Two required courses; the programme assigned to the province (deadline in 30 days)
    and to the district with its own deadline, already past."""
    courses = [make_course("one", 1), make_course("two", 1)]
    programme = make_programme("basic", courses)
    db.session.add_all([
        ProgrammeAssignment(programme=programme, unit=org["province"],
                            deadline=TODAY + timedelta(days=30)),
        ProgrammeAssignment(programme=programme, unit=org["district"],
                            deadline=TODAY - timedelta(days=1))])
    db.session.flush()
    return programme, courses


def certify(person, *courses, **kwargs):
    return [issue(person, kind="course", title=c.slug, course=c, **kwargs) for c in courses]


def test_figures_of_a_subtree(db, org, setup):
    programme, (one, two) = setup
    office, commune = org["office"], org["commune"]
    trained = make_user(office)
    certify(trained, one, two)
    halfway = make_user(office)
    certify(halfway, one)
    reader = make_user(commune)
    mark_read(reader, one.modules[0])
    idle = make_user(commune)
    make_user(commune, active=False)  # left: not counted
    late_trained = make_user(commune)
    certify(late_trained, one, two)
    del idle

    report = progress(programme, org["province"], TODAY)
    assert report.figures == Figures(active=5, trained=2, in_progress=2, not_started=1,
                                     overdue=2, on_time=1)
    assert report.rows[office.id].total == Figures(2, 1, 1, 0, 0, 1)
    # The district's deadline is past: its untrained staff are overdue; trained today is late.
    assert report.rows[org["district"].id].total == Figures(3, 1, 1, 1, 2, 0)
    assert [row.unit.code for row in report.children()] == ["P.STTTT", "P.H1"]
    assert progress(programme, org["district"], TODAY).figures == \
        report.rows[org["district"].id].total


def test_revoked_expired_and_retraining_certificates_do_not_count(db, org, setup):
    programme, (one, two) = setup
    people = [make_user(org["office"]) for _ in range(3)]
    for person in people:
        certify(person, one, two)
    assert progress(programme, org["office"], TODAY).figures.trained == 3
    revoke(certify(people[0], one)[0], "Nhầm người")  # the one in force, returned again
    certify(people[1], two)[0].expires_on = TODAY - timedelta(days=1)
    db.session.flush()
    from lms.reports.records import refresh

    refresh([people[1].id])  # expiry is read from valid_until: as recorded at issue
    two.version, two.retrain_from_version = 2, 2
    db.session.flush()
    rebuild()
    figures = progress(programme, org["office"], TODAY).figures
    # people[0] holds nothing that counts any more (one revoked, two to retrain) and, issued
    # certificates directly, never read a module: not started.
    assert (figures.trained, figures.in_progress, figures.not_started) == (0, 2, 1)


def test_an_expiry_passing_needs_no_write(db, org, setup):
    programme, (one, two) = setup
    person = make_user(org["office"])
    certify(person, one, two, expires_on=TODAY + timedelta(days=10))
    assert progress(programme, org["office"], TODAY).figures.trained == 1
    assert progress(programme, org["office"], TODAY + timedelta(days=11)).figures.trained == 0


def test_a_programme_assigned_below_covers_only_that_subtree(db, org):
    one = make_course("one", 1)
    programme = make_programme("district-only", [one])
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["district"]))
    db.session.flush()
    make_user(org["office"])  # not subject to it
    certify(make_user(org["commune"]), one)
    make_user(org["commune"])
    figures = progress(programme, org["province"], TODAY).figures
    assert (figures.active, figures.trained, figures.overdue) == (2, 1, 0)


def test_a_unit_moved_in_the_tree_takes_its_staff_along(db, org, setup):
    programme, (one, two) = setup
    team = make_unit("P.H1.X1.T", "Tổ một cửa", org["commune"])
    certify(make_user(team), one, two)
    # The team moves under the department office (paths rewritten as the import does).
    team.parent_id, team.path = org["office"].id, org["office"].path + f"{team.id}/"
    team.depth = org["office"].depth + 1
    db.session.flush()
    report = progress(programme, org["province"], TODAY)
    assert report.rows[org["dept"].id].total.trained == 1
    assert report.rows[org["district"].id].total.trained == 0


def test_records_kept_incrementally_equal_a_rebuild(db, org, setup):
    programme, (one, two) = setup
    a, b, c = make_user(org["office"]), make_user(org["commune"]), make_user(org["commune"])
    mark_read(a, one.modules[0])
    certify(b, one, two)
    revoke(certify(c, one)[0], "Sai thông tin")
    kept = _records(db)
    rebuild()
    assert _records(db) == kept
    assert kept[(a.id, programme.id)][:2] == (True, 1)  # reading its only module completed one
    assert kept[(b.id, programme.id)][1] == 2
    assert kept[(c.id, programme.id)][1] == 0


def _records(db):
    return {(r.user_id, r.programme_id): (r.started_at is not None, r.courses_held,
                                          r.valid_until)
            for r in db.session.scalars(select(ProgrammeProgress))}
