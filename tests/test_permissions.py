"""Every role against every page, including heads and HR trying other units by URL."""

import pytest

from lms.auth.permissions import allowed

# (path template, {role: expected status}); {learner}, {office_learner} are user ids.
MATRIX = [
    ("/home", {"anon": 302, "learner": 200, "head": 200, "hr": 200, "admin": 200}),
    ("/me", {"anon": 302, "learner": 200, "head": 200, "hr": 200, "admin": 200}),
    ("/org/", {"anon": 302, "learner": 403, "head": 302, "hr": 302, "admin": 302}),
    ("/org/units/P", {"anon": 302, "learner": 403, "head": 404, "hr": 404, "admin": 200}),
    ("/org/units/P.H1", {"anon": 302, "learner": 403, "head": 200, "hr": 404, "admin": 200}),
    ("/org/units/P.H1.X1", {"anon": 302, "learner": 403, "head": 200, "hr": 404,
                            "admin": 200}),
    ("/org/units/P.STTTT.VP", {"anon": 302, "learner": 403, "head": 404, "hr": 200,
                               "admin": 200}),
    ("/org/units/NOPE", {"anon": 302, "learner": 404, "head": 404, "hr": 404, "admin": 404}),
    ("/org/staff", {"anon": 302, "learner": 403, "head": 200, "hr": 200, "admin": 200}),
    ("/org/staff?unit=P", {"anon": 302, "learner": 403, "head": 404, "hr": 404, "admin": 200}),
    ("/org/staff?unit=P.H1.X1", {"anon": 302, "learner": 403, "head": 200, "hr": 404,
                                 "admin": 200}),
    ("/org/staff/{learner}", {"anon": 302, "learner": 200, "head": 200, "hr": 404,
                              "admin": 200}),
    ("/org/staff/{office_learner}", {"anon": 302, "learner": 403, "head": 404, "hr": 200,
                                     "admin": 200}),
    ("/org/staff/999999", {"anon": 302, "learner": 404, "head": 404, "hr": 404, "admin": 404}),
    ("/org/import", {"anon": 302, "learner": 403, "head": 403, "hr": 200, "admin": 200}),
    ("/admin/audit", {"anon": 302, "learner": 403, "head": 403, "hr": 403, "admin": 200}),
    ("/admin/outbox/", {"anon": 302, "learner": 403, "head": 403, "hr": 403, "admin": 200}),
    ("/admin/outbox/999999", {"anon": 302, "learner": 403, "head": 403, "hr": 403,
                              "admin": 404}),
]
CASES = [(path, role, status) for path, expected in MATRIX for role, status in expected.items()]


@pytest.mark.parametrize(("path", "role", "status"), CASES)
def test_role_page_matrix(client, users, login_as, path, role, status):
    if role != "anon":
        login_as(users[role])
    url = path.format(learner=users["learner"].id, office_learner=users["office_learner"].id)
    response = client.get(url)
    assert response.status_code == status, f"{role} GET {url}"
    if status == 302 and role == "anon":
        assert "/login" in response.headers["Location"]
    if status in (403, 404):
        body = response.get_data(as_text=True)
        assert users["learner"].email not in body
        assert users["office_learner"].email not in body


POSTS = [
    # (path, role, target, expected)
    ("/org/staff/{id}/role", "learner", "office_learner", 403),
    ("/org/staff/{id}/role", "head", "learner", 403),
    ("/org/staff/{id}/role", "hr", "learner", 404),
    ("/org/staff/{id}/role", "hr", "office_learner", 302),
    ("/org/staff/{id}/deactivate", "head", "learner", 403),
    ("/org/staff/{id}/deactivate", "hr", "learner", 404),
    ("/org/staff/{id}/deactivate", "hr", "office_learner", 302),
    ("/org/staff/{id}/deactivate", "admin", "learner", 302),
    ("/org/staff/{id}/send-link", "hr", "learner", 404),
]


@pytest.mark.parametrize(("path", "role", "target", "status"), POSTS)
def test_state_changes_are_scoped(client, users, login_as, path, role, target, status):
    login_as(users[role])
    person = users[target]
    response = client.post(path.format(id=person.id), data={"role": "head"})
    assert response.status_code == status
    if status != 302:
        assert person.role == "learner"
        assert person.active


def test_hr_cannot_manage_an_admin_even_in_scope(db, org, users):
    from tests.conftest import make_user

    admin_in_dept = make_user(org["dept"], "admin")
    assert allowed(users["hr"], "org.view", admin_in_dept)
    assert not allowed(users["hr"], "org.manage", admin_in_dept)


def test_deactivated_user_is_allowed_nothing(db, users):
    users["admin"].active = False
    assert not allowed(users["admin"], "admin")
