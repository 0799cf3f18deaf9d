"""Issuing certificates: exactly once per completion, in the transaction that completes the
course, and once per programme when every required course is held. Flushes, never commits."""

import calendar
import functools
import secrets
from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from lms.certificates.models import Certificate, CertificateCounter
from lms.courses.models import Course, Programme, ProgrammeCourse
from lms.extensions import db
from lms.org.models import utcnow
from lms.sql import upsert
from lms.text import nfc

CODE_BYTES = 24  # 192 random bits: never derived from ids or time


def new_code():
    """A verification code: random, URL-safe, unrelated to anything else; never starting with
    "-" or "_", so that a command line does not take it for an option."""
    while True:
        code = secrets.token_urlsafe(CODE_BYTES)
        if code[0].isalnum():
            return code


def next_serial(year):
    """The next serial of the year, "YYYY-NNNNNN": one counter row per year, bumped in the
    caller's transaction (a row lock on PostgreSQL; SQLite has one writer at a time)."""
    table = CertificateCounter.__table__
    db.session.execute(upsert(table).values(year=year, last=0).on_conflict_do_nothing(
        index_elements=[table.c.year]))
    last = db.session.execute(update(table).where(table.c.year == year)
                              .values(last=table.c.last + 1).returning(table.c.last)).scalar()
    return f"{year}-{last:06d}"


def in_force():
    """SQL: the certificate is the current one (neither revoked nor renewed; maybe expired)."""
    return and_(Certificate.revoked_at.is_(None), Certificate.renewed_at.is_(None))


def counts_as_trained(today):
    """SQL: the certificate makes its holder trained in its course today: in force, not
    expired, and not from a course version a later version asks to retrain (the caller joins
    Course on Certificate.course_id)."""
    return and_(in_force(),
                Certificate.expires_on.is_(None) | (Certificate.expires_on >= today),
                Course.retrain_from_version.is_(None)
                | (Certificate.course_version >= Course.retrain_from_version))


def refresher_due(today):
    """SQL: the certificate in force has expired, or its course asks for a refresher since
    its version (the caller outer-joins Course on Certificate.course_id)."""
    return and_(in_force(), or_(
        Certificate.expires_on < today,
        and_(Course.retrain_from_version.is_not(None),
             Certificate.course_version < Course.retrain_from_version)))


def certificate_in_force(user_id, *, course_id=None, programme_id=None):
    """The user's certificate in force for the course (or programme), or None."""
    query = select(Certificate).where(Certificate.user_id == user_id, in_force())
    query = query.where(Certificate.course_id == course_id) if course_id is not None else \
        query.where(Certificate.programme_id == programme_id)
    return db.session.scalar(query)


def due_certificate(user_id, course_id, today):
    """The user's course certificate that a refresher must renew, or None."""
    return db.session.scalar(
        select(Certificate).join(Course, Course.id == Certificate.course_id)
        .where(Certificate.user_id == user_id, Certificate.course_id == course_id,
               refresher_due(today)))


def count_in_force(user_id):
    """How many certificates the user holds (in force)."""
    return db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.user_id == user_id, in_force()))


def supersede(old, new, now):
    """`new` renews `old` after a refresher (old stays on record, verifiable)."""
    old.renewed_at = now
    old.replaced_by_id = new.id if new is not None else None


@dataclass(frozen=True)
class Prepared:
    """What a course certificate needs that can be read before a transaction starts writing
    (on SQLite the write lock is then held only for the writes): plain values, valid across
    a commit."""

    user: SimpleNamespace  # id, full_name
    course: SimpleNamespace  # id, slug, version
    title: str
    expires_on: object  # date | None
    issuing: object  # lms.certificates.layouts.Issuing


def prepare_course_certificate(user_id, course_id, today):
    """Read what issuing the course certificate of `user_id` will need."""
    from lms.auth.models import User
    from lms.certificates.layouts import issuing_for
    from lms.courses.services import course_texts

    user, course = db.session.get(User, user_id), db.session.get(Course, course_id)
    text = course_texts([course_id], "vi").get(course_id)
    return Prepared(SimpleNamespace(id=user.id, full_name=user.full_name),
                    SimpleNamespace(id=course.id, slug=course.slug, version=course.version),
                    text.title if text else course.slug, course_validity(course_id, today),
                    issuing_for(user))


def issue(user, *, kind, title, score=None, course=None, programme=None, completion=None,
          expires_on=None, issuer=None, signer=None, layout=None, lang="vi", now=None,
          issuing=None, fresh=False):
    """Issue and sign one certificate, or return the one already in force (never two: the
    partial unique indexes settle a race, the loser gets the winner's). Issuer, signer and
    layout not given come from certificates/issuing.yaml (or `issuing`, read beforehand).
    `fresh`: the caller just completed the course, so none can be in force (not looked up;
    the index still settles it)."""
    from lms.certificates.layouts import issuing_for
    from lms.certificates.signing import CertificateClaims, sign

    if not fresh:
        existing = certificate_in_force(
            user.id, course_id=course.id if course is not None else None,
            programme_id=programme.id if programme is not None else None)
        if existing is not None:
            return existing
    now = now or utcnow()
    settings = issuing or issuing_for(user, programme.slug if programme is not None else None)
    claims = CertificateClaims(
        serial=next_serial(now.year), code=new_code(), name=nfc(user.full_name),
        title=nfc(title), kind=kind, issued_on=now.date().isoformat(), score=score,
        issuer=nfc(issuer or settings.issuer), signer=nfc(signer or settings.signer),
        expires_on=expires_on.isoformat() if expires_on else None, lang=lang)
    key_id, signature = sign(claims)
    certificate = Certificate(
        serial=claims.serial, code=claims.code, kind=kind, user_id=user.id,
        course_id=course.id if course is not None else None,
        programme_id=programme.id if programme is not None else None,
        completion_id=completion.id if completion is not None else None,
        course_version=course.version if course is not None else None, issued_at=now,
        expires_on=expires_on, name=claims.name, title=claims.title, score=score,
        issuer=claims.issuer, signer=claims.signer, layout=layout or settings.layout,
        lang=lang, key_id=key_id,
        signature=signature)
    try:
        with db.session.begin_nested():
            db.session.add(certificate)
    except IntegrityError:  # issued by a concurrent request meanwhile: theirs stands
        return certificate_in_force(
            user.id, course_id=course.id if course is not None else None,
            programme_id=programme.id if programme is not None else None)
    if course is not None:
        _recount(user.id)
    return certificate


def _recount(user_id):
    """What the person holds in each programme, recounted in this transaction."""
    from lms.reports.records import refresh

    db.session.flush()
    refresh([user_id])


def revoke(certificate, reason, actor=None, now=None):
    """Revoke a certificate in force (it stays on record, and in the revocation list)."""
    if certificate.revoked_at is None:
        certificate.revoked_at = now or utcnow()
        certificate.revoked_reason = reason
        certificate.revoked_by_id = actor.id if actor is not None else None
        if certificate.course_id is not None:
            _recount(certificate.user_id)
    return certificate


def revoke_for_completion(completion, reason, actor=None):
    """Revoke the certificates resting on a completion that is withdrawn, and unlink them."""
    for certificate in db.session.scalars(select(Certificate).where(
            Certificate.completion_id == completion.id)):
        revoke(certificate, reason, actor)
        certificate.completion_id = None
    db.session.flush()


# Validity and programme certificates ------------------------------------------------------

def add_months(day, months):
    """The same day `months` later (the month's last day when it is shorter)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year,
                                                                                    month)[1]))


def course_validity(course_id, issued_on):
    """When a course certificate expires: the shortest validity of the programmes that
    require the course (None: no programme limits it)."""
    months = db.session.scalar(
        select(func.min(Programme.validity_months))
        .join(ProgrammeCourse, ProgrammeCourse.programme_id == Programme.id)
        .where(ProgrammeCourse.course_id == course_id, Programme.validity_months.is_not(None)))
    return add_months(issued_on, months) if months else None


@functools.cache
def _ready_programmes():
    """SQL: the programmes requiring a course whose every required course the person holds
    today, from their kept records (lms.reports.records, recounted when the course
    certificate was issued)."""
    from lms.reports.models import ProgrammeProgress

    listed = aliased(ProgrammeCourse)
    required = (select(func.count(listed.course_id))
                .where(listed.programme_id == ProgrammeProgress.programme_id)
                .correlate(ProgrammeProgress).scalar_subquery())
    return (select(ProgrammeProgress.programme_id)
            .join(ProgrammeCourse, (ProgrammeCourse.programme_id == ProgrammeProgress.programme_id)
                  & (ProgrammeCourse.course_id == bindparam("course")))
            .where(ProgrammeProgress.user_id == bindparam("user"),
                   ProgrammeProgress.courses_held >= required,
                   ProgrammeProgress.valid_until.is_(None)
                   | (ProgrammeProgress.valid_until >= bindparam("today"))))


def issue_programme_certificates(user, course_id, now=None):
    """After a course certificate: a programme certificate for every programme requiring the
    course whose required courses the user now all holds (certificates in force, not
    expired), once each. Returns the certificates issued."""
    now = now or utcnow()
    today = now.date()
    issued = []
    ready = db.session.execute(_ready_programmes(), {
        "user": user.id, "course": course_id, "today": today}).scalars().all()
    if ready:
        from lms.auth.models import User

        user = db.session.get(User, user.id)  # the unit too: issuing rules may depend on it
    for programme in db.session.scalars(select(Programme).where(Programme.id.in_(ready))) \
            if ready else ():
        current = certificate_in_force(user.id, programme_id=programme.id)
        if current is not None and (current.expires_on is None or current.expires_on >= today):
            continue
        if current is not None:  # expired: every course is held again, so it is renewed
            current.renewed_at = now
            db.session.flush()  # out of the partial unique index before the new one goes in
        title = (programme.titles or {}).get("vi") or programme.slug
        expires = add_months(today, programme.validity_months) \
            if programme.validity_months else None
        new = issue(user, kind="programme", title=title, programme=programme,
                    expires_on=expires, now=now)
        if current is not None:
            supersede(current, new, now)
        issued.append(new)
    return issued
