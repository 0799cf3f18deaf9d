"""The demo province: realistic, complete, loaded once, and usable to sign in."""

import math
import unicodedata

import pytest
from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.names import people
from lms.org import services
from lms.org.demo import DEMO_ACCOUNTS, load_demo
from lms.org.models import Unit
from lms.text import fold


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
