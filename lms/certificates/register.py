"""The certificate register of a subtree (HR; heads read-only): search, filters, CSV export,
revocation and re-issue. Flushes, never commits."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, false, literal, or_, select

from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates import services
from lms.certificates.models import Certificate
from lms.courses.assignments import _in_scope
from lms.courses.models import Course, CourseCompletion, Programme
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import Page, count_rows, subtree_ids
from lms.text import fold, nfc

STATUSES = ("valid", "revoked", "expired")
REISSUE_REASON = "re-issued"
CSV_HEADER = ("serial", "name", "employee_id", "unit", "title", "issued_on", "expires_on",
              "status", "revoked_on", "revoked_reason")
# A spreadsheet runs a cell that starts with one of these as a formula.


class RegisterError(ValueError):
    """A revocation or re-issue that the certificate's state forbids; .code says why."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def status_column(today):
    """SQL: 'revoked', 'expired' or 'valid' on `today`."""
    return case((Certificate.revoked_at.is_not(None), literal("revoked")),
                (Certificate.expires_on < today, literal("expired")),
                else_=literal("valid"))


def _register_query(user, today, *, query=None, course_id=None, unit_id=None, status=None,
                    issued_from=None, issued_to=None):
    """select(Certificate, User, Unit, status) over the people the user oversees, filtered,
    newest first."""
    statement = (select(Certificate, User, Unit, status_column(today).label("status"))
                 .join(User, User.id == Certificate.user_id)
                 .outerjoin(Unit, Unit.id == User.unit_id)
                 .where(_in_scope(user, User.unit_id)))
    words = fold(query).split()[:5]
    if words:
        # Every word in the person's current name, employee ID or email (diacritics and case
        # ignored), or the query as the start of a serial.
        statement = statement.where(or_(
            and_(*(User.search_text.contains(word, autoescape=True) for word in words)),
            Certificate.serial.startswith(query.strip(), autoescape=True)))
    if course_id is not None:
        statement = statement.where(Certificate.course_id == course_id)
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        statement = statement.where(
            User.unit_id.in_(subtree_ids(unit)) if unit is not None else false())
    if status == "revoked":
        statement = statement.where(Certificate.revoked_at.is_not(None))
    elif status == "expired":
        statement = statement.where(Certificate.revoked_at.is_(None),
                                    Certificate.expires_on < today)
    elif status == "valid":
        statement = statement.where(
            Certificate.revoked_at.is_(None),
            Certificate.expires_on.is_(None) | (Certificate.expires_on >= today))
    # issued_at is stored in UTC; the range is of UTC dates.
    if issued_from is not None:
        statement = statement.where(
            Certificate.issued_at >= datetime.combine(issued_from, time.min))
    if issued_to is not None and issued_to < date.max:  # (the last day: no bound at all)
        statement = statement.where(
            Certificate.issued_at < datetime.combine(issued_to + timedelta(days=1), time.min))
    return statement.order_by(Certificate.issued_at.desc(), Certificate.id.desc())


def register_page(user, query=None, course_id=None, unit_id=None, status=None,
                  issued_from=None, issued_to=None, page=1, per_page=50, today=None):
    """One page of (certificate, person, unit, status) rows the user may see, newest first."""
    statement = _register_query(
        user, today or date.today(), query=query, course_id=course_id,
        unit_id=unit_id, status=status, issued_from=issued_from, issued_to=issued_to)
    total = count_rows(statement)
    page = max(1, min(page, -(-total // per_page) or 1))
    rows = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(rows, total, page, per_page)


def register_courses(user):
    """(course id, title as issued) of the courses with certificates the user may see."""
    return db.session.execute(
        select(Certificate.course_id, Certificate.title).distinct()
        .join(User, User.id == Certificate.user_id)
        .where(Certificate.course_id.is_not(None), _in_scope(user, User.unit_id))
        .order_by(Certificate.title)).all()


def register_rows(user, today=None, **filters):
    """The register's CSV rows (CSV_HEADER's columns), read in batches."""
    statement = _register_query(user, today or date.today(), **filters)
    rows = db.session.execute(statement.execution_options(yield_per=500))
    for certificate, person, unit, status in rows:
        yield (certificate.serial, certificate.name, person.employee_id,
               unit.name if unit is not None else "", certificate.title,
               certificate.issued_at.date().isoformat(),
               certificate.expires_on.isoformat() if certificate.expires_on else "", status,
               certificate.revoked_at.date().isoformat() if certificate.revoked_at else "",
               certificate.revoked_reason or "")


def revoke_certificate(actor, certificate, reason, ip=None):
    """Revoke a certificate in force for a stated reason; audit-logged."""
    reason = nfc(reason)
    if not reason:
        raise RegisterError("reason_required")
    if certificate.revoked_at is not None:
        raise RegisterError("already_revoked")
    services.revoke(certificate, reason, actor)
    record_event("certificate_revoked", actor=actor, obj=certificate, ip=ip,
                 serial=certificate.serial, reason=reason)
    db.session.flush()
    return certificate


def reissue_certificate(actor, certificate, ip=None):
    """A new certificate (new serial and code) in place of this one, in the person's current
    name, saying what the old one said otherwise; the old one is revoked and points to it.
    Audit-logged."""
    if certificate.replaced_by_id is not None:
        raise RegisterError("already_replaced")
    in_force = services.certificate_in_force(
        certificate.user_id, course_id=certificate.course_id,
        programme_id=certificate.programme_id)
    if in_force is not None and in_force.id != certificate.id:
        raise RegisterError("other_in_force")  # issuing would hand back that one
    if certificate.revoked_at is None:
        services.revoke(certificate, REISSUE_REASON, actor)
        db.session.flush()  # out of the partial unique index before the new one goes in
    course = db.session.get(Course, certificate.course_id) if certificate.course_id else None
    new = services.issue(
        db.session.get(User, certificate.user_id), kind=certificate.kind,
        title=certificate.title, score=certificate.score, course=course,
        programme=db.session.get(Programme, certificate.programme_id)
        if certificate.programme_id else None,
        completion=db.session.get(CourseCompletion, certificate.completion_id)
        if certificate.completion_id else None,
        expires_on=certificate.expires_on, issuer=certificate.issuer,
        signer=certificate.signer, layout=certificate.layout, lang=certificate.lang)
    if new is None or new.id == certificate.id:
        raise RegisterError("other_in_force")
    # The course version completed, not the course's current one (it is not signed).
    new.course_version = certificate.course_version
    certificate.replaced_by_id = new.id
    record_event("certificate_reissued", actor=actor, obj=certificate, ip=ip,
                 serial=certificate.serial, new_serial=new.serial, new_id=new.id)
    db.session.flush()
    return new
