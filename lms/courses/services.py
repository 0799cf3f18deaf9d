"""Reading rules: who may read what, progress, and My training."""

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from types import SimpleNamespace

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Bundle, joinedload

from lms.auth.permissions import allowed
from lms.courses import rendering
from lms.courses.models import (
    Course,
    CourseCompletion,
    CourseText,
    Module,
    ModuleRead,
    ModuleText,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import utcnow
from lms.quizzes.services import complete_course
from lms.reports.records import note_started
from lms.text import alpha_key

PRIMARY_LANG = "vi"


# Access ----------------------------------------------------------------------------------

def unit_chain_ids(user):
    """Ids of the user's unit and of every unit above it, from the top down."""
    unit = user.unit
    return [] if unit is None else [int(part) for part in unit.path.strip("/").split("/")]


@cache
def _statements():
    """The statements of the reading pages, built once: every page view binds its values.

    Building a SELECT costs about as much as running it on SQLite, and a module page runs
    three of them, so the hot path never rebuilds its statements."""
    required = (select(ProgrammeCourse.course_id)
                .join(ProgrammeAssignment,
                      ProgrammeAssignment.programme_id == ProgrammeCourse.programme_id)
                .where(ProgrammeAssignment.unit_id.in_(bindparam("units", expanding=True))))
    readable = Course.published.is_(True) & (Course.open.is_(True) | Course.id.in_(required))
    langs = bindparam("langs", expanding=True)
    course = (select(Bundle("course", Course.id, Course.slug, Course.version,
                            Course.retrain_from_version, Course.published, Course.open,
                            Course.minutes, Course.digcomp, Course.quiz_slug),
                     Bundle("text", CourseText.lang, CourseText.title, CourseText.summary,
                            CourseText.body, CourseText.body_hash))
              .outerjoin(CourseText, (CourseText.course_id == Course.id)
                         & CourseText.lang.in_(langs))
              .where(Course.slug == bindparam("slug")))
    # Columns in bundles, not entities: these are read on every page and change nothing, and
    # ORM objects would cost as much as the query itself.
    outline = (select(Bundle("module", Module.id, Module.slug, Module.position, Module.minutes,
                             Module.draft, Module.version),
                      ModuleText.lang, ModuleText.title, ModuleText.body_hash,
                      Bundle("read", ModuleRead.id, ModuleRead.read_at,
                             ModuleRead.course_version))
               .outerjoin(ModuleText, (ModuleText.module_id == Module.id)
                          & ModuleText.lang.in_(langs))
               .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                          & (ModuleRead.user_id == bindparam("user")))
               .where(Module.course_id == bindparam("course"))
               .order_by(Module.position))
    return SimpleNamespace(
        course=course, readable_course=course.where(readable),
        outline=outline, published_outline=outline.where(Module.draft.is_(False)))


def readable(user):
    """SQL condition on Course: published, and open or required for the user's unit or above."""
    required = (select(ProgrammeCourse.course_id)
                .join(ProgrammeAssignment,
                      ProgrammeAssignment.programme_id == ProgrammeCourse.programme_id)
                .where(ProgrammeAssignment.unit_id.in_(unit_chain_ids(user))))
    return Course.published.is_(True) & (Course.open.is_(True) | Course.id.in_(required))


def _langs(lang):
    return sorted({lang, PRIMARY_LANG})


def find_course(user, slug, lang):
    """(course, its text in `lang` else in Vietnamese) when the user may read the course (or
    preview it), else (None, None). Both are read-only rows with the columns' names."""
    if allowed(user, "courses.preview"):
        statement, params = _statements().course, {}
    else:
        statement, params = _statements().readable_course, {"units": unit_chain_ids(user)}
    found, text = None, None
    for course, row in _rows(statement, slug=slug, langs=_langs(lang), **params):
        found = course
        if row.lang is not None and (text is None or row.lang == lang):
            text = row
    return found, text


def _rows(statement, **params):
    return db.session.execute(statement, params)


def may_record(user, course):
    """True when the user may record reading in this course (a preview is not reading)."""
    if course.published and course.open:
        return True
    return db.session.scalar(select(Course.id).where(Course.id == course.id,
                                                     readable(user))) is not None


# Texts and progress ----------------------------------------------------------------------

def _texts(model, key, ids, lang):
    """Each owner's text in `lang`, or in Vietnamese when that version does not exist."""
    found = {}
    if not ids:
        return found
    for row in db.session.scalars(select(model).where(key.in_(ids),
                                                      model.lang.in_({lang, PRIMARY_LANG}))):
        owner = getattr(row, key.key)
        if owner not in found or row.lang == lang:
            found[owner] = row
    return found


def course_texts(ids, lang):
    """{course id: CourseText} in `lang`, falling back to Vietnamese."""
    return _texts(CourseText, CourseText.course_id, ids, lang)


def module_texts(ids, lang):
    """{module id: ModuleText} in `lang`, falling back to Vietnamese."""
    return _texts(ModuleText, ModuleText.module_id, ids, lang)


def programme_title(programme, lang):
    """The programme's title in `lang`, falling back to Vietnamese."""
    titles = programme.titles or {}
    return titles.get(lang) or titles.get(PRIMARY_LANG) or programme.slug


def reading_progress(user_id, course_ids):
    """{course id: (modules read, modules)} over non-draft modules, for many courses at once."""
    if not course_ids:
        return {}
    rows = db.session.execute(
        select(Module.course_id, func.count(ModuleRead.id), func.count(Module.id))
        .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                   & (ModuleRead.user_id == user_id))
        .where(Module.course_id.in_(course_ids), Module.draft.is_(False))
        .group_by(Module.course_id))
    return {course_id: (read, total) for course_id, read, total in rows}


@dataclass
class CourseEntry:
    """A course as a learner sees it: its text in their language and their progress."""

    course: Course
    text: CourseText | None
    read: int = 0
    total: int = 0
    completed_at: object = None  # when every module was read and the quiz passed
    refresher: object = None  # Refresher: the certificate must be renewed

    @property
    def title(self):
        return self.text.title if self.text else self.course.slug

    @property
    def done(self):
        return self.total > 0 and self.read >= self.total


@dataclass(frozen=True)
class Refresher:
    """Why a course certificate needs a refresher: it expired on `expired_on`, or a later
    version of the course asks to retrain (`expired_on` None)."""

    expired_on: date | None


def refreshers_due(user_id, course_ids, today):
    """{course id: Refresher} of the user's course certificates due for a refresher."""
    from lms.certificates.models import Certificate
    from lms.certificates.services import refresher_due

    if not course_ids:
        return {}
    rows = db.session.execute(
        select(Certificate.course_id, Certificate.expires_on)
        .join(Course, Course.id == Certificate.course_id)
        .where(Certificate.user_id == user_id, Certificate.course_id.in_(course_ids),
               refresher_due(today))).all()
    return {course_id: Refresher(expires_on if expires_on and expires_on < today else None)
            for course_id, expires_on in rows}


def course_entries(user, courses, lang):
    """CourseEntry for each course, in five queries whatever their number."""
    ids = [course.id for course in courses]
    texts, progress = course_texts(ids, lang), reading_progress(user.id, ids)
    completed = dict(db.session.execute(
        select(CourseCompletion.course_id, CourseCompletion.completed_at).where(
            CourseCompletion.user_id == user.id, CourseCompletion.course_id.in_(ids))).all()) \
        if ids else {}
    due = refreshers_due(user.id, ids, utcnow().date())
    return [CourseEntry(c, texts.get(c.id), *progress.get(c.id, (0, 0)), completed.get(c.id),
                        due.get(c.id)) for c in courses]


def catalogue(user, lang):
    """The courses the user may read (admins: every course), by title, with progress."""
    query = select(Course)
    if not allowed(user, "courses.preview"):
        query = query.where(readable(user))
    entries = course_entries(user, db.session.scalars(query).all(), lang)
    return sorted(entries, key=lambda entry: alpha_key(entry.title))


def course_modules(course, drafts=False):
    """The modules of a course in order; drafts only for a preview."""
    query = select(Module).where(Module.course_id == course.id).order_by(Module.position)
    if not drafts:
        query = query.where(Module.draft.is_(False))
    return db.session.scalars(query).all()


@dataclass
class OutlineItem:
    """A module as its reader sees it in the course outline."""

    module: Row  # id, slug, position, minutes, draft, version
    title: str
    lang: str | None  # the language of its text (None: no text in either language)
    body_hash: str | None
    read: Row | None  # id, read_at, course_version of the user's read


def outline(course, user_id, lang, drafts=False):
    """The course's modules in order, each with its title in `lang` (else in Vietnamese) and
    the user's read of it: one query, the Markdown bodies left in the database."""
    statement = _statements().outline if drafts else _statements().published_outline
    items = {}
    for module, text_lang, title, body_hash, read in _rows(
            statement, course=course.id, user=user_id, langs=_langs(lang)):
        if module.id not in items or text_lang == lang:
            items[module.id] = OutlineItem(module, title or module.slug, text_lang, body_hash,
                                           read if read.id is not None else None)
    return list(items.values())


def module_body(item, course):
    """The rendered text of an outline item: from the render cache, or read and rendered once."""
    if item.lang is None:
        return ""
    html = (rendering.cached(item.body_hash, course_slug=course.slug, lang=item.lang)
            if item.body_hash else None)
    if html is None:
        body = db.session.scalar(select(ModuleText.body).where(
            ModuleText.module_id == item.module.id, ModuleText.lang == item.lang))
        html = rendering.render(body or "", item.body_hash, course_slug=course.slug,
                                lang=item.lang)
    return html


def completion_of(user_id, course_id):
    """The user's completion of the course (every module read, its quiz passed), or None."""
    return db.session.scalar(select(CourseCompletion).where(
        CourseCompletion.user_id == user_id, CourseCompletion.course_id == course_id))


def is_stale(read, course):
    """True when the read predates the course version that asks for a refresher."""
    return (read is not None and course.retrain_from_version is not None
            and read.course_version < course.retrain_from_version)


def _read_before_refresher(read, user_id, course):
    """True when the course certificate is due for a refresher and this read predates it
    (reading the module again is part of the refresher)."""
    from lms.certificates.services import due_certificate

    due = due_certificate(user_id, course.id, utcnow().date())
    return due is not None and read.read_at <= due.issued_at


def _read_of(user_id, module_id):
    return db.session.scalar(select(ModuleRead).where(ModuleRead.user_id == user_id,
                                                      ModuleRead.module_id == module_id))


def mark_read(user, module):
    """Record once that the user read the module (a stale read is renewed), and complete the
    course when this was the last module to read (quiz passed, or none); flushes."""
    course = module.course
    read = _read_of(user.id, module.id)
    if read is None:
        try:
            with db.session.begin_nested():
                read = ModuleRead(user_id=user.id, module_id=module.id, course_id=course.id,
                                  module_version=module.version, course_version=course.version)
                db.session.add(read)
            note_started(user.id, course.id, read.read_at)
        except IntegrityError:  # a concurrent click recorded it between our check and insert
            read = _read_of(user.id, module.id)
    elif is_stale(read, course) or _read_before_refresher(read, user.id, course):
        read.module_version, read.course_version = module.version, course.version
        read.read_at = utcnow()
    complete_course(user.id, course.id)
    return read


# My training -----------------------------------------------------------------------------

@dataclass
class ProgrammeStatus:
    """A programme assigned to the learner: its effective deadline and required courses."""

    programme: Programme
    deadline: date | None
    today: date
    courses: list = field(default_factory=list)

    @property
    def done(self):
        return all(entry.done for entry in self.courses)

    @property
    def days_left(self):
        return None if self.deadline is None else (self.deadline - self.today).days

    @property
    def overdue(self):
        return self.deadline is not None and self.deadline < self.today and not self.done


def my_training(user, lang, today):
    """The programmes assigned to the user's unit or above (the nearest unit's deadline wins)."""
    chain = unit_chain_ids(user)
    if not chain:
        return []
    nearest = {}
    for assignment in db.session.scalars(
            select(ProgrammeAssignment).options(joinedload(ProgrammeAssignment.programme))
            .where(ProgrammeAssignment.unit_id.in_(chain))):
        best = nearest.get(assignment.programme_id)
        if best is None or chain.index(assignment.unit_id) > chain.index(best.unit_id):
            nearest[assignment.programme_id] = assignment
    if not nearest:
        return []
    links = db.session.scalars(
        select(ProgrammeCourse).join(ProgrammeCourse.course)
        .options(joinedload(ProgrammeCourse.course))
        .where(ProgrammeCourse.programme_id.in_(nearest), Course.published.is_(True))
        .order_by(ProgrammeCourse.position, ProgrammeCourse.id)).all()
    courses = {link.course_id: link.course for link in links}
    entries = {e.course.id: e for e in course_entries(user, list(courses.values()), lang)}
    statuses = [ProgrammeStatus(a.programme, a.deadline or a.programme.deadline, today,
                                [entries[link.course_id] for link in links
                                 if link.programme_id == a.programme_id])
                for a in nearest.values()]
    return sorted(statuses, key=lambda s: (s.deadline or date.max,
                                           alpha_key(programme_title(s.programme, lang))))


def _first_unread(user_id, course_id):
    return db.session.scalar(
        select(Module).options(joinedload(Module.course))
        .outerjoin(ModuleRead, (ModuleRead.module_id == Module.id)
                   & (ModuleRead.user_id == user_id))
        .where(Module.course_id == course_id, Module.draft.is_(False), ModuleRead.id.is_(None))
        .order_by(Module.position).limit(1))


def continue_module(user, entries):
    """The first unread module of the course read last, else of the first unfinished entry."""
    recent = db.session.scalar(
        select(ModuleRead.course_id).join(Course, Course.id == ModuleRead.course_id)
        .where(ModuleRead.user_id == user.id, readable(user))
        .order_by(ModuleRead.read_at.desc(), ModuleRead.id.desc()).limit(1))
    candidates = [recent] + [entry.course.id for entry in entries if entry.read < entry.total]
    for course_id in dict.fromkeys(c for c in candidates if c is not None):
        module = _first_unread(user.id, course_id)
        if module is not None:
            return module
    return None
