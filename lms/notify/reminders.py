"""Reminders to learners, queued in the outbox (lms.notify.outbox) in each person's language.

- Training reminders: once per ISO week, everyone active who is subject to a programme (its
  nearest assignment at or above their unit), not trained in it, and whose deadline is at
  most REMINDER_DAYS away or already past, is told which courses are still to complete.
- Expiry reminders: once per certificate, the holder of a course certificate that counts
  today and expires within EXPIRY_DAYS is told until when it is valid and how to renew it.
  A refresher can only be taken once the certificate has expired (lms.certificates), so the
  email says from which day. Programme certificates are left out: they are renewed by
  themselves once every course certificate is held again.

Who is reminded is chosen by SQL; the people chosen are then read a batch at a time."""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import counts_as_trained
from lms.courses.models import Course, Programme, ProgrammeAssignment
from lms.courses.services import programme_title
from lms.extensions import db
from lms.notify.digests import absolute_url, language_of, week_period
from lms.notify.models import OutboxMessage
from lms.notify.outbox import Message, enqueue_all, queued
from lms.org.models import Unit
from lms.reports.models import ProgrammeProgress
from lms.reports.progress import required_courses, trained_condition
from lms.reports.services import course_titles, held_courses
from lms.web import base_url_context

REMINDER_DAYS = 14  # a deadline at most this far away (or past) brings a weekly reminder
EXPIRY_DAYS = 30  # a certificate expiring at most this far away brings one reminder
BATCH = 500  # people read and rendered at a time


# Training reminders ------------------------------------------------------------------------

@dataclass
class DueProgramme:
    """A programme a learner must complete soon, as their reminder lists it."""

    title: str
    deadline: date
    today: date
    courses: list  # [(title, link)] of the required courses still to complete

    @property
    def days_left(self):
        return (self.deadline - self.today).days


def due_learners(programme, required, today):
    """[(user id, deadline)] of the active staff with an email who are subject to the
    programme (the deadline of the nearest assignment at or above their unit, else the
    programme's), not trained in it today, and due within REMINDER_DAYS or overdue."""
    here, at, deeper = aliased(Unit), aliased(Unit), aliased(Unit)
    other = aliased(ProgrammeAssignment)
    nearer = (select(other.id).join(deeper, deeper.id == other.unit_id)
              .where(other.programme_id == programme.id, deeper.depth > at.depth,
                     here.path.startswith(deeper.path))
              .exists())
    deadline = func.coalesce(ProgrammeAssignment.deadline, programme.deadline)
    trained = trained_condition(len(required), today)
    return db.session.execute(
        select(User.id, deadline)
        .select_from(ProgrammeAssignment)
        .join(at, at.id == ProgrammeAssignment.unit_id)
        .join(here, here.path.startswith(at.path))
        .join(User, User.unit_id == here.id)
        .outerjoin(ProgrammeProgress, (ProgrammeProgress.user_id == User.id)
                   & (ProgrammeProgress.programme_id == programme.id))
        .where(ProgrammeAssignment.programme_id == programme.id, ~nearer,
               User.active.is_(True), User.email.is_not(None),
               deadline <= today + timedelta(days=REMINDER_DAYS),
               ~func.coalesce(trained, False))
        .order_by(User.id)).all()


def queue_reminders(today, dry_run=False):
    """Queue this week's reminder for every learner due or overdue who has none queued for
    the week yet (a dry run counts them and queues nothing), a batch at a time, each in a
    short transaction of its own (outbox.enqueue_all: commits). Audit-logged when something
    was queued. Returns the number of reminders (that would be) queued."""
    period = week_period(today)
    done = queued("reminder", period)
    due, required = {}, {}
    for programme in db.session.scalars(
            select(Programme).where(Programme.id.in_(select(ProgrammeAssignment.programme_id)))
            .order_by(Programme.id)):
        courses = required_courses(programme.id)
        if not courses:
            continue
        required[programme.id] = courses
        for user_id, deadline in due_learners(programme, courses, today):
            if user_id not in done:
                due.setdefault(user_id, []).append((programme, deadline))
    if not due:
        return 0
    every_course = sorted({c for courses in required.values() for c in courses})
    count = 0
    titles = {}  # lang -> {course id: title}
    with base_url_context():
        links = {course_id: absolute_url("courses.course", slug=slug)
                 for course_id, slug in db.session.execute(
                     select(Course.id, Course.slug).where(Course.id.in_(every_course)))}
        my_training = absolute_url("courses.my_training")
        people = sorted(due)
        for start in range(0, len(people), BATCH):
            batch, messages = people[start:start + BATCH], []
            held = held_courses(batch, every_course, today)
            for user in db.session.scalars(select(User).where(User.id.in_(batch))
                                           .order_by(User.id)):
                lang = language_of(user)
                if lang not in titles:
                    titles[lang] = course_titles(every_course, lang)
                items = [DueProgramme(programme_title(programme, lang), deadline, today,
                                      [(titles[lang][c], links[c]) for c in required[programme.id]
                                       if c not in held.get(user.id, ())])
                         for programme, deadline in sorted(due[user.id], key=lambda d: d[1])]
                items = [item for item in items if item.courses]
                if not items:
                    continue
                subject, text, html = render_reminder(user, items, lang, my_training)
                messages.append(Message("reminder", period, user, subject, text, html,
                                        lang=lang))
            count += len(messages) if dry_run else enqueue_all(messages)
    if count and not dry_run:
        record_event("emails_queued", object_type="email", kind="reminder", period=period,
                     queued=count)
    return count


def render_reminder(user, items, lang, my_training):
    """(subject, text, html) of a learner's reminder in `lang`."""
    with force_locale(lang):
        if any(item.days_left < 0 for item in items):
            subject = _("Reminder: your training is overdue")
        else:
            subject = _("Reminder: complete your training by %(date)s",
                        date=format_date(items[0].deadline, "long"))
        context = {"subject": subject, "lang": lang, "user": user, "items": items,
                   "my_training": my_training}
        text = render_template("notify/email/reminder.txt", **context)
        html = render_template("notify/email/reminder.html", **context)
    return subject, text, html


# Expiry reminders --------------------------------------------------------------------------

def expiring_certificates(today):
    """(certificate, holder, course) of the course certificates that count today and expire
    within EXPIRY_DAYS, held by active staff with an email, not reminded yet."""
    reminded = select(OutboxMessage.id).where(OutboxMessage.kind == "expiry",
                                              OutboxMessage.period == Certificate.serial)
    return db.session.execute(
        select(Certificate, User, Course)
        .join(User, User.id == Certificate.user_id)
        .join(Course, Course.id == Certificate.course_id)
        .where(Certificate.kind == "course", counts_as_trained(today),
               Certificate.expires_on <= today + timedelta(days=EXPIRY_DAYS),
               User.active.is_(True), User.email.is_not(None), ~reminded.exists())
        .order_by(Certificate.expires_on, Certificate.id)).all()


def queue_expiry_reminders(today, dry_run=False):
    """Queue one reminder per certificate about to expire (see expiring_certificates); a dry
    run counts them. Written in one short transaction of its own (outbox.enqueue_all:
    commits); audit-logged when something was queued. Returns the number of reminders (that
    would be) queued."""
    rows = expiring_certificates(today)
    if not rows:
        return 0
    course_ids = sorted({course.id for _certificate, _user, course in rows})
    titles = {}  # lang -> {course id: title}
    messages = []
    with base_url_context():
        for certificate, user, course in rows:
            lang = language_of(user)
            if lang not in titles:
                titles[lang] = course_titles(course_ids, lang)
            subject, text, html = render_expiry(
                user, certificate, titles[lang].get(course.id, certificate.title),
                bool(course.quiz_slug), absolute_url("courses.course", slug=course.slug), lang)
            messages.append(Message("expiry", certificate.serial, user, subject, text, html,
                                    lang=lang))
    count = len(messages) if dry_run else enqueue_all(messages)
    if count and not dry_run:
        record_event("emails_queued", object_type="email", kind="expiry",
                     period=today.isoformat(), queued=count)
    return count


def render_expiry(user, certificate, title, has_quiz, link, lang):
    """(subject, text, html) of a certificate's expiry reminder in `lang`."""
    with force_locale(lang):
        subject = _("Your certificate for %(course)s is valid until %(date)s", course=title,
                    date=format_date(certificate.expires_on, "long"))
        context = {"subject": subject, "lang": lang, "user": user, "course": title,
                   "certificate": certificate, "has_quiz": has_quiz, "link": link,
                   "renew_from": certificate.expires_on + timedelta(days=1)}
        text = render_template("notify/email/expiry.txt", **context)
        html = render_template("notify/email/expiry.html", **context)
    return subject, text, html
