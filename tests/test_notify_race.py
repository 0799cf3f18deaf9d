"""Two senders at once (and two runs of a queueing job) on a real, committed database — a
SQLite file, or PostgreSQL with --db postgresql — each with its own session and connection:
every message is queued once and delivered once."""

import pytest
from sqlalchemy import func, select

from lms.extensions import db as _db
from lms.notify import outbox
from lms.notify.models import OutboxMessage
from tests import live
from tests.conftest import make_unit, make_user

db, live_app, race = live.db, live.live_app, live.race  # a committed database of its own


@pytest.fixture
def people(live_app):
    with live_app.app_context():
        unit = make_unit("P", "Tỉnh Thanh Hóa")
        people = [make_user(unit, full_name=f"Cán bộ Số {i}", email=f"cb{i}@example.gov.vn")
                  for i in range(40)]
        _db.session.commit()
        return [person.id for person in people]


def queue_all(people, period="2026-W48"):
    from lms.auth.models import User

    messages = [outbox.Message("reminder", period, person, f"Nhắc việc {person.full_name}",
                               "Nội dung nhắc việc.")
                for person in _db.session.scalars(select(User).where(User.id.in_(people)))]
    return outbox.enqueue_all(messages)


def test_two_queueing_runs_at_once_queue_each_message_once(live_app, people):
    def work(barrier):
        barrier.wait()
        return queue_all(people)

    assert sum(race(live_app, 2, work)) == 40  # between them, each message once
    with live_app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 40


def test_two_senders_at_once_deliver_each_message_once(live_app, people, smtp,
                                                       monkeypatch):
    monkeypatch.setitem(live_app.config, "SMTP_URL", smtp.url)
    with live_app.app_context():
        queue_all(people)

    def work(barrier):
        barrier.wait()
        sent = 0
        while (result := outbox.send_due(limit=5)).handled:
            sent += result.sent
        return sent

    assert sum(race(live_app, 3, work)) == 40
    received = [rcpt[0] for _, rcpt, _ in smtp.inbox.messages]
    assert len(received) == 40
    assert len(set(received)) == 40
    with live_app.app_context():
        assert set(_db.session.scalars(select(OutboxMessage.status))) == {"sent"}


@pytest.fixture
def heads(live_app):
    """A province with ten districts, each with a head and staff, and a programme."""
    from datetime import date

    from lms.courses.models import ProgrammeAssignment
    from tests.course_factories import make_course, make_programme

    with live_app.app_context():
        province = make_unit("T", "Tỉnh Thanh Hóa")
        courses = [make_course("one", 1), make_course("two", 1)]
        programme = make_programme("basic", courses)
        _db.session.add(ProgrammeAssignment(programme=programme, unit=province,
                                            deadline=date(2026, 12, 31)))
        heads = []
        for n in range(10):
            district = make_unit(f"T.H{n}", f"Huyện Số {n}", parent=province)
            heads.append(make_user(district, role="head", full_name=f"Trưởng Phòng {n}",
                                   email=f"head{n}@example.gov.vn"))
            for _ in range(3):
                make_user(district)
        _db.session.commit()
        return [head.email for head in heads]


def test_two_schedulers_at_once_send_one_digest_per_head(live_app, heads, smtp,
                                                         monkeypatch):
    """Both run the digest job, then the sender, at the same moment."""
    from datetime import date

    from lms.notify.digests import queue_digests

    monkeypatch.setitem(live_app.config, "SMTP_URL", smtp.url)

    def work(barrier):
        barrier.wait()
        run = queue_digests(date(2026, 11, 23), today=date(2026, 11, 23))
        _db.session.commit()
        barrier.wait()
        while outbox.send_due(limit=3).handled:
            pass
        return run.queued

    assert sum(race(live_app, 2, work)) == 10
    received = [rcpt[0] for _, rcpt, _ in smtp.inbox.messages]
    assert sorted(received) == sorted(heads)
    with live_app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "digest", OutboxMessage.status == "sent")) == 10
