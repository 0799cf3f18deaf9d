"""Question banks: every rule of quizzes/<slug>.yaml reported at its line, and the sync of
banks and questions (all or nothing, idempotent, versions, questions kept inactive)."""

import shutil

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.courses.content import load_content
from lms.courses.models import Course, Module, ModuleText
from lms.quizzes.models import QuizBank, QuizQuestion
from tests.test_content import ROOT

BANK = "quizzes/first-steps.yaml"
# The last question of tests/content/small/quizzes/first-steps.yaml (lines 84-92).
LAST_QUESTION = """  - id: quiz-needed
    type: true_false
    text:
      vi: "Cần đạt bài thi để hoàn thành khóa học."
      en: "You must pass the quiz to complete the course."
    answer: true
    feedback:
      vi: "Đúng."
      en: "True."
"""


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _errors(folder):
    return [str(error) for error in load_content(folder).errors]


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _bank(db, slug="first-steps"):
    db.session.expire_all()
    return db.session.scalar(select(QuizBank).where(QuizBank.slug == slug))


def _questions(db):
    return {q.key: q for q in _bank(db).questions}


def test_the_small_bank_is_read_with_defaults_and_hashes(content):
    catalogue = load_content(content)
    assert catalogue.errors == []
    bank = catalogue.banks["first-steps"]
    assert (bank.course, bank.version, bank.version_at) == ("first-steps", 1, (BANK, 2))
    assert bank.settings == {
        "draw": 2, "pass_mark": 0.5, "time_limit_minutes": 10, "max_attempts": 3,
        "wait_minutes": 5, "shuffle_questions": False, "shuffle_choices": True,
        "show_answers": "after_pass"}
    assert [(q.key, q.kind, q.line) for q in bank.questions] == [
        ("where-to-start", "single", 12), ("good-habits", "multiple", 31),
        ("practice-is-optional", "true_false", 47), ("reading-order", "ordering", 53),
        ("help-address", "short", 69), ("quiz-needed", "true_false", 84)]
    single, multiple, true_false, ordering, short, _ = (q.data for q in bank.questions)
    assert single["choices"][1] == {"id": "b", "text": {"vi": "Bài Chào mừng.",
                                                        "en": "The Welcome module."}}
    assert (single["answer"], multiple["answer"], true_false["answer"], ordering["answer"]) \
        == ("b", ["a", "b"], False, ["read", "try", "quiz"])
    assert set(true_false) == {"text", "answer"}
    assert short == {"text": {"vi": "Địa chỉ thư hỗ trợ là gì?\n\nXem bài *Thực hành*.",
                              "en": "What is the help e-mail address?\n\n"
                                    "See the *Practice* module."},
                     "accept": {"vi": ["help@example.gov.vn"], "en": ["help@example.gov.vn"]},
                     "tolerant": True}
    assert all(len(q.content_hash) == 64 for q in bank.questions)
    assert len({q.content_hash for q in bank.questions}) == 6


def test_a_comment_or_spacing_change_keeps_the_hashes(content):
    before = load_content(content).banks["first-steps"]
    _edit(content / BANK, "questions:\n", "# Reviewed 2026.\nquestions:\n\n")
    after = load_content(content).banks["first-steps"]
    assert after.content_hash == before.content_hash
    assert [q.content_hash for q in after.questions] == \
        [q.content_hash for q in before.questions]


@pytest.mark.parametrize(("old", "new", "error"), [
    # the bank
    ("version: 1\n", "version: 0\n", "2: version must be a whole number >= 1"),
    ("version: 1\n", "", "1: missing key 'version'"),
    ("version: 1\n", "version: 1\ntitle: Quiz\n", "3: unknown key 'title'"),
    ("course: first-steps", "course: nowhere",
     "1: unknown course 'nowhere': there is no courses/nowhere/"),
    ("course: first-steps", "course: second-course",
     "1: course 'second-course' does not name this bank: its course.md needs "
     "quiz: first-steps"),
    ("course: first-steps", "course: First Steps",
     "1: course must be a slug (lowercase ASCII words joined by hyphens)"),
    # its settings
    ("draw: 2", "draw: 0", "4: draw must be a whole number >= 1"),
    ("  draw: 2\n", "", "3: missing key 'draw'"),
    ("draw: 2", "draw: 3",
     "11: 6 question(s) for draw: 3: a bank holds at least three times the number drawn (9)"),
    ("pass_mark: 0.5", "pass_mark: 0", "5: pass_mark must be a number with 0 < pass_mark <= 1"),
    ("pass_mark: 0.5", "pass_mark: 1.2",
     "5: pass_mark must be a number with 0 < pass_mark <= 1"),
    ("time_limit_minutes: 10", "time_limit_minutes: -1",
     "6: time_limit_minutes must be a whole number >= 0"),
    ("max_attempts: 3", "max_attempts: 2.5", "7: max_attempts must be a whole number >= 0"),
    ("wait_minutes: 5", "wait_minutes: soon", "8: wait_minutes must be a whole number >= 0"),
    ("shuffle_questions: false", "shuffle_questions: 1",
     "9: shuffle_questions must be true or false"),
    ("show_answers: after_pass", "show_answers: always",
     "10: show_answers must be one of never, after_submit, after_pass"),
    ("  show_answers: after_pass\n", "  show_answers: after_pass\n  colour: red\n",
     "11: unknown key 'colour'"),
    # questions: keys, ids, types
    ("  - id: good-habits\n    type:", "  - type:", "31: missing key 'id'"),
    ("id: good-habits", "id: Good_Habits",
     "31: id must be a slug (lowercase ASCII words joined by hyphens)"),
    ("id: quiz-needed", "id: good-habits",
     "84: question id 'good-habits' is used twice (also on line 31)"),
    ("type: multiple", "type: essay",
     "32: type must be one of single, multiple, true_false, ordering, short"),
    ("    answer: false\n", "    answer: false\n    points: 2\n", "53: unknown key 'points'"),
    ("    answer: b\n", "    answer: b\n    answer: c\n", "28: duplicate key 'answer'"),
    # choices and answers
    ("      - id: try", "      - id: read", "62: choice id 'read' is used twice (also on line 59)"),
    ("      - id: quiz\n", "      - id: quiz\n        hint: x\n", "66: unknown key 'hint'"),
    ("answer: b", "answer: d", "27: answer 'd' is not one of the choices (a, b, c)"),
    ("answer: b", "answer: [a, b]",
     "27: answer of a single question is one choice id (for several, use type: multiple)"),
    ("    answer: b\n", "", "12: missing key 'answer'"),
    ("answer: [a, b]", "answer: []",
     "46: answer of a multiple question must be a list of choice ids"),
    ("answer: [a, b]", "answer: [a, x]", "46: answer 'x' is not one of the choices (a, b, c)"),
    ("answer: [read, try, quiz]", "answer: [read, quiz]",
     "68: answer of an ordering question lists every choice once, in the right order: "
     "try missing"),
    ("answer: [read, try, quiz]", "answer: [read, try, quiz, read]",
     "68: answer lists 'read' twice"),
    ("answer: false", "answer: maybe",
     "52: answer of a true_false question must be true or false"),
    ("    answer: false\n", "    answer: false\n    choices: [a, b]\n",
     "53: a true_false question has no choices"),
    ("    tolerant: true\n", "    tolerant: true\n    answer: help\n",
     "84: a short question has no answer: list the accepted answers in accept"),
    ("    answer: [a, b]\n", "    answer: [a, b]\n    tolerant: true\n",
     "47: a multiple question has no tolerant"),
    # short answers
    ("""    accept:
      vi: ["help@example.gov.vn"]
      en: ["help@example.gov.vn"]
""", "", "69: missing key 'accept'"),
    ('      en: ["help@example.gov.vn"]\n', "",
     "80: accept has no en translation: every text is given in vi and en"),
    ('vi: ["help@example.gov.vn"]', "vi: [113]",
     '81: accept vi must be a list of non-empty texts (put numbers in quotes: "113")'),
    ("tolerant: true", "tolerant: sometimes", "83: tolerant must be true or false"),
    # every text in every language
    ('      en: "The Practice module can be skipped."\n', "",
     "49: text has no en translation: every text is given in vi and en"),
    ('        en: "The final quiz."\n', "",
     "18: choice a has no en translation: every text is given in vi and en"),
    ('      en: "True."\n', "",
     "90: feedback has no en translation: every text is given in vi and en"),
    ('en: "The Practice module can be skipped."', 'en: ""', "51: text en must be non-empty text"),
    ('      en: "The Practice module can be skipped."\n',
     '      en: "The Practice module can be skipped."\n      fr: "On peut sauter."\n',
     "49: text has unknown language(s) fr"),
    ('    text:\n      vi: "Bài Thực hành có thể bỏ qua."\n      en: "The Practice module can be '
     'skipped."', '    text: "Bài Thực hành có thể bỏ qua."',
     "49: text must give the text per language (vi: ..., en: ...)"),
    # Markdown, checked like module bodies
    ('vi: "Đúng."', 'vi: "<b>Đúng</b>."',
     "91: raw HTML <b> is not allowed (it is removed when shown)"),
    ("Xem bài *Thực hành*.", "Xem [bài Thực hành](02-practice.md).",
     "75: link to '02-practice.md': a question bank cannot link to modules; use https:// links"),
    ('vi: "Trang báo cáo."', 'vi: "![x](img/pixel.png)"',
     "25: image 'img/pixel.png': question banks have no images"),
])
def test_each_rule_is_reported_at_its_line(content, old, new, error):
    _edit(content / BANK, old, new)
    assert _errors(content) == [f"{BANK}:{error}"]


def test_a_bank_belongs_to_the_one_course_that_names_it(content):
    _edit(content / "courses/second-course/vi/course.md", "published: true",
          "published: true\nquiz: first-steps")
    assert _errors(content) == [f"{BANK}:1: course 'second-course' names this bank too: "
                                "a bank belongs to one course"]


def test_a_bank_file_name_is_a_slug(content):
    shutil.copy(content / BANK, content / "quizzes/First_Steps.yaml")
    assert _errors(content) == [
        "quizzes/First_Steps.yaml:1: course 'first-steps' does not name this bank: its "
        "course.md needs quiz: First_Steps",
        "quizzes/First_Steps.yaml:1: file name must be a slug (lowercase ASCII words joined "
        "by hyphens)",
    ]


def test_every_problem_of_a_bank_is_reported_at_once(content):
    _edit(content / BANK, "draw: 2", "draw: many")
    _edit(content / BANK, "answer: b", "answer: e")
    _edit(content / BANK, 'en: "Take the quiz."', "en: ")
    _edit(content / BANK, "type: short", "type: open")
    assert _errors(content) == [
        f"{BANK}:4: draw must be a whole number >= 1",
        f"{BANK}:27: answer 'e' is not one of the choices (a, b, c)",
        f"{BANK}:67: choice quiz en must be non-empty text",
        f"{BANK}:70: type must be one of single, multiple, true_false, ordering, short",
    ]


def test_a_yaml_error_in_a_bank_is_reported_with_its_line(content):
    _edit(content / BANK, "answer: [a, b]", "answer: [a, b")
    (error,) = _errors(content)
    assert error.startswith(f"{BANK}:47: YAML syntax error: ")


# The sync


def test_sync_creates_the_bank_and_its_questions(db, content, sync):
    result = sync()
    assert "+ bank first-steps" in result.output
    assert "question" not in result.output  # the questions of a new bank are not listed
    assert "banks: 1 added, 0 updated, 0 unchanged" in result.output
    bank = _bank(db)
    course = db.session.scalar(select(Course).where(Course.slug == "first-steps"))
    assert (bank.course_id, bank.version, bank.settings["draw"], bank.settings["show_answers"]) \
        == (course.id, 1, 2, "after_pass")
    assert [(q.key, q.position, q.kind, q.active) for q in bank.questions] == [
        ("where-to-start", 1, "single", True), ("good-habits", 2, "multiple", True),
        ("practice-is-optional", 3, "true_false", True), ("reading-order", 4, "ordering", True),
        ("help-address", 5, "short", True), ("quiz-needed", 6, "true_false", True)]
    source = load_content(content).banks["first-steps"]
    assert [q.data for q in bank.questions] == [q.data for q in source.questions]
    assert bank.content_hash == source.content_hash
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "content_synced"))
    assert event.detail["banks"]["added"] == ["first-steps"]


def test_second_sync_changes_nothing(db, content, sync):
    sync()
    synced_at = _bank(db).synced_at
    events = _count(db, AuditEvent)
    assert "no change" in sync().output
    assert _bank(db).synced_at == synced_at
    assert _count(db, AuditEvent) == events


def test_an_unchanged_bank_is_counted_when_something_else_changes(db, content, sync):
    sync()
    _edit(content / "courses/first-steps/en/02-practice.md", "write to", "e-mail")
    assert "banks: 0 added, 0 updated, 1 unchanged" in sync().output


def test_new_settings_and_order_need_no_new_version(db, content, sync):
    sync()
    _edit(content / BANK, "pass_mark: 0.5", "pass_mark: 0.75")
    _edit(content / BANK, LAST_QUESTION, "")
    _edit(content / BANK, "questions:\n", "questions:\n" + LAST_QUESTION)
    result = sync()
    assert "~ bank first-steps" in result.output
    assert "question" not in result.output
    bank = _bank(db)
    assert (bank.version, bank.settings["pass_mark"]) == (1, 0.75)
    assert [q.key for q in bank.questions][:2] == ["quiz-needed", "where-to-start"]
    assert "no change" in sync().output


def test_a_removed_question_is_kept_inactive_and_comes_back(db, content, sync):
    sync()
    ids = {key: q.id for key, q in _questions(db).items()}
    _edit(content / BANK, "draw: 2", "draw: 1")
    _edit(content / BANK, LAST_QUESTION, "")
    result = sync()
    assert "- question first-steps/quiz-needed (no longer on disk: kept inactive)" \
        in result.output
    questions = _questions(db)
    assert {key: q.active for key, q in questions.items()} == {
        "where-to-start": True, "good-habits": True, "practice-is-optional": True,
        "reading-order": True, "help-address": True, "quiz-needed": False}
    assert "no change" in sync().output
    _edit(content / BANK, "    tolerant: true\n", "    tolerant: true\n" + LAST_QUESTION)
    assert "+ question first-steps/quiz-needed" in sync().output
    questions = _questions(db)
    assert questions["quiz-needed"].active is True
    assert {key: q.id for key, q in questions.items()} == ids  # the same rows, never deleted


def test_a_changed_question_needs_a_new_version(db, content, sync):
    sync()
    _edit(content / BANK, "answer: false", "answer: true")
    result = sync(code=1)
    assert result.stderr.splitlines() == [
        f"{BANK}:47: question 'practice-is-optional' has changed since version 1 was synced: "
        "raise version",
        f"1 error(s) in {content}: nothing was synced."]
    assert _questions(db)["practice-is-optional"].data["answer"] is False
    _edit(content / BANK, "version: 1", "version: 2")
    result = sync()
    assert "~ bank first-steps" in result.output
    assert "~ question first-steps/practice-is-optional" in result.output
    bank = _bank(db)
    assert bank.version == 2
    assert _questions(db)["practice-is-optional"].data["answer"] is True


def test_a_bank_version_going_down_is_refused(db, content, sync):
    _edit(content / BANK, "version: 1", "version: 3")
    sync()
    _edit(content / BANK, "version: 3", "version: 2")
    result = sync(code=1)
    assert f"{BANK}:2: version 2 is lower than the synced version 3: versions only go up" \
        in result.stderr
    assert _bank(db).version == 3


def test_a_broken_bank_leaves_the_database_unchanged(db, content, sync):
    sync()
    models = (Course, Module, ModuleText, QuizBank, QuizQuestion, AuditEvent)
    before = [_count(db, model) for model in models]
    _edit(content / "courses/first-steps/en/02-practice.md", "write to", "e-mail")
    _edit(content / BANK, "answer: [a, b]", "answer: [a, b, d]")
    result = sync(code=1)
    assert result.stderr.splitlines()[0] == \
        f"{BANK}:46: answer 'd' is not one of the choices (a, b, c)"
    assert [_count(db, model) for model in models] == before
    assert not any("e-mail" in t.body for t in db.session.scalars(select(ModuleText)))


def test_a_broken_bank_stops_the_first_sync(db, content, sync):
    _edit(content / BANK, "type: ordering", "type: sorting")
    sync(code=1)
    assert [_count(db, model) for model in (Course, QuizBank, QuizQuestion)] == [0, 0, 0]


def test_a_bank_removed_from_disk_is_kept(db, content, sync):
    sync()
    (content / BANK).unlink()
    for lang in ("vi", "en"):
        _edit(content / f"courses/first-steps/{lang}/course.md", "quiz: first-steps\n", "")
    result = sync()
    assert "! bank first-steps is no longer on disk: kept unchanged" in result.output
    assert len(_bank(db).questions) == 6


def test_the_bundled_content_syncs_with_its_eight_banks(db, app, sync, monkeypatch):
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(ROOT))
    result = sync()
    assert "banks: 8 added" in result.output
    catalogue = load_content(ROOT)
    banks = db.session.scalars(select(QuizBank)).all()
    assert sorted(b.slug for b in banks) == sorted(c.quiz for c in catalogue.courses.values())
    assert all(b.course.quiz_slug == b.slug for b in banks)
    assert _count(db, QuizQuestion, QuizQuestion.active) == \
        sum(len(b.questions) for b in catalogue.banks.values())
    assert "no change" in sync().output
