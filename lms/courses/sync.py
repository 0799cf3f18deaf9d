"""Sync the checked content folder into the catalogue tables and question banks (flushes; the
caller commits)."""

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.audit.services import record_event
from lms.courses.content import load_content
from lms.courses.content_schema import ContentError
from lms.courses.models import (
    ContentState,
    Course,
    CourseText,
    Module,
    ModuleText,
    Programme,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import utcnow
from lms.quizzes.models import QuizBank, QuizQuestion


@dataclass
class SyncPlan:
    """What a sync changes; computed by reading only, so a dry run has nothing to undo."""

    catalogue: object
    errors: list = field(default_factory=list)
    courses: dict = field(default_factory=lambda: {"added": [], "updated": [], "unpublished": []})
    modules: dict = field(default_factory=lambda: {"added": [], "updated": [], "removed": []})
    programmes: dict = field(default_factory=lambda: {"added": [], "updated": []})
    banks: dict = field(default_factory=lambda: {"added": [], "updated": [], "unchanged": []})
    # "<bank>/<question id>"; the questions of a new bank are not listed one by one
    questions: dict = field(default_factory=lambda: {"added": [], "updated": [], "removed": []})
    retraining: dict = field(default_factory=dict)  # course slug -> retrain_from_version
    kept_programmes: list = field(default_factory=list)  # in the database, not on disk
    kept_banks: list = field(default_factory=list)  # in the database, not on disk

    @property
    def changed(self):
        return any(any(group.values()) for group in (self.courses, self.modules,
                                                      self.programmes, self.questions)) \
            or bool(self.banks["added"] or self.banks["updated"])

    def summary(self):
        """The changes as plain data, for the audit log."""
        return {"courses": self.courses, "modules": self.modules,
                "programmes": self.programmes, "banks": self.banks,
                "questions": self.questions, "retraining": self.retraining}

    def lines(self):
        """One line per change, for people."""
        signs = {"added": "+", "updated": "~", "unpublished": "-", "removed": "-"}
        out = []
        new = set(self.courses["added"])
        notes = {"unpublished": " (unpublished: no longer on disk)",
                 "removed": " (no longer on disk: kept as a draft)"}
        for kind, group in (("course", self.courses), ("module", self.modules),
                            ("programme", self.programmes), ("bank", self.banks),
                            ("question", self.questions)):
            for change, slugs in group.items():
                if change == "unchanged":
                    continue
                note = " (no longer on disk: kept inactive)" if kind == "question" \
                    and change == "removed" else notes.get(change, "")
                # The modules of a new course are not listed one by one.
                out += [f"{signs[change]} {kind} {slug}{note}" for slug in slugs
                        if kind != "module" or slug.split("/")[0] not in new]
        out += [f"! course {slug}: completions before version {v} need retraining"
                for slug, v in self.retraining.items()]
        out += [f"! programme {slug} is no longer on disk: kept unchanged"
                for slug in self.kept_programmes]
        out += [f"! bank {slug} is no longer on disk: kept unchanged"
                for slug in self.kept_banks]
        return out

    def counts(self):
        """'2 courses added, 1 updated; ...' or 'no change'."""
        if not self.changed:
            return "no change"
        parts = []
        for kind, group in (("courses", self.courses), ("modules", self.modules),
                            ("programmes", self.programmes), ("banks", self.banks),
                            ("questions", self.questions)):
            if any(group.values()):
                parts.append(f"{kind}: " + ", ".join(f"{len(v)} {k}" for k, v in group.items()))
        return "; ".join(parts)


def plan_sync(catalogue):
    """Compare the checked content with the catalogue tables; read only."""
    plan = SyncPlan(catalogue)
    existing = {c.slug: c for c in db.session.scalars(select(Course))}
    for slug, source in catalogue.courses.items():
        course = existing.get(slug)
        if course is None:
            plan.courses["added"].append(slug)
            plan.modules["added"] += [f"{slug}/{m.slug}" for m in source.modules]
            continue
        if course.content_hash == source.content_hash and course.published == source.published:
            continue
        if source.version < course.version:
            plan.errors.append(ContentError(
                *source.version_at, f"version {source.version} is lower than the synced "
                f"version {course.version}: versions only go up"))
        plan.courses["updated"].append(slug)
        if source.requires_retraining and source.version > course.version:
            plan.retraining[slug] = source.version
        _plan_modules(plan, course, source)
    for slug, course in existing.items():
        if slug not in catalogue.courses and course.published:
            plan.courses["unpublished"].append(slug)
    known = {p.slug: p.content_hash for p in db.session.scalars(select(Programme))}
    for slug, source in catalogue.programmes.items():
        if slug not in known:
            plan.programmes["added"].append(slug)
        elif known[slug] != source.content_hash:
            plan.programmes["updated"].append(slug)
    plan.kept_programmes = sorted(set(known) - set(catalogue.programmes))
    _plan_banks(plan, catalogue.banks)
    plan.errors.sort()
    return plan


def _plan_banks(plan, sources):
    """Banks and questions to write; versions only go up, and a changed question needs one."""
    existing = {b.slug: b for b in db.session.scalars(select(QuizBank))}
    for slug, source in sources.items():
        bank = existing.get(slug)
        if bank is None:
            plan.banks["added"].append(slug)
            continue
        if bank.content_hash == source.content_hash:
            plan.banks["unchanged"].append(slug)
            continue
        plan.banks["updated"].append(slug)
        if source.version < bank.version:
            plan.errors.append(ContentError(
                *source.version_at, f"version {source.version} is lower than the synced "
                f"version {bank.version}: versions only go up"))
        rows = {q.key: q for q in bank.questions}  # loaded for the changed banks only
        for question in source.questions:
            row = rows.pop(question.key, None)
            if row is None or not row.active:
                plan.questions["added"].append(f"{slug}/{question.key}")
            if row is None or row.content_hash == question.content_hash:
                continue
            if row.active:
                plan.questions["updated"].append(f"{slug}/{question.key}")
            if source.version == bank.version:
                # Attempts keep the answer key they started with; a new version says so.
                plan.errors.append(ContentError(
                    source.version_at[0], question.line, f"question {question.key!r} has "
                    f"changed since version {bank.version} was synced: raise version"))
        plan.questions["removed"] += [f"{slug}/{key}" for key, row in rows.items()
                                      if row.active]
    plan.kept_banks = sorted(set(existing) - set(sources))


def _plan_modules(plan, course, source):
    on_disk = {m.slug: m for m in source.modules}
    for module in course.modules:
        disk = on_disk.pop(module.slug, None)
        if disk is None:
            if not module.draft:
                plan.modules["removed"].append(f"{course.slug}/{module.slug}")
        elif disk.content_hash != module.content_hash:
            plan.modules["updated"].append(f"{course.slug}/{module.slug}")
    plan.modules["added"] += [f"{course.slug}/{slug}" for slug in on_disk]


def apply_sync(plan):
    """Write the planned changes and record them in the audit log; flush, never commit."""
    if not plan.changed:
        return
    source_of, now = plan.catalogue.courses, utcnow()
    writes = plan.courses["added"] + plan.courses["updated"] + plan.courses["unpublished"]
    courses = {c.slug: c for c in db.session.scalars(
        select(Course).where(Course.slug.in_(writes)).options(
            selectinload(Course.texts), selectinload(Course.modules).selectinload(Module.texts)))}
    for slug in plan.courses["added"]:
        courses[slug] = Course(slug=slug)
        db.session.add(courses[slug])
    for slug in plan.courses["added"] + plan.courses["updated"]:
        _write_course(courses[slug], source_of[slug], plan.retraining.get(slug))
        courses[slug].synced_at = now
    for slug in plan.courses["unpublished"]:
        courses[slug].published = False
        courses[slug].synced_at = now
    db.session.flush()
    for slug in plan.programmes["added"] + plan.programmes["updated"]:
        _write_programme(slug, plan.catalogue.programmes[slug])
    _write_banks(plan, now)
    db.session.flush()
    if plan.retraining or plan.programmes["added"] or plan.programmes["updated"]:
        from lms.reports.records import rebuild

        rebuild()  # who counts as trained changed with the programmes or the retraining
    record_event("content_synced", object_type="content", **plan.summary())
    db.session.flush()


def _write_course(course, source, retrain_from):
    course.version = source.version
    course.published = source.published
    course.open = source.open
    course.minutes = source.minutes
    course.digcomp = list(source.digcomp)
    course.quiz_slug = source.quiz
    course.content_hash = source.content_hash
    if retrain_from is not None:
        course.retrain_from_version = retrain_from
    _write_texts(course.texts, source.texts, CourseText)
    modules = {m.slug: m for m in course.modules}
    for item in source.modules:
        module = modules.pop(item.slug, None)
        if module is None:
            module = Module(slug=item.slug, version=1, content_hash=item.content_hash)
            course.modules.append(module)
        elif module.content_hash != item.content_hash:
            module.version += 1
            module.content_hash = item.content_hash
        module.position, module.minutes, module.draft = item.position, item.minutes, item.draft
        module.digcomp = list(item.digcomp)
        _write_texts(module.texts, item.texts, ModuleText)
    for module in modules.values():
        # Reading records point at it: hide it rather than delete it.
        module.draft = True


def _write_texts(rows, texts, model):
    """Make the text rows of a course or module match the languages on disk."""
    by_lang = {row.lang: row for row in rows}
    for lang, text in texts.items():
        row = by_lang.pop(lang, None)
        if row is None:
            row = model(lang=lang)
            rows.append(row)
        row.title, row.body, row.body_hash = text.title, text.body, text.body_hash
        if model is CourseText:
            row.summary = text.summary
    for row in by_lang.values():
        rows.remove(row)


def _write_programme(slug, source):
    programme = db.session.scalar(select(Programme).where(Programme.slug == slug))
    if programme is None:
        programme = Programme(slug=slug)
        db.session.add(programme)
    programme.titles = dict(source.titles)
    programme.summaries = dict(source.summaries)
    programme.target_ratio = source.target_ratio
    programme.deadline = source.deadline
    programme.validity_months = source.validity_months
    programme.content_hash = source.content_hash
    ids = dict(db.session.execute(select(Course.slug, Course.id)
                                  .where(Course.slug.in_(source.courses))).all())
    # Update rows in place: replacing them would insert before deleting and trip the
    # (programme, course) unique constraint.
    rows = {row.course_id: row for row in programme.courses}
    for position, course_slug in enumerate(source.courses):
        row = rows.pop(ids[course_slug], None)
        if row is None:
            programme.courses.append(ProgrammeCourse(course_id=ids[course_slug],
                                                     position=position))
        else:
            row.position = position
    for row in rows.values():
        programme.courses.remove(row)


def _write_banks(plan, now):
    writes = plan.banks["added"] + plan.banks["updated"]
    if not writes:
        return
    sources = [plan.catalogue.banks[slug] for slug in writes]
    course_ids = dict(db.session.execute(select(Course.slug, Course.id).where(
        Course.slug.in_({s.course for s in sources}))).all())
    banks = {b.slug: b for b in db.session.scalars(
        select(QuizBank).where(QuizBank.slug.in_(writes))
        .options(selectinload(QuizBank.questions)))}
    for source in sources:
        bank = banks.get(source.slug)
        if bank is None:
            bank = QuizBank(slug=source.slug)
            db.session.add(bank)
        bank.course_id = course_ids[source.course]
        bank.version = source.version
        bank.settings = dict(source.settings)
        bank.content_hash = source.content_hash
        bank.synced_at = now
        rows = {q.key: q for q in bank.questions}
        for position, item in enumerate(source.questions, start=1):
            row = rows.pop(item.key, None)
            if row is None:
                row = QuizQuestion(key=item.key)
                bank.questions.append(row)
            row.position, row.kind, row.active = position, item.kind, True
            if row.content_hash != item.content_hash:
                row.data, row.content_hash = item.data, item.content_hash
        for row in rows.values():
            # Attempts and statistics point at it: hide it rather than delete it.
            row.active = False


# The whole sync, as `lms sync-content` runs it -------------------------------------------

CHECKING_CODE = ("lms.courses.content", "lms.courses.content_schema", "lms.courses.sync",
                 "lms.quizzes.bank", "lms.certificates.layouts")
CONTENT_FOLDERS = ("courses", "quizzes", "programmes", "certificates")


@dataclass
class SyncResult:
    """What `sync_folder` did: errors (nothing written), a plan, or nothing to do at all."""

    plan: SyncPlan | None
    errors: list
    identical_to: object = None  # the datetime of the sync whose files these are, if any


def content_fingerprint(folder):
    """sha256 over the code that checks content and every file of the content folders (name
    and bytes): equal fingerprints mean the same check of the same files."""
    digest = hashlib.sha256()
    for name in CHECKING_CODE:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    root = Path(folder)
    for top in CONTENT_FOLDERS:
        base = root / top
        if base.is_dir():
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def sync_folder(folder, *, dry_run=False, force=False):
    """Check the content folder and sync it (flushes; the caller commits).

    When the files and the checking code are byte for byte those of the last successful
    sync, there is nothing to check or change and nothing is read beyond the files' bytes;
    `force` checks and plans everything again all the same."""
    fingerprint = content_fingerprint(folder)
    state = db.session.scalar(select(ContentState).order_by(ContentState.id).limit(1))
    if not force and state is not None and state.fingerprint == fingerprint:
        return SyncResult(None, [], identical_to=state.synced_at)
    catalogue = load_content(folder)
    plan = None if catalogue.errors else plan_sync(catalogue)
    errors = catalogue.errors or plan.errors
    if errors or dry_run:
        return SyncResult(plan, errors)
    apply_sync(plan)
    if state is None:
        state = ContentState(fingerprint=fingerprint)
        db.session.add(state)
    state.fingerprint, state.synced_at = fingerprint, utcnow()
    db.session.flush()
    return SyncResult(plan, [])
