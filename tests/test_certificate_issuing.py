"""Certificates are issued exactly once, in the transaction that completes a course; serials
are yearly and sequential, codes random; a withdrawn completion revokes its certificate."""

import re
from datetime import datetime

from sqlalchemy import func, select

from lms.certificates.keys import public_keys
from lms.certificates.models import Certificate
from lms.certificates.services import issue, next_serial
from lms.certificates.signing import CertificateClaims, verify
from lms.courses.services import mark_read
from lms.quizzes.results import complete_course
from lms.quizzes.services import start_attempt, submit_attempt
from tests.course_factories import make_course
from tests.quiz_factories import make_bank, right_answers


def certificates(db):
    return db.session.scalar(select(func.count(Certificate.id)))


def test_reading_the_last_module_of_a_course_without_quiz_issues_one_signed_certificate(
        db, users):
    learner = users["learner"]
    course = make_course("alpha", 2)
    for module in course.modules:
        mark_read(learner, module)
    mark_read(learner, course.modules[-1])  # again: nothing more
    certificate = db.session.scalar(select(Certificate))
    assert certificates(db) == 1
    assert (certificate.kind, certificate.user_id, certificate.course_id) == (
        "course", learner.id, course.id)
    assert certificate.name == learner.full_name
    assert re.fullmatch(r"\d{4}-\d{6}", certificate.serial)
    assert len(certificate.code) >= 22  # at least 128 random bits, URL-safe
    claims = CertificateClaims(
        serial=certificate.serial, code=certificate.code, name=certificate.name,
        title=certificate.title, kind="course",
        issued_on=certificate.issued_at.date().isoformat(), score=None,
        issuer=certificate.issuer, signer=certificate.signer, expires_on=None, lang="vi")
    assert verify(claims, certificate.key_id, certificate.signature, public_keys()).valid


def test_passing_the_quiz_after_reading_issues_the_certificate_with_the_score(db, users):
    learner = users["learner"]
    course = make_course("alpha", 1)
    bank = make_bank(course, 5)
    mark_read(learner, course.modules[0])
    assert certificates(db) == 0  # the quiz is still to pass
    attempt = start_attempt(learner, bank)
    submit_attempt(attempt, right_answers(attempt))
    submit_attempt(attempt, right_answers(attempt))  # a replay: nothing more
    certificate = db.session.scalar(select(Certificate))
    assert certificates(db) == 1
    assert certificate.score == "100%"
    assert complete_course(learner.id, course.id) is not None
    assert certificates(db) == 1


def test_serials_follow_each_other_within_a_year_and_restart_the_next(db):
    assert [next_serial(2026) for _ in range(3)] == ["2026-000001", "2026-000002",
                                                     "2026-000003"]
    assert next_serial(2027) == "2027-000001"


def test_a_second_certificate_for_the_same_course_is_never_issued(db, users):
    learner = users["learner"]
    course = make_course("alpha", 1)
    first = issue(learner, kind="course", title="Alpha", course=course,
                  now=datetime(2026, 11, 23, 9, 0))
    again = issue(learner, kind="course", title="Alpha", course=course)
    assert again.id == first.id
    assert certificates(db) == 1
    codes = {issue(user, kind="course", title="Alpha", course=course).code
             for user in users.values()}
    assert len(codes) == len(users)  # random codes, none alike


def test_holding_every_course_of_a_programme_issues_its_certificate_once(db, users, org):
    from datetime import date

    from lms.certificates.services import add_months
    from tests.course_factories import make_programme

    learner = users["learner"]
    alpha, beta = make_course("alpha", 1), make_course("beta", 1)
    programme = make_programme("basic", [alpha, beta])
    programme.validity_months = 24
    db.session.flush()
    mark_read(learner, alpha.modules[0])
    assert db.session.scalar(select(func.count(Certificate.id))
                             .where(Certificate.kind == "programme")) == 0
    mark_read(learner, beta.modules[0])
    held = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()
    assert [c.kind for c in held] == ["course", "course", "programme"]
    assert held[2].programme_id == programme.id
    # The programme's validity applies to its course certificates and to its own.
    issued_on = held[2].issued_at.date()
    assert held[2].expires_on == add_months(issued_on, 24)
    assert held[0].expires_on == add_months(held[0].issued_at.date(), 24)
    mark_read(learner, beta.modules[0])
    assert certificates(db) == 3
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)


def test_codes_never_start_like_a_command_line_option(monkeypatch):
    import secrets

    from lms.certificates import services

    drawn = iter(["-starts-with-a-dash", "_underscore", "K7QX3MPA9TZD"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda _n: next(drawn))
    assert services.new_code() == "K7QX3MPA9TZD"
