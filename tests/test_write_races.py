"""Writes at the same moment on a real, committed database (a SQLite file in WAL mode, or
PostgreSQL with --db postgresql): people signing in together all get in. (On SQLite a
request that reads and then writes could fail with "database is locked" when another wrote
in between; every POST now takes the write lock up front and waits its turn.)"""

import pytest

from lms.extensions import db as _db
from tests import live
from tests.conftest import PASSWORD, make_unit, make_user

db, live_app, race = live.db, live.live_app, live.race  # a committed database of its own


@pytest.fixture
def people(live_app, monkeypatch):
    monkeypatch.setitem(live_app.config, "WTF_CSRF_ENABLED", False)
    with live_app.app_context():
        unit = make_unit("P", "Tỉnh Thanh Hóa")
        emails = [make_user(unit, email=f"dong{n}@example.gov.vn").email for n in range(8)]
        _db.session.commit()
        return emails


def test_eight_people_signing_in_at_once_all_get_in(live_app, people):
    emails = iter(people)

    def work(barrier):
        email = next(emails)
        client = live_app.test_client()
        barrier.wait()
        response = client.post("/login", data={"login": email, "password": PASSWORD})
        return response.status_code, response.headers.get("Location", "")

    results = race(live_app, 8, work)
    assert [status for status, _ in results] == [302] * 8, results
    assert not any("/login" in location for _, location in results)
