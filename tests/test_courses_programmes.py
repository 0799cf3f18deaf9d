"""HR assigns programmes to the units it administers; heads look; refreshers are listed."""

from datetime import date

from sqlalchemy import select

from lms.audit.models import AuditEvent
from lms.courses.assignments import refreshers
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import mark_read
from tests.conftest import make_user
from tests.course_factories import assign, make_course, make_programme, read


def assignments(db):
    return {(a.programme.slug, a.unit.code, a.deadline)
            for a in db.session.scalars(select(ProgrammeAssignment))}


def events(db, action):
    return [e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))]


def test_programmes_page_lists_programmes_courses_and_assignments_in_scope(as_hr, org, users):
    programme = make_programme("basic", [make_course("alpha", 1, title="Thiết bị an toàn")],
                               deadline=date(2026, 12, 31))
    assign(programme, org["office"], by=users["hr"])
    assign(programme, org["district"])  # outside HR's department
    html = as_hr.get("/programmes").get_data(as_text=True)
    assert "Chương trình basic" in html
    assert "Thiết bị an toàn" in html
    table = html[html.index('id="assignments"'):html.index("</table>", html.index(
        'id="assignments"'))]
    assert "P.STTTT.VP" in table
    assert users["hr"].full_name in table
    assert "P.H1" not in table
    assert 'id="assign-form"' in html
    assert '<option value="P.STTTT">' in html
    assert '<option value="P.H1">' not in html


def test_hr_assigns_a_programme_in_scope_with_an_audit_row(as_hr, db, org, users):
    make_programme("basic", [make_course("alpha", 1)])
    response = as_hr.post("/programmes/assign", data={
        "programme": "basic", "unit": "P.STTTT.VP", "deadline": "2026-10-01"})
    assert response.status_code == 302
    assert assignments(db) == {("basic", "P.STTTT.VP", date(2026, 10, 1))}
    [event] = events(db, "programme_assigned")
    assert event.actor_id == users["hr"].id
    assert (event.object_type, event.object_id) == ("units", str(org["office"].id))
    assert event.detail["programme"] == "basic"
    assert event.detail["unit"] == "P.STTTT.VP"
    assigned = db.session.scalar(select(ProgrammeAssignment))
    assert assigned.assigned_by_id == users["hr"].id


def test_assigning_again_changes_the_deadline_and_logs_it(as_hr, db, org):
    programme = make_programme("basic", [make_course("alpha", 1)])
    assign(programme, org["dept"], deadline=date(2026, 6, 1))
    as_hr.post("/programmes/assign", data={"programme": "basic", "unit": "P.STTTT",
                                           "deadline": "2026-09-30"})
    assert assignments(db) == {("basic", "P.STTTT", date(2026, 9, 30))}
    [event] = events(db, "programme_deadline_changed")
    assert event.detail["before"] == "2026-06-01"
    assert event.detail["after"] == "2026-09-30"
    as_hr.post("/programmes/assign", data={"programme": "basic", "unit": "P.STTTT",
                                           "deadline": "2026-09-30"})
    assert len(events(db, "programme_deadline_changed")) == 1  # nothing changed


def test_hr_cannot_assign_outside_its_subtree(as_hr, db):
    make_programme("basic", [make_course("alpha", 1)])
    response = as_hr.post("/programmes/assign", data={"programme": "basic", "unit": "P.H1"})
    assert response.status_code == 404
    assert assignments(db) == set()
    assert events(db, "programme_assigned") == []


def test_unknown_unit_or_programme_shows_the_form_again(as_hr, db):
    make_programme("basic", [make_course("alpha", 1)])
    html = as_hr.post("/programmes/assign", data={"programme": "basic", "unit": "NOPE"}) \
        .get_data(as_text=True)
    assert "Không có đơn vị nào mang mã này." in html
    assert 'aria-invalid="true"' in html
    response = as_hr.post("/programmes/assign", data={"programme": "nope", "unit": "P.STTTT"})
    assert response.status_code == 200
    assert assignments(db) == set()


def test_hr_removes_an_assignment_in_scope_with_an_audit_row(as_hr, db, org):
    assignment = assign(make_programme("basic", [make_course("alpha", 1)]), org["office"])
    response = as_hr.post(f"/programmes/assignments/{assignment.id}/remove")
    assert response.status_code == 302
    assert assignments(db) == set()
    [event] = events(db, "programme_unassigned")
    assert event.detail == {"programme": "basic", "unit": "P.STTTT.VP"}


def test_hr_cannot_remove_an_assignment_outside_its_subtree(as_hr, db, org):
    assignment = assign(make_programme("basic", [make_course("alpha", 1)]), org["district"])
    assert as_hr.post(f"/programmes/assignments/{assignment.id}/remove").status_code == 404
    assert assignments(db) == {("basic", "P.H1", None)}


def test_head_sees_its_subtree_read_only_and_cannot_post(as_head, db, org):
    programme = make_programme("basic", [make_course("alpha", 1)])
    mine = assign(programme, org["commune"])
    assign(programme, org["office"])
    html = as_head.get("/programmes").get_data(as_text=True)
    assert "P.H1.X1" in html
    assert "P.STTTT.VP" not in html
    assert 'id="assign-form"' not in html
    assert "/remove" not in html
    assert as_head.post("/programmes/assign", data={
        "programme": "basic", "unit": "P.H1.X1"}).status_code == 403
    assert as_head.post(f"/programmes/assignments/{mine.id}/remove").status_code == 403
    assert len(assignments(db)) == 2


def test_learner_may_not_see_or_change_programmes(as_learner, db, org):
    assignment = assign(make_programme("basic", [make_course("alpha", 1)]), org["commune"])
    assert as_learner.get("/programmes").status_code == 403
    assert as_learner.post("/programmes/assign", data={
        "programme": "basic", "unit": "P.H1.X1"}).status_code == 403
    assert as_learner.post(f"/programmes/assignments/{assignment.id}/remove") \
        .status_code == 403
    assert len(assignments(db)) == 1


def test_admin_assigns_anywhere(as_admin, db):
    make_programme("basic", [make_course("alpha", 1)])
    as_admin.post("/programmes/assign", data={"programme": "basic", "unit": "P"})
    assert assignments(db) == {("basic", "P", None)}


def test_the_assignment_reaches_the_learners_my_training(as_hr, client, login_as, users):
    make_programme("basic", [make_course("alpha", 1)])
    as_hr.post("/programmes/assign", data={"programme": "basic", "unit": "P.STTTT"})
    login_as(users["office_learner"])
    assert 'id="programme-basic"' in client.get("/learn").get_data(as_text=True)


# Refreshers ------------------------------------------------------------------------------

def _refresher_world(org, users):
    """A course at version 2 that asks completions of version 1 for a refresher."""
    course = make_course("alpha", 2, version=2, retrain_from_version=2, drafts=())
    other = make_course("beta", 1)
    programme = make_programme("basic", [course, other])
    office2 = make_user(org["office"], full_name="Đỗ Văn Cũ")
    read(users["office_learner"], *course.modules, course_version=1)  # needs a refresher
    read(office2, course.modules[0], course_version=1)  # never finished: not listed
    read(users["hr"], *course.modules, course_version=2)  # read the new version
    read(users["learner"], *course.modules, course_version=1)  # outside HR's department
    read(users["office_learner"], *other.modules, course_version=1)  # no retraining asked
    return programme, course


def test_refreshers_lists_people_in_scope_who_completed_an_old_version(as_hr, org, users):
    programme, course = _refresher_world(org, users)
    page, counts = refreshers(users["hr"], programme)
    assert [(row[0].employee_id, row[1], row[2]) for row in page.items] == [
        ("L0002", course.id, 1)]
    assert counts == {course.id: 1}
    html = as_hr.get("/programmes/basic/refreshers").get_data(as_text=True)
    table = html[html.index('id="refreshers"'):]
    assert users["office_learner"].full_name in table
    assert users["learner"].full_name not in table
    assert "Đỗ Văn Cũ" not in table


def test_admin_and_head_see_refreshers_of_their_scope(client, login_as, org, users):
    programme, _course = _refresher_world(org, users)
    page, _counts = refreshers(users["admin"], programme)
    assert {row[0].employee_id for row in page.items} == {"L0001", "L0002"}
    page, _counts = refreshers(users["head"], programme)
    assert {row[0].employee_id for row in page.items} == {"L0001"}


def test_refreshers_are_paginated(as_hr, app, org, users):
    programme, course = _refresher_world(org, users)
    for n in range(3):
        read(make_user(org["office"], full_name=f"Người Học {n}"), *course.modules,
             course_version=1)
    page, _counts = refreshers(users["hr"], programme, page=2, per_page=3)
    assert (page.total, page.pages, len(page.items)) == (4, 2, 1)
    app.config["PER_PAGE"] = 3
    try:
        html = as_hr.get("/programmes/basic/refreshers?page=2").get_data(as_text=True)
    finally:
        app.config["PER_PAGE"] = 50
    assert 'rel="prev"' in html


def test_refreshers_of_an_unknown_programme_is_404(as_hr):
    assert as_hr.get("/programmes/nope/refreshers").status_code == 404


def test_a_refresher_in_progress_stays_listed_until_every_module_is_read_again(db, org, users):
    course = make_course("alpha", 2, version=2, retrain_from_version=2)
    programme = make_programme("basic", [course])
    learner = users["office_learner"]
    read(learner, *course.modules, course_version=1)
    mark_read(learner, course.modules[0])  # renews the stale read at version 2
    assert refreshers(users["hr"], programme)[0].total == 1
    mark_read(learner, course.modules[1])
    assert refreshers(users["hr"], programme)[0].total == 0


def test_a_bad_deadline_is_explained(as_hr, db):
    make_programme("basic", [make_course("alpha", 1)])
    html = as_hr.post("/programmes/assign", data={
        "programme": "basic", "unit": "P.STTTT", "deadline": "31/02/2026"}).get_data(as_text=True)
    assert "Nhập một ngày, ví dụ 2026-12-31." in html
    assert assignments(db) == set()
