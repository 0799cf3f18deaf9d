"""The demo province: realistic, complete, loaded once, and usable to sign in."""

import math
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_babel import to_user_timezone
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.certificates import keys
from lms.certificates.documents import claims_of
from lms.certificates.models import Certificate
from lms.certificates.signing import verify
from lms.courses.models import CourseCompletion, ModuleRead, Programme, ProgrammeAssignment
from lms.names import people
from lms.org import services
from lms.org.demo import DEMO_ACCOUNTS, load_demo
from lms.org.demo_progress import PILOT, WEEKS, plan_activity
from lms.org.models import Unit
from lms.reports.models import UnitSnapshot
from lms.reports.progress import progress
from lms.reports.services import trend
from lms.text import fold

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_demo_hashes(monkeypatch):
    """scrypt costs 0.1 s a password; the demo hashes four, in every test here."""
    monkeypatch.setattr("lms.org.demo.hash_password",
                        lambda password: generate_password_hash(password, "pbkdf2:sha256:1000"))


def _count(model, *where):
    from lms.extensions import db

    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_builds_a_province_of_about_two_thousand_staff(runner, db):
    result = runner.invoke(args=["lms", "demo"])
    assert result.exit_code == 0, result.output
    assert "Loaded Tỉnh An Hòa" in result.output
    for _, email, _, _, password in DEMO_ACCOUNTS:
        assert email in result.output
        assert password in result.output

    root = db.session.scalar(select(Unit).where(Unit.code == "AH"))
    assert (root.name, root.path, root.depth) == ("Tỉnh An Hòa", f"/{root.id}/", 0)
    departments = _count(Unit, Unit.parent_id == root.id, Unit.code.not_like("AH.H%"))
    districts = _count(Unit, Unit.parent_id == root.id, Unit.code.like("AH.H%"))
    assert 10 <= departments <= 14
    assert 6 <= districts <= 10
    office = db.session.scalar(select(Unit).where(Unit.code == "AH.SNV.VP"))
    assert (office.name, office.depth) == ("Văn phòng Sở", 2)
    assert office.path == f"{office.parent.path}{office.id}/"
    assert _count(Unit, Unit.code.like("AH.H01.X%")) >= 6

    staff = _count(User, User.employee_id.like("AH%"))
    assert 1800 <= staff <= 2300
    assert f"{staff} staff" in result.output
    assert _count(Unit, Unit.head_employee_id.is_(None)) == 0
    assert _count(User, User.role == "head") == _count(Unit)
    assert _count(User, User.role == "hr") == 1
    assert _count(User, User.password_hash.is_not(None)) == 4
    assert {c for (c,) in db.session.execute(select(User.category).distinct())} == \
        {"cadre", "civil_servant", "public_employee"}
    assert _count(AuditEvent, AuditEvent.action == "demo_loaded") == 1
    # No catalogue synced: the province loads, the training activity is skipped, said so.
    assert "no training activity loaded" in result.output
    assert _count(ModuleRead) == _count(Certificate) == 0


def test_demo_accounts_have_the_roles_and_units_they_promise(runner, db):
    runner.invoke(args=["lms", "demo"])
    by_email = {u.email: u for u in db.session.scalars(
        select(User).where(User.email.like("%@demo.civicskills.vn"),
                           User.password_hash.is_not(None)))}
    admin, hr = by_email["admin@demo.civicskills.vn"], by_email["hr@demo.civicskills.vn"]
    head, learner = by_email["head@demo.civicskills.vn"], by_email["learner@demo.civicskills.vn"]
    assert (admin.role, hr.role, head.role, learner.role) == ("admin", "hr", "head", "learner")
    assert hr.unit.code == "AH"
    assert head.unit.parent.code == "AH"
    assert head.unit.head_employee_id == head.employee_id
    assert learner.unit.parent_id == head.unit_id


def test_a_second_run_changes_nothing_and_says_so(runner, db):
    runner.invoke(args=["lms", "demo"])
    before = (_count(Unit), _count(User), _count(AuditEvent))
    result = runner.invoke(args=["lms", "demo"])
    assert result.exit_code == 0
    assert "already loaded" in result.output
    assert "nothing changed" in result.output
    assert "demo-admin-2026" in result.output
    assert (_count(Unit), _count(User), _count(AuditEvent)) == before
    assert load_demo().created is False


def test_a_demo_user_signs_in_with_the_printed_password(runner, client):
    runner.invoke(args=["lms", "demo"])
    response = client.post("/login", data={"login": "learner@demo.civicskills.vn",
                                           "password": "demo-learner-2026"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/home")


def test_names_carry_diacritics_in_nfc(runner, db):
    runner.invoke(args=["lms", "demo"])
    names = db.session.scalars(select(User.full_name).where(User.employee_id.like("AH%"))).all()
    assert all(unicodedata.is_normalized("NFC", name) for name in names)
    assert sum(name != name.encode("ascii", "ignore").decode() for name in names) \
        > 0.9 * len(names)
    assert sum(name.startswith("Nguyễn ") for name in names) / len(names) > 0.3
    assert any(len(name.split()) == 4 for name in names)


def test_names_are_reproducible_and_emails_unique():
    first = list(people(7, 2000, prefix="T"))
    assert first == list(people(7, 2000, prefix="T"))
    assert len({p.email for p in first}) == len({p.employee_id for p in first}) == 2000
    assert all(p.email.isascii() and p.email.count("@") == 1 for p in first)


@pytest.mark.parametrize("status", ["active", "inactive", "all"])
def test_every_staff_page_of_the_demo_province_matches_a_plain_sort(runner, db, monkeypatch,
                                                                    status):
    runner.invoke(args=["lms", "demo"])
    db.session.execute(update(User).where(User.id % 5 == 0).values(active=False))
    monkeypatch.setattr(services, "DIRECT_SORT_ROWS", 0)  # seek a name before every page
    for code in ("AH", "AH.SNV", "AH.H02", None):
        unit = services.unit_by_code(code) if code else None
        expected = db.session.scalars(
            select(User.id).where(*services._staff_conditions(unit, status))
            .order_by(User.sort_key, User.id)).all()
        pages = math.ceil(len(expected) / 40)
        for number in range(1, pages + 1):
            page = services.staff_page(unit, status=status, page=number, per_page=40)
            assert page.total == len(expected)
            assert [u.id for u in page.items] == expected[(number - 1) * 40:number * 40], \
                (code, number)


@pytest.mark.parametrize("query", ["nguyen thi", "HÙNG", "ah0001", "zzz"])
def test_a_search_counts_and_pages_in_one_pass_like_a_plain_sort(runner, db, query):
    runner.invoke(args=["lms", "demo"])
    for code in ("AH", "AH.SNV", None):
        unit = services.unit_by_code(code) if code else None
        expected = db.session.scalars(
            select(User.id).where(*services._staff_conditions(unit, "active"),
                                  *[User.search_text.contains(word)
                                    for word in fold(query).split()])
            .order_by(User.sort_key, User.id)).all()
        pages = max(1, math.ceil(len(expected) / 20))
        for number in (1, 2, pages, pages + 3):
            page = services.staff_page(unit, query=query, page=number, per_page=20)
            assert (page.total, page.page) == (len(expected), min(number, pages))
            assert [u.id for u in page.items] == expected[(page.page - 1) * 20:page.page * 20]


def test_the_activity_plan_is_reproducible_and_spread_over_the_last_weeks():
    staff = [(i, f"AH.D{i % 20}.X{i % 140}") for i in range(1000)]
    courses = [(c, [c * 10 + m for m in range(5)]) for c in range(1, 9)]
    now = datetime(2026, 11, 23, 12)
    plan = plan_activity(7, staff, courses, now, force_part_way=[0])
    assert plan == plan_activity(7, staff, courses, now, force_part_way=[0])
    states = Counter(plan.states.values())
    assert abs(states["trained"] - 350) <= 1
    assert abs(states["part_way"] - 350) <= 1
    assert plan.states[0] == "part_way"
    assert all(row["read_at"] < now for row in plan.reads)
    weeks_ago = now - timedelta(weeks=WEEKS)
    old = {row["user_id"] for row in plan.reads if row["read_at"] < weeks_ago}
    assert 0 < len(old) <= PILOT  # a pilot two years ago, nobody else
    assert {u for u, *_ in plan.completions if plan.states[u] == "trained"} == \
        {u for u, s in plan.states.items() if s == "trained"} == set(plan.programme_done)
    assert len(plan.revocations) == 10


def test_the_demo_gives_the_dashboard_twelve_weeks_of_training(runner, db, app, sync,
                                                                 monkeypatch, client,
                                                                 login_as):
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(ROOT))
    sync()
    result = runner.invoke(args=["lms", "demo"])
    assert result.exit_code == 0, result.output
    assert f"Training over the last {WEEKS} weeks:" in result.output

    today = to_user_timezone(datetime.now(UTC)).date()
    root = db.session.scalar(select(Unit).where(Unit.code == "AH"))
    programme = db.session.scalar(select(Programme).where(
        Programme.slug == "basic-digital-skills"))
    report = progress(programme, root, today)
    figures = report.figures
    assert figures.active == _count(User, User.employee_id.like("AH%"))
    assert 0.3 < figures.trained / figures.active < 0.4
    assert 0.3 < figures.in_progress / figures.active < 0.4
    assert 0.25 < figures.not_started / figures.active < 0.35
    assert figures.overdue > 0  # the district given an earlier deadline, already passed
    assert _count(ProgrammeAssignment, ProgrammeAssignment.deadline < today) == 1
    ratios = sorted(row.total.ratio for row in report.children())
    assert ratios[-1] >= programme.target_ratio  # some ahead of the target
    assert ratios[0] < 0.1  # some far behind

    points = trend(programme, root, today)
    assert len(points) == WEEKS + 1  # twelve weeks rebuilt and this week's
    assert points[0][1] < points[len(points) // 2][1] < points[-1][1]
    assert _count(UnitSnapshot, UnitSnapshot.rebuilt.is_(True)) > 0
    assert _count(Certificate, Certificate.revoked_at.is_not(None)) == 10
    assert 0 < _count(Certificate, Certificate.expires_on < today) <= 20
    assert _count(Certificate, Certificate.kind == "programme") == figures.trained
    public = keys.public_keys()
    sample = db.session.scalars(select(Certificate).where(Certificate.id % 97 == 0)).all()
    assert len(sample) > 50
    assert all(verify(claims_of(c), c.key_id, c.signature, public) for c in sample)
    assert all(c.issued_at < datetime.now(UTC).replace(tzinfo=None) for c in sample)

    login_as(db.session.scalar(select(User).where(User.email == "hr@demo.civicskills.vn")))
    html = client.get("/reports/units/AH").get_data(as_text=True)
    assert f'id="n-trained">{figures.trained}<' in html

    tables = (Certificate, ModuleRead, CourseCompletion, UnitSnapshot, ProgrammeAssignment,
              AuditEvent)
    before = [_count(table) for table in tables]
    again = runner.invoke(args=["lms", "demo"])
    assert "nothing changed" in again.output
    assert "Training over" not in again.output
    assert [_count(table) for table in tables] == before
