"""Refreshers: an expired certificate, or one from a course version that asks to retrain, no
longer counts; its holder is invited once, and passing the course again renews it (a new
certificate, the old one kept on record)."""

from datetime import date, timedelta

from sqlalchemy import func, select

from lms.certificates.models import Certificate
from lms.certificates.refreshers import invite_refreshers
from lms.certificates.services import certificate_in_force, counts_as_trained
from lms.courses.models import Course, CourseCompletion, ModuleRead
from lms.courses.services import course_entries, mark_read
from lms.notify.outbox import send_due
from lms.org.models import utcnow
from lms.quizzes.services import quiz_status, start_attempt, submit_attempt
from tests.conftest import make_user
from tests.course_factories import make_course, make_programme
from tests.quiz_factories import make_bank, right_answers, wrong_answers
from tests.test_auth import outbox, outbox_messages  # noqa: F401  (fixture)

YESTERDAY = date.today() - timedelta(days=1)


def _pass(learner, bank):
    attempt = start_attempt(learner, bank)
    submit_attempt(attempt, right_answers(attempt))
    return attempt


def _completed_with_quiz(learner, slug="alpha", **bank_settings):
    course = make_course(slug, 2)
    bank = make_bank(course, 5, **bank_settings)
    for module in course.modules:
        mark_read(learner, module)
    _pass(learner, bank)
    return course, bank, certificate_in_force(learner.id, course_id=course.id)


def _age(db, learner, certificate, days):
    """Move a certificate and the reads before it `days` into the past."""
    certificate.issued_at = utcnow() - timedelta(days=days)
    for read in db.session.scalars(select(ModuleRead).where(ModuleRead.user_id == learner.id)):
        read.read_at = certificate.issued_at - timedelta(minutes=5)
    db.session.flush()


def _trained(db, learner, course):
    return db.session.scalar(
        select(func.count(Certificate.id)).join(Course, Course.id == Certificate.course_id)
        .where(Certificate.user_id == learner.id, Certificate.course_id == course.id,
               counts_as_trained(date.today())))


def test_passing_again_after_expiry_renews_the_certificate(db, users):
    learner = users["learner"]
    course, bank, old = _completed_with_quiz(learner, max_attempts=1)
    assert _trained(db, learner, course) == 1
    assert quiz_status(learner, bank).attempts_left == 0
    old.expires_on = YESTERDAY
    db.session.flush()
    assert _trained(db, learner, course) == 0
    [entry] = course_entries(learner, [course], "vi")
    assert entry.refresher.expired_on == YESTERDAY
    assert quiz_status(learner, bank).attempts_left == 1  # the refresher starts afresh

    _pass(learner, bank)
    new = certificate_in_force(learner.id, course_id=course.id)
    assert new.id != old.id
    assert new.serial != old.serial
    assert new.code != old.code
    assert (old.renewed_at is not None, old.replaced_by_id, old.revoked_at) == (
        True, new.id, None)
    assert new.expires_on is None
    assert _trained(db, learner, course) == 1
    completion = db.session.scalar(select(CourseCompletion))
    assert completion.completed_at == new.issued_at
    assert course_entries(learner, [course], "vi")[0].refresher is None
    assert db.session.scalar(select(func.count(Certificate.id))) == 2


def test_a_failed_refresher_renews_nothing(db, users):
    learner = users["learner"]
    course, bank, old = _completed_with_quiz(learner)
    old.expires_on = YESTERDAY
    attempt = start_attempt(learner, bank)
    submit_attempt(attempt, wrong_answers(attempt))
    assert certificate_in_force(learner.id, course_id=course.id).id == old.id
    assert old.renewed_at is None


def test_a_course_version_asking_to_retrain_needs_a_refresher(db, users):
    learner = users["learner"]
    course, bank, old = _completed_with_quiz(learner)
    course.version, course.retrain_from_version = 2, 2
    db.session.flush()
    assert _trained(db, learner, course) == 0
    assert course_entries(learner, [course], "vi")[0].refresher.expired_on is None
    _pass(learner, bank)
    new = certificate_in_force(learner.id, course_id=course.id)
    assert new.id != old.id
    assert new.course_version == 2
    assert _trained(db, learner, course) == 1


def test_without_a_quiz_reading_every_module_again_renews(db, users):
    learner = users["learner"]
    course = make_course("reading", 2)
    for module in course.modules:
        mark_read(learner, module)
    old = certificate_in_force(learner.id, course_id=course.id)
    old.expires_on = YESTERDAY
    _age(db, learner, old, days=800)
    mark_read(learner, course.modules[0])
    assert certificate_in_force(learner.id, course_id=course.id).id == old.id  # one left
    mark_read(learner, course.modules[1])
    assert certificate_in_force(learner.id, course_id=course.id).id != old.id


def test_an_expired_programme_certificate_is_renewed_with_its_last_course(db, users):
    learner = users["learner"]
    course = make_course("only", 1)
    programme = make_programme("starter", [course])
    programme.validity_months = 12
    db.session.flush()
    mark_read(learner, course.modules[0])
    old_programme = certificate_in_force(learner.id, programme_id=programme.id)
    course_certificate = certificate_in_force(learner.id, course_id=course.id)
    assert old_programme is not None
    assert course_certificate.expires_on is not None
    course_certificate.expires_on = old_programme.expires_on = YESTERDAY
    _age(db, learner, course_certificate, days=400)
    mark_read(learner, course.modules[0])  # the refresher of a course without a quiz
    new_programme = certificate_in_force(learner.id, programme_id=programme.id)
    assert new_programme.id != old_programme.id
    assert new_programme.expires_on > date.today()
    assert old_programme.replaced_by_id == new_programme.id


def test_holders_are_invited_once_in_their_language(app, db, users, org, outbox):  # noqa: F811
    learner = users["learner"]
    course, _bank, first = _completed_with_quiz(learner, "alpha")
    _course2, _bank2, second = _completed_with_quiz(learner, "beta")
    english = make_user(org["office"], full_name="Võ Minh Khôi", email="khoi@example.gov.vn")
    english.locale = "en"
    _c3, _b3, third = _completed_with_quiz(english, "gamma")
    gone = make_user(org["office"])
    _c4, _b4, fourth = _completed_with_quiz(gone, "delta")
    gone.active = False
    for certificate in (first, second, third, fourth):
        certificate.expires_on = YESTERDAY
    db.session.flush()

    assert invite_refreshers(dry_run=True) == (2, 3)
    assert outbox_messages(app) == []
    with app.test_request_context():
        assert invite_refreshers() == (2, 3)
        assert invite_refreshers() == (0, 0)  # once
    assert outbox_messages(app) == []  # queued: the outbox sender sends them
    assert send_due().sent == 2
    messages = {m["To"]: m for m in outbox_messages(app)}
    assert set(messages) == {learner.email, english.email}
    vi = messages[learner.email].get_body(("plain",)).get_content()
    assert "Chào Nguyễn Văn Hùng" in vi or "Nguyễn Văn Hùng" in vi
    assert first.title in vi
    assert second.title in vi
    assert first.serial in vi
    assert f"/courses/{course.slug}" in vi
    en = messages[english.email]
    assert "refresher" in en["Subject"]
    assert "Võ Minh Khôi" in en.get_body(("plain",)).get_content()
    assert fourth.refresher_invited_at is None
    assert first.refresher_invited_at is not None


def test_the_command_invites_and_is_audit_logged(app, db, users, runner, outbox):  # noqa: F811
    from lms.audit.models import AuditEvent

    learner = users["learner"]
    _course, _bank, certificate = _completed_with_quiz(learner)
    certificate.expires_on = YESTERDAY
    db.session.commit()
    result = runner.invoke(args=["lms", "invite-refreshers", "--dry-run"])
    assert result.output.strip() == "1 person would be invited (1 certificate)."
    assert outbox_messages(app) == []
    result = runner.invoke(args=["lms", "invite-refreshers"])
    assert result.exit_code == 0, result.output
    assert "1 person invited to a refresher (1 certificate)." in result.output
    assert runner.invoke(args=["lms", "send-outbox"]).exit_code == 0
    assert [m["To"] for m in outbox_messages(app)] == [learner.email]
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "refresher_invitations_sent"))
    assert event.detail == {"people": 1, "certificates": 1}
