"""The weekly digest: every active unit head gets, once per ISO week, where their unit stands
in its programme (progress against the target, the change since last week, the forecast,
the sub-units furthest behind, who is still untrained and in which courses) with a link to
the dashboard, in their language. Digests are rendered here and queued in the outbox
(lms.notify.outbox), whose sender sends them and drops those whose recipient no longer heads
the unit.

The figures are today's (lms.reports.progress), whatever week the digest is for: the week
is the period that makes a digest once. A head whose unit has no programme gets a short
note saying so, rather than silence that looks like a lost email."""

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from urllib.parse import urlsplit

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import contains_eager

from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import counts_as_trained
from lms.config import LANGUAGES
from lms.courses.models import Course
from lms.courses.services import programme_title
from lms.extensions import db
from lms.i18n import app_zone
from lms.notify.outbox import Message, enqueue_all, queued
from lms.org.models import Unit
from lms.org.services import unit_by_code
from lms.reports.forecast import Forecast
from lms.reports.models import ProgrammeProgress
from lms.reports.progress import Figures, progress, trained_condition
from lms.reports.services import (
    choose_programme,
    course_titles,
    outlook,
    sub_units,
    trend,
    week_of,
)
from lms.text import whole_percent
from lms.web import base_url_context

WEEK = re.compile(r"(\d{4})-W(\d{1,2})", re.IGNORECASE)
MAX_BEHIND = 5  # sub-units listed in a digest, furthest from the target first
BATCH = 200  # digests written per transaction


class UnknownUnit(ValueError):
    """No unit has the code asked for."""


# Weeks, languages, links -------------------------------------------------------------------

def week_period(day):
    """The ISO week of `day`, as "2026-W47" (the outbox period of weekly emails)."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def parse_week(text):
    """The Monday of an ISO week written "2026-W47"; ValueError for anything else."""
    match = WEEK.fullmatch((text or "").strip())
    if match is None:
        raise ValueError(f"expected an ISO week such as 2026-W47, not {text!r}")
    year, week = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{text!r}: the year {year} has no week {week}") from None


def local_today():
    """Today in the app's time zone (LMS_TIMEZONE)."""
    return datetime.now(app_zone()).date()


def language_of(user):
    """The language a person reads their emails in: their choice, else the default."""
    return user.locale if user.locale in LANGUAGES \
        else current_app.config["BABEL_DEFAULT_LOCALE"]


def absolute_url(endpoint, **values):
    """An absolute link on LMS_BASE_URL (inside lms.web.base_url_context(), whose script
    root already carries the base URL's path)."""
    base = urlsplit(current_app.config["BASE_URL"])
    return f"{base.scheme}://{base.netloc}{url_for(endpoint, **values)}"


def still_needed(figures, target):
    """How many more people must be trained for these figures to meet the target."""
    return max(0, math.ceil(Fraction(str(target)) * figures.active) - figures.trained)


# What a digest says ------------------------------------------------------------------------

@dataclass
class Digest:
    """A unit's figures for its digest (the same for every head of the unit)."""

    unit: Unit
    week: date  # the Monday of the digest's week
    link: str  # the unit's dashboard
    programme: object = None  # None: no programme is assigned
    others: list = field(default_factory=list)  # the unit's other programmes
    figures: Figures = Figures()
    target: float = 0.8
    deadline: date | None = None
    last_week: float | None = None  # the ratio recorded for the week before, if any
    outlook: Forecast | None = None
    behind: list = field(default_factory=list)  # [(UnitRow, people still needed)]
    sub_units: int = 0  # sub-units the programme covers
    lacking: list = field(default_factory=list)  # [(course id, untrained people without it)]
    _titles: dict = field(default_factory=dict)

    @property
    def needed(self):
        return still_needed(self.figures, self.target)

    @property
    def change(self):
        """The change of the ratio since last week, in percentage points (None: unknown)."""
        if self.last_week is None:
            return None
        return round((self.figures.ratio - self.last_week) * 100, 1) + 0.0  # never -0.0

    def titles(self, lang):
        """{course id: title} of the required courses in `lang`."""
        if lang not in self._titles:
            self._titles[lang] = course_titles([c for c, _n in self.lacking], lang)
        return self._titles[lang]


def build_digest(unit, week, today, shared=None):
    """The digest of a unit: its first programme as its dashboard shows it. `shared`: what
    the digests of a run share (filled here): each programme's lacking_by_unit and the
    report of each tree."""
    shared = {} if shared is None else shared
    programme, programmes = choose_programme(unit)
    link = absolute_url("reports.unit", code=unit.code,
                        programme=programme.slug if len(programmes) > 1 else None)
    digest = Digest(unit, week, link)
    if programme is None:
        return digest
    report = _report(programme, unit, today, shared)
    points = trend(programme, unit, today)
    children = sub_units(report)
    behind = [(row, needed) for row in children
              if (needed := still_needed(row.total, report.target)) > 0]
    digest.programme = programme
    digest.others = [p for p in programmes if p.id != programme.id]
    digest.figures, digest.target = report.figures, report.target
    digest.deadline = report.root.deadline
    digest.last_week = dict(points).get(week - timedelta(days=7))
    digest.outlook = outlook(report, points, digest.deadline)
    digest.behind, digest.sub_units = behind[:MAX_BEHIND], len(children)
    key = ("lacking", programme.id)
    if key not in shared:
        shared[key] = lacking_by_unit(programme.id, report.required, today)
    digest.lacking = lacking_courses(report, shared[key])
    return digest


def _report(programme, unit, today, shared):
    """The unit's figures: cut from the report of its whole tree, counted once per
    programme and tree for a run (in `shared`), rather than counting each unit again."""
    if shared is None:
        return progress(programme, unit, today)
    top_id = int(unit.path.strip("/").split("/")[0])
    key = ("report", programme.id, top_id)
    if key not in shared:
        shared[key] = progress(programme, db.session.get(Unit, top_id), today)
    return shared[key].subtree(unit.id)


def lacking_courses(report, lacking=None):
    """[(course id, how many of the untrained lack it)] for the required courses, in the
    programme's order, over the report's covered units: sums of `lacking_by_unit` (computed
    here when not given: a run shares one for all its digests)."""
    required = report.required
    if not required:
        return []
    if lacking is None:
        lacking = lacking_by_unit(report.programme.id, required, report.today)
    untrained, held = 0, [0] * len(required)
    for unit_id, row in report.rows.items():
        if row.covered and unit_id in lacking:
            own_untrained, own_held = lacking[unit_id]
            untrained += own_untrained
            held = [a + b for a, b in zip(held, own_held, strict=True)]
    return [(course_id, untrained - count)
            for course_id, count in zip(required, held, strict=True)]


def lacking_by_unit(programme_id, required, today):
    """{unit id: (untrained, [how many of them hold each required course])} of each unit's
    own active staff not trained in the programme: one grouped query over everyone (each
    person's certificates that count grouped once), whatever the number of units."""
    per_course = [func.max(case((Certificate.course_id == course_id, 1), else_=0))
                  .label(f"c{n}") for n, course_id in enumerate(required)]
    held = (select(Certificate.user_id.label("user_id"), *per_course)
            .join(Course, Course.id == Certificate.course_id)
            .where(Certificate.course_id.in_(required), counts_as_trained(today))
            .group_by(Certificate.user_id).subquery("held"))
    trained = trained_condition(len(required), today)
    columns = [func.coalesce(func.sum(held.c[f"c{n}"]), 0) for n in range(len(required))]
    rows = db.session.execute(
        select(User.unit_id, func.count(User.id), *columns)
        .outerjoin(ProgrammeProgress, (ProgrammeProgress.user_id == User.id)
                   & (ProgrammeProgress.programme_id == programme_id))
        .outerjoin(held, held.c.user_id == User.id)
        .where(User.active.is_(True), User.unit_id.is_not(None),
               ~func.coalesce(trained, False))
        .group_by(User.unit_id))
    return {unit_id: (untrained, [int(n) for n in counts])
            for unit_id, untrained, *counts in rows}


def render_digest(head, digest, lang):
    """(subject, text, html) of a head's digest in `lang`."""
    iso = digest.week.isocalendar()
    with force_locale(lang):
        if digest.programme is None:
            subject = _("Weekly report, week %(week)s/%(year)s: %(unit)s",
                        week=iso.week, year=iso.year, unit=digest.unit.name)
        else:
            subject = _("Weekly report, week %(week)s/%(year)s: %(unit)s, %(ratio)s trained "
                        "(target %(target)s)", week=iso.week, year=iso.year,
                        unit=digest.unit.name, ratio=f"{whole_percent(digest.figures.ratio)}%",
                        target=f"{whole_percent(digest.target)}%")
        context = {
            "subject": subject, "lang": lang, "user": head, "digest": digest,
            "week_end": digest.week + timedelta(days=6),
            "title": programme_title(digest.programme, lang) if digest.programme else "",
            "others": [programme_title(p, lang) for p in digest.others],
            "titles": digest.titles(lang) if digest.programme else {},
        }
        text = render_template("notify/email/digest.txt", **context)
        html = render_template("notify/email/digest.html", **context)
    return subject, text, html


# Queueing ----------------------------------------------------------------------------------

@dataclass
class DigestRun:
    """What a run of queue_digests did (or, dry, would do)."""

    period: str
    heads: int = 0  # active heads with a unit in scope
    queued: int = 0
    skipped_already: int = 0  # already queued for the week
    without_email: int = 0
    would_queue: list = field(default_factory=list)  # [(email, subject)] of a dry run


def _write(pending, run):
    """Queue the rendered digests; those queued meanwhile by another run are skipped."""
    if pending:
        written = enqueue_all(pending)
        run.queued += written
        run.skipped_already += len(pending) - written
        pending.clear()


def digest_recipients(unit_code=None):
    """The active heads who have a unit (in the subtree of `unit_code` when given), by unit
    then name. UnknownUnit (a ValueError) for an unknown unit code."""
    query = (select(User).join(Unit, Unit.id == User.unit_id)
             .options(contains_eager(User.unit))
             .where(User.active.is_(True), User.role == "head")
             .order_by(Unit.path, User.sort_key, User.id))
    if unit_code:
        root = unit_by_code(unit_code)
        if root is None:
            raise UnknownUnit(f"unknown unit code {unit_code!r}")
        query = query.where(Unit.path.startswith(root.path, autoescape=True))
    return db.session.scalars(query).all()


def queue_digests(week_monday, unit_code=None, dry_run=False, today=None):
    """Queue the digest of the week of `week_monday` for every head (of the subtree of
    `unit_code`) who has none queued for it yet, with today's figures (`today`: the app's
    today); a dry run renders them and queues nothing. Audit-logged when something was
    queued; flushes, never commits. Returns a DigestRun."""
    week = week_of(week_monday)
    period = week_period(week)
    today = today or local_today()
    heads = digest_recipients(unit_code)
    run = DigestRun(period, heads=len(heads))
    done = queued("digest", period)
    digests = {}  # unit id -> Digest: the heads of one unit share its figures
    shared = {}  # by the digests of the run: each tree's report, what units' staff lack
    pending = []
    with base_url_context():
        for head in heads:
            if head.id in done:
                run.skipped_already += 1
                continue
            if not head.email:
                run.without_email += 1
                continue
            digest = digests.get(head.unit_id)
            if digest is None:
                digest = digests[head.unit_id] = build_digest(head.unit, week, today, shared)
            lang = language_of(head)
            subject, text, html = render_digest(head, digest, lang)
            if dry_run:
                run.would_queue.append((head.email, subject))
                continue
            pending.append(Message("digest", period, head, subject, text, html,
                                   unit=head.unit, lang=lang))
            if len(pending) == BATCH:
                _write(pending, run)
        _write(pending, run)
    if run.queued:
        record_event("emails_queued", object_type="email", kind="digest", period=period,
                     unit=unit_code, queued=run.queued)
    return run
