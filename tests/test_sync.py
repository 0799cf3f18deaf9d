"""`flask lms sync-content`: all or nothing, idempotent, versions, unpublishing, retraining."""

import re
import shutil

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.courses.content import load_content
from lms.courses.models import Course, CourseText, Module, ModuleText, Programme
from lms.courses.sync import apply_sync, plan_sync
from tests.test_content import BROKEN, FIXTURES, ROOT


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _course(db, slug):
    db.session.expire_all()
    return db.session.scalar(select(Course).where(Course.slug == slug))


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_first_sync_loads_courses_modules_texts_and_programmes(db, content, sync):
    result = sync()
    assert "+ course first-steps" in result.output
    assert "+ programme starter" in result.output
    assert "courses: 2 added" in result.output
    course = _course(db, "first-steps")
    assert (course.version, course.published, course.open, course.minutes, course.quiz_slug,
            course.digcomp, course.retrain_from_version) == \
        (1, True, True, 20, "first-steps", ["1.1", "5.4"], None)
    assert {t.lang: t.title for t in course.texts} == {"vi": "Những bước đầu tiên",
                                                      "en": "First steps"}
    assert [(m.slug, m.position, m.minutes, m.version, m.draft) for m in course.modules] == \
        [("01-welcome", 1, 8, 1, False), ("02-practice", 2, 12, 1, False)]
    welcome = {t.lang: t for t in course.modules[0].texts}
    assert welcome["vi"].title == "Chào mừng"
    assert welcome["en"].body.startswith("## Welcome\n")
    assert len(welcome["en"].body_hash) == 64
    programme = db.session.scalar(select(Programme).where(Programme.slug == "starter"))
    assert programme.titles == {"vi": "Khởi đầu", "en": "Starter"}
    assert (programme.target_ratio, str(programme.deadline), programme.validity_months) == \
        (0.9, "2027-06-30", None)
    assert [pc.course.slug for pc in programme.courses] == ["first-steps", "second-course"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "content_synced"))
    assert event.detail["courses"]["added"] == ["first-steps", "second-course"]


def test_second_sync_changes_nothing(db, content, sync):
    sync()
    synced_at = _course(db, "first-steps").synced_at
    events = _count(db, AuditEvent)
    result = sync()
    assert "no change" in result.output
    assert _course(db, "first-steps").synced_at == synced_at
    assert _count(db, AuditEvent) == events


def test_dry_run_reports_and_writes_nothing(db, content, sync):
    result = sync("--dry-run")
    assert "Dry run, nothing written: courses: 2 added" in result.output
    assert _count(db, Course) == 0
    assert _count(db, AuditEvent) == 0


def test_a_changed_module_gets_a_new_version(db, content, sync):
    sync()
    before = _course(db, "first-steps").content_hash
    _edit(content / "courses/first-steps/en/02-practice.md", "write to", "e-mail")
    result = sync()
    assert "~ course first-steps" in result.output
    assert "~ module first-steps/02-practice" in result.output
    course = _course(db, "first-steps")
    assert course.content_hash != before
    assert course.version == 1  # the course version is the author's, from course.md
    assert [(m.slug, m.version) for m in course.modules] == [("01-welcome", 1),
                                                             ("02-practice", 2)]
    assert "e-mail" in next(t.body for t in course.modules[1].texts if t.lang == "en")
    assert "no change" in sync().output


@pytest.mark.parametrize(("flag", "expected"), [(True, 2), (False, None)])
def test_a_new_version_asks_for_retraining_only_when_the_course_says_so(
        db, content, sync, flag, expected):
    sync()
    for lang in ("vi", "en"):
        _edit(content / f"courses/first-steps/{lang}/course.md", "version: 1",
              f"version: 2\nrequires_retraining: {str(flag).lower()}")
    sync()
    course = _course(db, "first-steps")
    assert (course.version, course.retrain_from_version) == (2, expected)


def test_a_version_going_down_is_refused(db, content, sync):
    for lang in ("vi", "en"):
        _edit(content / f"courses/first-steps/{lang}/course.md", "version: 1", "version: 3")
    sync()
    for lang in ("vi", "en"):
        _edit(content / f"courses/first-steps/{lang}/course.md", "version: 3", "version: 2")
    result = sync(code=1)
    assert "courses/first-steps/vi/course.md:5: version 2 is lower than the synced version 3" \
        in result.stderr
    assert _course(db, "first-steps").version == 3


def test_a_course_removed_from_disk_is_unpublished_and_comes_back(db, content, sync):
    sync()
    kept = content.parent / "kept"
    shutil.move(content / "courses/second-course", kept)
    _edit(content / "programmes/starter.yaml", "  - second-course\n", "")
    result = sync()
    assert "- course second-course (unpublished: no longer on disk)" in result.output
    assert "~ programme starter" in result.output
    course = _course(db, "second-course")
    assert course.published is False
    assert len(course.modules) == 1  # never deleted: reading records point at it
    programme = db.session.scalar(select(Programme).where(Programme.slug == "starter"))
    assert [pc.course.slug for pc in programme.courses] == ["first-steps"]
    shutil.move(kept, content / "courses/second-course")
    result = sync()
    assert "~ course second-course" in result.output
    assert _course(db, "second-course").published is True


def test_a_module_removed_from_disk_is_kept_as_a_draft(db, content, sync):
    sync()
    for lang in ("vi", "en"):
        (content / f"courses/first-steps/{lang}/02-practice.md").unlink()
        _edit(content / f"courses/first-steps/{lang}/01-welcome.md",
              "(02-practice.md#", "(#")
        _edit(content / f"courses/first-steps/{lang}/course.md", "(02-practice.md)",
              "(01-welcome.md)")
    result = sync()
    assert "- module first-steps/02-practice (no longer on disk: kept as a draft)" \
        in result.output
    course = _course(db, "first-steps")
    assert [(m.slug, m.draft) for m in course.modules] == [("01-welcome", False),
                                                           ("02-practice", True)]


def test_a_removed_language_removes_its_texts(db, content, sync):
    sync()
    shutil.rmtree(content / "courses/first-steps/en")
    sync()
    course = _course(db, "first-steps")
    assert [t.lang for t in course.texts] == ["vi"]
    assert all([t.lang for t in m.texts] == ["vi"] for m in course.modules)


def test_broken_content_is_reported_in_full_and_changes_nothing(db, app, content, sync,
                                                                 monkeypatch):
    sync()
    before = [_count(db, model) for model in (Course, CourseText, Module, ModuleText,
                                               Programme, AuditEvent)]
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(FIXTURES / "broken"))
    result = sync(code=1)
    assert result.stderr.splitlines() == [
        *BROKEN, f"{len(BROKEN)} error(s) in {FIXTURES / 'broken'}: nothing was synced."]
    assert [_count(db, model) for model in (Course, CourseText, Module, ModuleText,
                                             Programme, AuditEvent)] == before
    assert _course(db, "second-course").published is True


def test_one_broken_file_stops_the_whole_sync(db, content, sync):
    _edit(content / "courses/second-course/vi/01-only.md", "minutes: 10", "minutes: ten")
    result = sync(code=1)
    assert result.stderr.splitlines()[0] == \
        "courses/second-course/vi/01-only.md:3: minutes must be a whole number from 1 to 240"
    assert _count(db, Course) == 0


def test_the_bundled_content_syncs(db, app, sync, monkeypatch):
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(ROOT))
    result = sync()
    assert "courses: 8 added" in result.output
    assert _count(db, Course, Course.published) == 8
    assert _count(db, Module, Module.draft.is_(False)) == 40
    assert _count(db, ModuleText) == 80
    programme = db.session.scalar(select(Programme).where(
        Programme.slug == "basic-digital-skills"))
    assert len(programme.courses) == 8
    assert programme.titles["vi"] == "Kỹ năng số cơ bản"
    assert "no change" in sync().output


def test_the_service_plans_before_it_writes(db):
    plan = plan_sync(load_content(FIXTURES / "small"))
    assert plan.courses["added"] == ["first-steps", "second-course"]
    assert _count(db, Course) == 0
    apply_sync(plan)
    assert _count(db, Course) == 2
    assert not plan_sync(load_content(FIXTURES / "small")).changed



def test_the_readme_example_syncs(db, app, tmp_path, monkeypatch, sync):
    """The minimal example in the README is a valid content tree, as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("A minimal course"):readme.index("The English version is")]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    paths = blocks[0][1].split()
    assert len(paths) == len(blocks) - 1 == 3
    for path, (_lang, text) in zip(paths, blocks[1:], strict=True):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    (tmp_path / "quizzes").mkdir()
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(tmp_path))
    sync()
    course = _course(db, "phone-basics")
    assert course.published
    assert [module.slug for module in course.modules] == ["01-lock-screen"]
    programme = db.session.scalar(select(Programme).where(Programme.slug == "starter"))
    assert [link.course.slug for link in programme.courses] == ["phone-basics"]


def test_identical_files_are_not_checked_again_unless_forced(db, content, sync):
    sync()
    result = sync()
    assert "the files are those synced at" in result.output
    # What only a full check would notice: a course unpublished in the database by hand.
    _course(db, "first-steps").published = False
    db.session.flush()
    assert "the files are those synced at" in sync().output
    assert not _course(db, "first-steps").published
    result = sync("--force")
    assert "~ course first-steps" in result.output
    assert _course(db, "first-steps").published


def test_any_changed_byte_means_a_full_check(db, content, sync):
    sync()
    module = next((content / "courses").rglob("01-*.md"))
    module.write_text(module.read_text(encoding="utf-8") + "\nMột dòng mới.\n",
                      encoding="utf-8")
    result = sync()
    assert "the files are those synced at" not in result.output
    assert "~ module" in result.output
    _edit(module, "\nMột dòng mới.\n", "\n<script>x</script>\n")
    result = sync(code=1)
    assert "raw HTML <script>" in result.output
