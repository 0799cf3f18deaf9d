"""The audit trail is a hash chain: every committed event gets the next seq and a hash over its
fields and the hash before it; `flask lms audit verify` recomputes it and names the first
entry edited, deleted or inserted behind the application's back."""

import json
import random
import uuid
from types import SimpleNamespace

import flask_migrate
import pytest
from sqlalchemy import delete, insert, select, text, update

from lms import create_app
from lms.audit.chain import GENESIS, entry_hash
from lms.audit.models import AuditChain, AuditEvent
from lms.audit.services import record_event
from lms.audit.verify import verify_trail
from lms.extensions import db as _db
from lms.sql import begin_write
from tests import live
from tests.conftest import make_unit, make_user
from tests.test_migrations import _keep_logging  # noqa: F401  (autouse: env.py's logging)

live_app, race = live.live_app, live.race

events_table = AuditEvent.__table__


def trail(db):
    """The committed events in seq order."""
    return db.session.scalars(select(AuditEvent).where(AuditEvent.seq.is_not(None))
                              .order_by(AuditEvent.seq)).all()


def assert_chained(events):
    prev = GENESIS
    for place, event in enumerate(events, start=1):
        assert (event.seq, event.prev_hash) == (place, prev)
        assert event.hash == entry_hash(event, prev)
        prev = event.hash


def verify(runner, *args):
    return runner.invoke(args=["lms", "audit", "verify", *args])


@pytest.fixture
def three(db, users):
    """Three events committed one after the other: a sign-in, a role change, an import."""
    admin, learner = users["admin"], users["learner"]
    record_event("login", actor=learner, ip="203.0.113.7")
    db.session.commit()
    record_event("role_changed", actor=admin, obj=learner, ip="198.51.100.2",
                 before="learner", after="hr", note="Nguyễn Văn Hùng → nhân sự")
    db.session.commit()
    record_event("import_staff", actor=admin, added=12, updated=0, file="nhân-sự.csv")
    db.session.commit()
    return trail(db)


# Building the chain -----------------------------------------------------------------------

def test_each_committed_event_gets_the_next_seq_and_is_chained_to_the_one_before(three, db):
    assert [event.action for event in three] == ["login", "role_changed", "import_staff"]
    assert_chained(three)
    head = db.session.get(AuditChain, 1)
    assert (head.seq, head.last_hash) == (3, three[-1].hash)


def test_events_added_in_one_flush_are_chained_in_the_order_they_were_added(db, users):
    actions = ["programme_assigned", "certificate_revoked", "login", "api_token_created"]
    events = [record_event(action, actor=users["admin"], n=n) for n, action in enumerate(actions)]
    db.session.flush()
    assert [event.seq for event in events] == [None] * 4  # placed when committed
    db.session.commit()
    assert [event.seq for event in events] == [1, 2, 3, 4]
    assert [event.action for event in trail(db)] == actions
    assert_chained(trail(db))


def test_a_rolled_back_event_leaves_no_hole_in_the_chain(db, users):
    record_event("login", actor=users["learner"])
    db.session.commit()
    record_event("role_changed", actor=users["admin"], obj=users["learner"])
    db.session.flush()
    db.session.rollback()
    record_event("user_deactivated", actor=users["admin"], obj=users["learner"])
    db.session.commit()
    assert [(e.seq, e.action) for e in trail(db)] == [(1, "login"), (2, "user_deactivated")]
    assert verify_trail().intact


def test_events_of_a_savepoint_are_chained_when_the_transaction_commits(db, users):
    with db.session.begin_nested():
        event = record_event("quiz_regraded", actor=users["admin"], bank="an-toan")
    assert event.seq is None
    db.session.commit()
    assert event.seq == 1
    assert_chained(trail(db))


# Verifying --------------------------------------------------------------------------------

def test_an_intact_trail_verifies_and_exits_0(runner, three):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Audit trail intact: 3 entries, last hash {three[-1].hash}"


def test_an_empty_trail_is_intact(runner):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Audit trail intact: 0 entries, last hash {GENESIS}"


@pytest.mark.parametrize("change", [
    {"detail": {"before": "learner", "after": "admin"}},
    {"action": "login"},
    {"actor_id": None},
    {"ip": "10.0.0.1"},
])
def test_editing_an_entry_is_reported_at_its_seq(runner, three, db, change):
    db.session.execute(update(events_table).where(events_table.c.seq == 2).values(**change))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert result.output.startswith(f"Audit trail broken at seq 2 (id {three[1].id}, ")
    assert "edited: its fields do not match its hash" in result.output
    assert "The 1 entries before it are intact." in result.output


def test_editing_an_entry_and_its_hash_breaks_the_link_of_the_next(runner, three, db):
    second = three[1]
    forged = {"seq": 2, "at": second.at, "actor_id": None, "action": second.action,
              "object_type": second.object_type, "object_id": second.object_id,
              "ip": second.ip, "detail": {}}
    digest = entry_hash(SimpleNamespace(**forged), three[0].hash)
    db.session.execute(update(events_table).where(events_table.c.seq == 2)
                       .values(actor_id=None, detail={}, hash=digest))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert result.output.startswith(f"Audit trail broken at seq 3 (id {three[2].id}, ")
    assert "not chained to the entry before it" in result.output


def test_deleting_a_middle_entry_is_reported_at_the_next(runner, three, db):
    db.session.execute(delete(events_table).where(events_table.c.seq == 2))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert result.output.startswith(f"Audit trail broken at seq 3 (id {three[2].id}, ")
    assert "deleted before it: entries 2 are missing" in result.output


def test_deleting_the_last_entry_shows_as_a_head_mismatch(runner, three, db):
    db.session.execute(delete(events_table).where(events_table.c.seq == 3))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert result.output.startswith("Audit trail broken at seq 3: head mismatch: the last "
                                    "entries (3) were deleted")


def test_rewriting_the_last_entry_with_its_hash_shows_as_a_head_mismatch(runner, three, db):
    last = three[-1]
    forged = {name: getattr(last, name) for name in ("seq", "at", "actor_id", "action",
                                                      "object_type", "object_id", "ip")}
    forged["detail"] = {"added": 0}
    digest = entry_hash(SimpleNamespace(**forged), last.prev_hash)
    db.session.execute(update(events_table).where(events_table.c.seq == 3)
                       .values(detail={"added": 0}, hash=digest))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert "seq 3" in result.output
    assert "head mismatch: the head holds another hash for the last entry" in result.output


@pytest.mark.parametrize(("seq", "where"), [(None, "id"), (4, "seq 4"), (0, "seq 0")])
def test_an_entry_inserted_behind_the_application_is_reported(runner, three, db, seq, where):
    db.session.execute(insert(events_table).values(
        seq=seq, at=three[0].at, action="admin_created", detail={}, prev_hash=three[-1].hash,
        hash="f" * 64))
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert result.output.startswith(f"Audit trail broken at {where}")
    assert "inserted" in result.output


def test_json_output_for_machines(runner, three, db):
    result = verify(runner, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"intact": True, "entries": 3,
                                         "last_hash": three[-1].hash}
    db.session.execute(update(events_table).where(events_table.c.seq == 1)
                       .values(object_id="99"))
    db.session.commit()
    result = verify(runner, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["intact"], report["entries"]) == (False, 0)
    assert {key: report["broken"][key] for key in ("kind", "seq", "id", "action")} == \
        {"kind": "edited", "seq": 1, "id": three[0].id, "action": "login"}


def test_the_walk_goes_batch_by_batch(db, users):
    for n in range(7):
        record_event("login", actor=users["learner"], n=n)
        db.session.commit()
    verdict = verify_trail(batch=2)
    assert (verdict.intact, verdict.entries) == (True, 7)
    db.session.execute(update(events_table).where(events_table.c.seq == 6).values(ip="x"))
    broken = verify_trail(batch=2).broken
    assert (broken.kind, broken.seq) == ("edited", 6)


# On a real, committed database ------------------------------------------------------------

class TestConcurrentWriters:
    @pytest.fixture(autouse=True)
    def db(self):
        """No rollback fixture: the threads commit for real, in a database of this test."""
        return None

    def test_writers_at_once_build_one_intact_chain_without_deadlock(self, live_app):
        """Eight threads, each six transactions of two events, half of them writing a shared
        row before their events and half after (the order that would deadlock if the chain's
        head were locked at the first flush); every third transaction rolls back."""
        with live_app.app_context():
            shared = make_user(make_unit("P", "Tỉnh Thanh Hóa")).id
            _db.session.commit()

        def work(barrier):
            from lms.auth.models import User

            seed = random.Random(uuid.uuid4().int)
            kept = 0
            barrier.wait()
            for n in range(6):
                begin_write()
                person = _db.session.get(User, shared)
                first, second = record_event("login", n=n), record_event("login_failed", n=n)
                if seed.random() < 0.5:
                    _db.session.flush()  # the events first, then the shared row
                person.locale = seed.choice(["vi", "en"])
                _db.session.flush()
                if n % 3 == 2:
                    _db.session.rollback()
                    continue
                _db.session.commit()
                kept += 2
                assert second.seq == first.seq + 1
                _db.session.commit()  # end the read, so that the next write begins afresh
            return kept

        kept = sum(race(live_app, 8, work))
        with live_app.app_context():
            verdict = verify_trail(batch=7)
            assert verdict.broken is None
            assert verdict.entries == kept == 8 * 4 * 2
            assert _db.session.get(AuditChain, 1).seq == kept


# The migration chains the events already there ----------------------------------------------

class TestMigration:
    @pytest.fixture(autouse=True)
    def db(self):
        """No rollback fixture: the migrations build a database of their own."""
        return None

    @pytest.fixture
    def database(self, request, tmp_path, monkeypatch):
        monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path / "instance"))
        if request.config.getoption("--db") != "postgresql":
            yield "sqlite:///" + str(tmp_path / "backfill.sqlite3")
            return
        from tests.pg import create_database, drop_database

        server = request.getfixturevalue("database_url")
        name = "backfill_" + uuid.uuid4().hex[:8]
        yield create_database(server, name)
        drop_database(server, name)

    def test_existing_events_are_chained_in_id_order_and_new_ones_follow(self, database):
        app = create_app({"DATABASE_URL": database, "SQLALCHEMY_DATABASE_URI": None,
                          "SECRET_KEY": "test-secret", "TESTING": True})
        with app.app_context():
            flask_migrate.upgrade(revision="dd83e64f1310")
            with _db.engine.begin() as connection:
                for n in range(5):
                    connection.execute(text(
                        "INSERT INTO audit_events (at, action, object_type, object_id, ip, "
                        "detail) VALUES (:at, :action, 'users', :object_id, '203.0.113.5', "
                        ":detail)"),
                        {"at": f"2026-11-2{n} 08:30:0{n}.00012{n}", "action": "login",
                         "object_id": str(n), "detail": json.dumps(
                             {"login": f"Nguyễn Thị Hồng {n}", "b": [n, None]})})
            flask_migrate.upgrade(revision="a1c4e9b2d7f0")
            try:
                verdict = verify_trail()
                assert (verdict.broken, verdict.entries) == (None, 5)
                events = trail(_db)
                assert [event.object_id for event in events] == ["0", "1", "2", "3", "4"]
                assert_chained(events)
                record_event("login", ip="203.0.113.6")
                _db.session.commit()
                assert verify_trail().entries == 6
            finally:
                _db.session.remove()
                _db.engine.dispose()
