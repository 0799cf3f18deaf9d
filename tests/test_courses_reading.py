"""Recording reading: once per module, only for the signed-in learner, only where allowed."""

import re

import pytest
from sqlalchemy import func, select

from lms.courses import services
from lms.courses.models import ModuleRead
from tests.conftest import PASSWORD
from tests.course_factories import assign, make_course, make_programme, read


def reads(db, user=None):
    query = select(func.count(ModuleRead.id))
    if user is not None:
        query = query.where(ModuleRead.user_id == user.id)
    return db.session.scalar(query)


def test_mark_read_records_versions_and_goes_to_the_next_module(as_learner, db, users):
    course = make_course("alpha", 2, version=3)
    course.modules[0].version = 2
    response = as_learner.post("/courses/alpha/01-module-1/read")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/courses/alpha/02-module-2")
    row = db.session.scalar(select(ModuleRead))
    assert (row.user_id, row.module_id, row.course_id) == (
        users["learner"].id, course.modules[0].id, course.id)
    assert (row.module_version, row.course_version) == (2, 3)


def test_the_last_module_leads_back_to_the_course(as_learner):
    make_course("alpha", 2, drafts=(2,))
    response = as_learner.post("/courses/alpha/01-module-1/read")
    assert response.headers["Location"].endswith("/courses/alpha")


def test_mark_read_twice_leaves_one_row(as_learner, db):
    make_course("alpha", 2)
    for _ in range(2):
        assert as_learner.post("/courses/alpha/01-module-1/read").status_code == 302
    assert reads(db) == 1


def test_a_concurrent_insert_is_absorbed_by_the_savepoint(db, users, monkeypatch):
    course = make_course("alpha", 1)
    module = course.modules[0]
    read(users["learner"], module)  # another request committed it after our check
    lookups = iter([None])
    original = services._read_of
    monkeypatch.setattr(services, "_read_of",
                        lambda user_id, module_id: next(lookups, None)
                        or original(user_id, module_id))
    row = services.mark_read(users["learner"], module)
    assert row is not None
    assert row.module_id == module.id
    assert reads(db) == 1
    assert db.session.is_active  # the outer transaction survived


def test_a_stale_read_is_renewed_not_duplicated(db, users):
    course = make_course("alpha", 1, version=2, retrain_from_version=2)
    read(users["learner"], course.modules[0], course_version=1)
    row = services.mark_read(users["learner"], course.modules[0])
    assert row.course_version == 2
    assert reads(db) == 1


def test_recording_is_always_for_the_current_user(as_learner, db, users):
    make_course("alpha", 1)
    as_learner.post("/courses/alpha/01-module-1/read",
                    data={"user_id": users["office_learner"].id})
    assert reads(db, users["learner"]) == 1
    assert reads(db, users["office_learner"]) == 0


@pytest.mark.parametrize(("slug", "kwargs", "module"), [
    ("closed", {"open": False}, "01-module-1"),
    ("hidden", {"published": False}, "01-module-1"),
    ("alpha", {"drafts": (2,)}, "02-module-2"),
    ("alpha", {}, "09-nope"),
])
def test_mark_read_where_not_allowed_is_404_and_writes_nothing(as_learner, db, slug, kwargs,
                                                               module):
    make_course(slug, 2, **kwargs)
    assert as_learner.post(f"/courses/{slug}/{module}/read").status_code == 404
    assert reads(db) == 0


def test_admin_cannot_record_reading_in_a_preview(as_admin, db):
    make_course("hidden", 1, published=False)
    assert as_admin.post("/courses/hidden/01-module-1/read").status_code == 404
    assert reads(db) == 0


def test_a_closed_course_assigned_above_the_unit_can_be_recorded(as_learner, db, org):
    closed = make_course("closed", 1, open=False)
    assign(make_programme("p", [closed]), org["province"])
    assert as_learner.post("/courses/closed/01-module-1/read").status_code == 302
    assert reads(db) == 1


def test_mark_read_needs_the_csrf_token(csrf_app, client, login_as, users, db):
    make_course("alpha", 1)
    login_as(users["learner"])
    assert client.post("/courses/alpha/01-module-1/read").status_code == 400
    assert reads(db) == 0
    html = client.get("/courses/alpha/01-module-1").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      html[html.index('id="mark-read"'):]).group(1)
    response = client.post("/courses/alpha/01-module-1/read", data={"csrf_token": token})
    assert response.status_code == 302
    assert reads(db) == 1


def test_progress_counts_non_draft_modules_for_many_courses_at_once(db, users):
    alpha = make_course("alpha", 4, drafts=(4,))
    beta = make_course("beta", 2)
    read(users["learner"], alpha.modules[0], alpha.modules[3], beta.modules[1])
    progress = services.reading_progress(users["learner"].id, [alpha.id, beta.id])
    assert progress == {alpha.id: (1, 3), beta.id: (1, 2)}


# No N+1 ----------------------------------------------------------------------------------

def _programmes(org, user, programmes, courses_each, prefix="x"):
    for p in range(programmes):
        courses = [make_course(f"{prefix}{p}-{c}", 3) for c in range(courses_each)]
        unit = org["district"] if p % 2 else org["province"]
        assign(make_programme(f"{prefix}{p}", courses), unit)
        read(user, courses[0].modules[0])


def test_my_training_runs_a_bounded_number_of_queries(as_learner, org, users, statements):
    _programmes(org, users["learner"], 1, 1, prefix="small")
    statements.clear()
    assert as_learner.get("/learn").status_code == 200
    small = len(statements)
    db_statements = list(statements)
    _programmes(org, users["learner"], 2, 8)  # 2 more programmes × 8 courses
    statements.clear()
    html = as_learner.get("/learn").get_data(as_text=True)
    assert html.count("<progress") == 17
    assert len(statements) <= 12, "\n".join(statements)
    assert len(statements) == small, "\n\n".join(db_statements + ["----"] + statements)


def test_catalogue_runs_a_bounded_number_of_queries(as_learner, org, users, statements):
    _programmes(org, users["learner"], 2, 8)
    statements.clear()
    html = as_learner.get("/courses").get_data(as_text=True)
    assert html.count("<progress") == 16
    assert len(statements) <= 8, "\n".join(statements)


def test_progress_survives_signing_out_and_in_again(client, users, db):
    """Reading is stored in the database, not in the session."""
    make_course("alpha", 3)
    learner = users["learner"]
    response = client.post("/login", data={"login": learner.email, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/courses/alpha/01-module-1/read")
    client.post("/courses/alpha/02-module-2/read")
    assert client.post("/logout").status_code == 302
    assert client.get("/courses/alpha").status_code == 302  # signed out: to the sign-in page

    client.post("/login", data={"login": learner.email, "password": PASSWORD})
    html = client.get("/courses/alpha").get_data(as_text=True)
    assert html.count('<li class="done">') == 2
    assert "Đã đọc 2/3 học phần" in html
    assert reads(db, learner) == 2
