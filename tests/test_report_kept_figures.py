"""Very large subtrees: their dashboards add up each unit's own figures as last counted
(LMS_REPORTS_LIVE_LIMIT active staff and more, at most LMS_REPORTS_CACHE_MINUTES old) instead
of counting everyone on every visit; smaller ones are always counted."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from lms.api import tokens
from lms.auth.models import User
from lms.certificates.services import issue
from lms.courses.assignments import assign_programme
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from lms.reports.models import UnitFigures
from lms.reports.progress import Figures, progress
from lms.reports.records import rebuild
from lms.reports.views import today
from tests.conftest import make_unit, make_user
from tests.course_factories import make_course, make_programme


@pytest.fixture
def setup(app, db, org, users, monkeypatch):
    """The programme on the province; in the commune Lan trained, Nam in progress; any
    subtree of 3 active staff or more is 'large'."""
    monkeypatch.setitem(app.config, "REPORTS_LIVE_LIMIT", 3)
    monkeypatch.setitem(app.config, "REPORTS_CACHE_MINUTES", 10)
    courses = [make_course("one", 1), make_course("two", 1)]
    programme = make_programme("basic", courses)
    with app.test_request_context():
        day = today()
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"],
                                       deadline=day + timedelta(days=30)))
    lan = make_user(org["commune"], full_name="Đỗ Thị Lan")
    for course in courses:
        issue(lan, kind="course", title=course.slug, course=course)
    nam = make_user(org["commune"], full_name="Bùi Văn Nam")
    mark_read(nam, courses[0].modules[0])
    db.session.commit()
    return programme, courses, day


def kept_rows(db, programme):
    return db.session.scalar(select(func.count()).select_from(UnitFigures).where(
        UnitFigures.programme_id == programme.id))


def test_a_large_subtree_is_counted_once_then_read_from_the_kept_figures(db, org, setup):
    programme, (one, two), day = setup
    first = progress(programme, org["province"], day)
    assert first.as_of is None  # counted for this call, and kept
    assert kept_rows(db, programme) == len(first.rows)  # every covered unit, zeros too
    second = progress(programme, org["province"], day)
    assert second.as_of is not None
    assert second.figures == first.figures
    assert {i: r.total for i, r in second.rows.items()} == \
        {i: r.total for i, r in first.rows.items()}
    # A department below the root reads the same kept figures.
    district = progress(programme, org["district"], day)
    assert district.as_of is not None
    assert district.figures == first.rows[org["district"].id].total


def test_kept_figures_wait_for_their_age_then_are_counted_again(db, org, setup):
    programme, (one, two), day = setup
    before = progress(programme, org["province"], day).figures
    nam = db.session.scalar(select(User).where(User.full_name == "Bùi Văn Nam"))
    for course in (one, two):
        issue(nam, kind="course", title=course.slug, course=course)
    db.session.commit()
    stale = progress(programme, org["province"], day)
    assert stale.as_of is not None
    assert stale.figures == before
    db.session.execute(update(UnitFigures).values(
        computed_at=datetime.now() - timedelta(hours=3)))
    db.session.commit()
    fresh = progress(programme, org["province"], day)
    assert fresh.as_of is None
    assert fresh.figures.trained == before.trained + 1
    assert progress(programme, org["province"], day, live=True).figures == fresh.figures


def test_figures_kept_on_another_day_are_not_read(db, org, setup):
    programme, _courses, day = setup
    progress(programme, org["province"], day)
    assert progress(programme, org["province"], day + timedelta(days=1)).as_of is None


def test_a_small_subtree_is_always_counted(app, db, org, setup, monkeypatch):
    programme, _courses, day = setup
    monkeypatch.setitem(app.config, "REPORTS_LIVE_LIMIT", 1000)
    report = progress(programme, org["province"], day)
    assert report.as_of is None
    assert kept_rows(db, programme) == 0
    assert progress(programme, org["province"], day).as_of is None


def test_a_unit_created_since_the_count_makes_it_count_again(db, org, setup):
    programme, _courses, day = setup
    progress(programme, org["province"], day)
    newcomer = make_unit("P.H1.X9", "Xã Mới", parent=org["district"])
    make_user(newcomer, full_name="Lê Thị Mới")
    db.session.commit()
    report = progress(programme, org["province"], day)
    assert report.as_of is None
    assert report.rows[newcomer.id].total.active == 1


def test_assignments_and_rebuilds_forget_the_kept_figures(db, org, users, setup):
    programme, _courses, day = setup
    progress(programme, org["province"], day)
    assert kept_rows(db, programme)
    assign_programme(users["admin"], programme, org["district"], day + timedelta(days=5))
    assert kept_rows(db, programme) == 0  # the district's deadline changes who is on time
    db.session.commit()
    report = progress(programme, org["province"], day)
    assert report.rows[org["district"].id].deadline == day + timedelta(days=5)
    assert kept_rows(db, programme)
    rebuild()
    assert kept_rows(db, programme) == 0


def test_the_dashboard_says_when_the_figures_were_counted(client, db, org, users, setup,
                                                         login_as):
    login_as(users["admin"])
    first = client.get("/reports/units/P").get_data(as_text=True)
    assert 'id="as-of"' not in first
    second = client.get("/reports/units/P").get_data(as_text=True)
    assert 'id="as-of"' in second
    assert "Số liệu được đếm lúc" in second
    assert 'id="n-trained">1<' in second


def test_the_refresh_command_counts_every_unit(db, org, runner, setup):
    programme, _courses, day = setup
    result = runner.invoke(args=["lms", "refresh-figures"])
    assert result.exit_code == 0, result.output
    rows = kept_rows(db, programme)
    assert rows
    assert f"{rows} unit figures counted" in result.output
    report = progress(programme, org["province"], day)
    assert report.as_of is not None
    assert report.figures == Figures(active=report.figures.active, trained=1, in_progress=1,
                                     not_started=report.figures.active - 2, overdue=0,
                                     on_time=1)


def test_the_api_gives_the_time_of_the_count(client, db, org, users, setup):
    plaintext = tokens.create_token(users["admin"], "Cổng dữ liệu tỉnh", org["province"])[1]
    db.session.commit()
    headers = {"Authorization": f"Bearer {plaintext}"}
    first = client.get("/api/v1/units/P/progress", headers=headers).get_json()
    second = client.get("/api/v1/units/P/progress", headers=headers).get_json()
    assert first["counted_at"] is None
    assert second["counted_at"].endswith("+00:00")
    assert second["figures"] == first["figures"]
    assert second["figures"]["trained"] == 1
