"""Refresher invitations: a holder whose course certificate expired, or whose course asks for
retraining since the version they completed, is emailed once, in their language, with the
courses to take again (`flask lms invite-refreshers`; the scheduler's `refreshers` job runs
it daily). The invitations go through the outbox (lms.notify.outbox), queued in the same
transaction that marks the certificates invited."""

from itertools import groupby

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import refresher_due
from lms.courses.models import Course
from lms.extensions import db
from lms.notify.outbox import Message, enqueue_all
from lms.org.models import utcnow


def pending_refreshers(today):
    """(certificate, holder, course slug) due for a refresher whose holder was not invited
    yet: active staff with an email, by holder."""
    return db.session.execute(
        select(Certificate, User, Course.slug)
        .join(User, User.id == Certificate.user_id)
        .join(Course, Course.id == Certificate.course_id)
        .where(Certificate.kind == "course", refresher_due(today),
               Certificate.refresher_invited_at.is_(None), User.active.is_(True),
               User.email.is_not(None))
        .order_by(User.id, Certificate.issued_at)).all()


def invite_refreshers(now=None, *, dry_run=False):
    """Queue one email to each holder about their certificates due for a refresher (a
    person invited the same day by another run is not queued twice); mark the certificates
    invited and record one audit event, in the transaction that queues them (commits).
    Returns (people, certificates)."""
    now = now or utcnow()
    rows = pending_refreshers(now.date())
    people = [(user, [(certificate, slug) for certificate, _user, slug in group])
              for user, group in groupby(rows, key=lambda row: row[1])]
    if dry_run or not people:
        return len(people), len(rows)
    period = now.date().isoformat()
    messages = [Message("refresher", period, user, *_message(user, due, now.date()),
                        lang=_language(user)) for user, due in people]
    ids = [certificate.id for _user, due in people for certificate, _slug in due]

    def mark_invited():
        db.session.execute(update(Certificate).where(Certificate.id.in_(ids))
                           .values(refresher_invited_at=now)
                           .execution_options(synchronize_session=False))
        record_event("refresher_invitations_sent", people=len(people), certificates=len(rows))

    enqueue_all(messages, also=mark_invited)
    return len(people), len(rows)


def _language(user):
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _message(user, due, today):
    base = current_app.config["BASE_URL"].rstrip("/")
    courses = [{"title": certificate.title, "serial": certificate.serial,
                "expired_on": certificate.expires_on
                if certificate.expires_on and certificate.expires_on < today else None,
                "link": base + url_for("courses.course", slug=slug)} for certificate, slug in due]
    with force_locale(_language(user)):
        subject = _("CivicSkills: a refresher is due for %(num)d course(s)", num=len(courses))
        text = render_template("certificates/email_refresher.txt", user=user, courses=courses)
        html = render_template("certificates/email_refresher.html", user=user, courses=courses)
    return subject, text, html
