"""Sync the checked content folder into the catalogue tables (flushes; the caller commits)."""

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.audit.services import record_event
from lms.courses.content_schema import ContentError
from lms.courses.models import (
    Course,
    CourseText,
    Module,
    ModuleText,
    Programme,
    ProgrammeCourse,
)
from lms.extensions import db
from lms.org.models import utcnow


@dataclass
class SyncPlan:
    """What a sync changes; computed by reading only, so a dry run has nothing to undo."""

    catalogue: object
    errors: list = field(default_factory=list)
    courses: dict = field(default_factory=lambda: {"added": [], "updated": [], "unpublished": []})
    modules: dict = field(default_factory=lambda: {"added": [], "updated": [], "removed": []})
    programmes: dict = field(default_factory=lambda: {"added": [], "updated": []})
    retraining: dict = field(default_factory=dict)  # course slug -> retrain_from_version
    kept_programmes: list = field(default_factory=list)  # in the database, not on disk

    @property
    def changed(self):
        return any(any(group.values()) for group in (self.courses, self.modules,
                                                      self.programmes))

    def summary(self):
        """The changes as plain data, for the audit log."""
        return {"courses": self.courses, "modules": self.modules,
                "programmes": self.programmes, "retraining": self.retraining}

    def lines(self):
        """One line per change, for people."""
        signs = {"added": "+", "updated": "~", "unpublished": "-", "removed": "-"}
        out = []
        new = set(self.courses["added"])
        for kind, group in (("course", self.courses), ("module", self.modules),
                            ("programme", self.programmes)):
            for change, slugs in group.items():
                note = {"unpublished": " (unpublished: no longer on disk)",
                        "removed": " (no longer on disk: kept as a draft)"}.get(change, "")
                # The modules of a new course are not listed one by one.
                out += [f"{signs[change]} {kind} {slug}{note}" for slug in slugs
                        if kind != "module" or slug.split("/")[0] not in new]
        out += [f"! course {slug}: completions before version {v} need retraining"
                for slug, v in self.retraining.items()]
        out += [f"! programme {slug} is no longer on disk: kept unchanged"
                for slug in self.kept_programmes]
        return out

    def counts(self):
        """'2 courses added, 1 updated; ...' or 'no change'."""
        if not self.changed:
            return "no change"
        parts = []
        for kind, group in (("courses", self.courses), ("modules", self.modules),
                            ("programmes", self.programmes)):
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
    return plan


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
