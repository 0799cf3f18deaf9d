"""A small populated world for the request-level security tests: one of each object a route
can name (course, module, quiz attempt, certificate, programme assignment, API token, email,
one-time links), and helpers to sign in through the form, read a CSRF token and take a
snapshot of every table."""

import re
from types import SimpleNamespace

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from lms.api import tokens
from lms.auth.services import make_token
from lms.certificates.services import issue
from lms.extensions import db
from lms.notify.models import OutboxMessage
from lms.quizzes import services as quizzes
from tests.conftest import PASSWORD, make_user
from tests.course_factories import assign, make_course, make_programme
from tests.quiz_factories import make_bank

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def build_world(org, users):
    """Every kind of object the routes name, in the org/users fixtures' tree."""
    course = make_course("alpha", 2)
    programme = make_programme("p", [course])
    assignment = assign(programme, org["district"], by=users["admin"])
    bank = make_bank(course, 5)
    attempt = quizzes.start_attempt(users["learner"], bank)
    certificate = issue(users["learner"], kind="course", title="Khoá học An toàn thông tin",
                        course=make_course("beta", 1))
    token, plaintext = tokens.create_token(users["admin"], "Cổng dữ liệu", org["district"])
    newcomer = make_user(org["office"], full_name="Đỗ Thị Mới", activated=False)
    message = OutboxMessage(kind="digest", period="2026-W01",
                            recipient=f"user:{users['head'].id}", user_id=users["head"].id,
                            to_address=users["head"].email, subject="Tiến độ tuần",
                            text_body="Nội dung", status="failed", last_error="550 no")
    db.session.add(message)
    db.session.commit()  # as the app leaves it: the audit events chained
    return SimpleNamespace(
        org=org, users=users, course=course, module=course.modules[0], programme=programme,
        assignment=assignment, bank=bank, attempt=attempt, certificate=certificate,
        api_token=token, api_plaintext=plaintext, newcomer=newcomer, message=message,
        activate_token=make_token(newcomer, "activate"),
        reset_token=make_token(users["learner"], "reset"),
    )


def snapshot():
    """Every row of every table, as text: two snapshots differ when anything was written."""
    db.session.flush()
    return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
            for table in db.metadata.sorted_tables}


def changed_tables(before, after):
    """The names of the tables whose rows differ between two snapshots."""
    return {name for name in before if before[name] != after[name]}


def csrf_token(client, path="/login"):
    """A valid CSRF token for this client's session, read from a page's form."""
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def quick_password(*users):
    """Give the users PASSWORD under a one-round hash: tests that sign in or type the password
    dozens of times must not spend a scrypt each time (the hash is not what they test)."""
    quick = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    for user in users:
        user.password_hash = quick
    db.session.flush()


def sign_in(client, login, password=PASSWORD, **extra):
    """Sign in through the /login form (learners: no second step)."""
    return client.post("/login", data={"login": login, "password": password, **extra})


def session_cookie(client):
    """The value of the client's session cookie (None when it has none)."""
    cookie = client.get_cookie("session")
    return cookie.value if cookie is not None else None
