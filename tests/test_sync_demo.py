"""`make run` syncs the content, then the demo assigns the basic-skills programme once."""

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from lms.courses.content import load_content
from lms.courses.models import ProgrammeAssignment
from lms.courses.sync import apply_sync, plan_sync
from lms.org.demo import load_demo
from lms.org.models import Unit
from tests.test_content import ROOT


@pytest.fixture(autouse=True)
def _fast_demo_hashes(monkeypatch):
    monkeypatch.setattr("lms.org.demo.hash_password",
                        lambda password: generate_password_hash(password, "pbkdf2:sha256:1000"))
    # The training activity (tests/test_demo.py covers it) costs seconds: not needed here.
    monkeypatch.setattr("lms.org.demo.load_demo_activity", lambda root, today: (None, None))


def _assignments(db):
    return db.session.execute(select(ProgrammeAssignment.unit_id, func.count())
                              .group_by(ProgrammeAssignment.unit_id)).all()


def test_the_demo_province_gets_the_programme_once(db, runner):
    apply_sync(plan_sync(load_content(ROOT)))
    result = runner.invoke(args=["lms", "demo"])
    assert result.exit_code == 0, result.output
    assert "Programme basic-digital-skills assigned to Tỉnh An Hòa." in result.output
    root = db.session.scalar(select(Unit).where(Unit.code == "AH"))
    assert _assignments(db) == [(root.id, 1)]
    again = runner.invoke(args=["lms", "demo"])
    assert "nothing changed" in again.output
    assert _assignments(db) == [(root.id, 1)]


def test_a_demo_loaded_before_the_sync_gets_the_programme_on_the_next_run(db, runner):
    assert load_demo().assigned is False
    apply_sync(plan_sync(load_content(ROOT)))
    result = runner.invoke(args=["lms", "demo"])
    assert result.exit_code == 0, result.output
    assert "Programme basic-digital-skills assigned" in result.output
    assert len(_assignments(db)) == 1
