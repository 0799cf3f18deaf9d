"""Every role against every course and programme page."""

import pytest

from tests.course_factories import assign, make_course, make_programme

ALL_200 = {"anon": 302, "learner": 200, "head": 200, "hr": 200, "admin": 200}
ALL_404 = {"anon": 302, "learner": 404, "head": 404, "hr": 404, "admin": 404}
STAFF_ONLY = {"anon": 302, "learner": 403, "head": 200, "hr": 200, "admin": 200}
# Closed course "closed" is assigned to the department: its HR reads it, the commune doesn't.
CLOSED = {"anon": 302, "learner": 404, "head": 404, "hr": 200, "admin": 200}
PREVIEW = {"anon": 302, "learner": 404, "head": 404, "hr": 404, "admin": 200}

MATRIX = [
    ("/learn", ALL_200),
    ("/courses", ALL_200),
    ("/courses/open", ALL_200),
    ("/courses/open/01-module-1", ALL_200),
    ("/courses/open/02-module-2", PREVIEW),  # a draft
    ("/courses/open/09-nope", ALL_404),
    ("/courses/closed", CLOSED),
    ("/courses/closed/01-module-1", CLOSED),
    ("/courses/hidden", PREVIEW),
    ("/courses/hidden/01-module-1", PREVIEW),
    ("/courses/nope", ALL_404),
    ("/programmes", STAFF_ONLY),
    ("/programmes/basic/refreshers", STAFF_ONLY),
    ("/programmes/nope/refreshers",
     {"anon": 302, "learner": 403, "head": 404, "hr": 404, "admin": 404}),
]
CASES = [(path, role, status) for path, expected in MATRIX for role, status in expected.items()]


@pytest.fixture
def catalogue(org):
    make_course("open", 2, drafts=(2,))
    closed = make_course("closed", 1, open=False)
    make_course("hidden", 1, published=False)
    assign(make_programme("basic", [closed]), org["dept"])


@pytest.mark.parametrize(("path", "role", "status"), CASES)
def test_role_course_page_matrix(client, users, login_as, catalogue, path, role, status):
    if role != "anon":
        login_as(users[role])
    response = client.get(path)
    assert response.status_code == status, f"{role} GET {path}"
    if status == 302:
        assert "/login" in response.headers["Location"]


POSTS = [
    # (path, {role: expected status}) with the CSRF check off, as in the other web tests
    ("/courses/open/01-module-1/read",
     {"anon": 302, "learner": 302, "head": 302, "hr": 302, "admin": 302}),
    ("/courses/closed/01-module-1/read",
     {"anon": 302, "learner": 404, "head": 404, "hr": 302, "admin": 404}),  # preview only
    ("/courses/hidden/01-module-1/read",
     {"anon": 302, "learner": 404, "head": 404, "hr": 404, "admin": 404}),
    ("/programmes/assign", {"anon": 302, "learner": 403, "head": 403, "hr": 302, "admin": 302}),
]
POST_CASES = [(path, role, status) for path, expected in POSTS
              for role, status in expected.items()]


@pytest.mark.parametrize(("path", "role", "status"), POST_CASES)
def test_role_course_post_matrix(client, users, login_as, catalogue, path, role, status):
    if role != "anon":
        login_as(users[role])
    response = client.post(path, data={"programme": "basic", "unit": "P.STTTT.VP"})
    assert response.status_code == status, f"{role} POST {path}"
    if role == "anon":
        assert "/login" in response.headers["Location"]
