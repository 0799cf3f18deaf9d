"""Factories for catalogue rows: courses, modules, programmes, assignments, reads."""

import hashlib

from lms.courses.models import (
    Course,
    CourseText,
    Module,
    ModuleRead,
    ModuleText,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.extensions import db


def _body(markdown):
    """A text's body and its hash, as the content sync stores them."""
    return {"body": markdown, "body_hash": hashlib.sha256(markdown.encode()).hexdigest()}


def make_course(slug, modules=3, *, title=None, title_en=None, published=True, open=True,
                version=1, retrain_from_version=None, minutes=45, digcomp=("1.1", "5.1"),
                drafts=()):
    """A course with Vietnamese texts (and English ones when title_en is given) and
    `modules` modules 01.., those numbered in `drafts` being drafts."""
    course = Course(slug=slug, version=version, retrain_from_version=retrain_from_version,
                    published=published, open=open, minutes=minutes, digcomp=list(digcomp))
    course.texts.append(CourseText(lang="vi", title=title or f"Khoá học {slug}",
                                   summary=f"Tóm tắt {slug}", **_body(f"Giới thiệu **{slug}**.")))
    if title_en:
        course.texts.append(CourseText(lang="en", title=title_en, summary=f"Summary {slug}",
                                       **_body(f"Introduction to **{slug}**.")))
    db.session.add(course)
    for n in range(1, modules + 1):
        make_module(course, n, draft=n in drafts, english=bool(title_en))
    db.session.flush()
    return course


def make_module(course, position, *, draft=False, english=False, minutes=10, version=1):
    """Module NN-module-NN of `course`, with a Vietnamese (and maybe English) text."""
    module = Module(slug=f"{position:02d}-module-{position}", position=position, draft=draft,
                    minutes=minutes, version=version)
    module.texts.append(ModuleText(lang="vi", title=f"Bài {position}",
                                   **_body(f"Nội dung bài {position}.")))
    if english:
        module.texts.append(ModuleText(lang="en", title=f"Lesson {position}",
                                       **_body(f"Body of lesson {position}.")))
    course.modules.append(module)
    db.session.flush()
    return module


def make_programme(slug, courses, *, deadline=None, title_en=None):
    """A programme requiring `courses`, in that order."""
    titles = {"vi": f"Chương trình {slug}"}
    if title_en:
        titles["en"] = title_en
    programme = Programme(slug=slug, titles=titles, summaries={"vi": "Tóm tắt"},
                          deadline=deadline)
    for position, course in enumerate(courses):
        programme.courses.append(ProgrammeCourse(course=course, position=position))
    db.session.add(programme)
    db.session.flush()
    return programme


def assign(programme, unit, deadline=None, by=None):
    """Assign `programme` to `unit` (and so its subtree)."""
    assignment = ProgrammeAssignment(programme=programme, unit_id=unit.id, deadline=deadline,
                                     assigned_by_id=by.id if by else None)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def read(user, *modules, course_version=None, read_at=None):
    """Record that `user` read these modules (at the course's version unless told)."""
    for module in modules:
        row = ModuleRead(user_id=user.id, module_id=module.id, course_id=module.course_id,
                         module_version=module.version,
                         course_version=course_version or module.course.version)
        if read_at is not None:
            row.read_at = read_at
        db.session.add(row)
    db.session.flush()
