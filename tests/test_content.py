"""The content loader: the bundled courses are valid, and every problem is named by file:line."""

import shutil
import unicodedata
from pathlib import Path

import pytest

from lms.courses.content import load_content

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "content"

# Every problem in tests/content/broken, exactly as `sync-content` prints them.
BROKEN = (FIXTURES / "broken-errors.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture
def small(tmp_path):
    """A private copy of tests/content/small, free to edit."""
    folder = tmp_path / "content"
    shutil.copytree(FIXTURES / "small", folder, symlinks=True)
    return folder


def _errors(folder):
    return [str(error) for error in load_content(folder).errors]


def test_bundled_content_is_valid():
    catalogue = load_content(ROOT)
    assert catalogue.errors == []
    assert len(catalogue.courses) == 8
    assert sum(len(course.modules) for course in catalogue.courses.values()) == 40
    assert all(set(course.texts) == {"vi", "en"} for course in catalogue.courses.values())
    programme = catalogue.programmes["basic-digital-skills"]
    assert sorted(programme.courses) == sorted(catalogue.courses)
    assert (programme.target_ratio, programme.validity_months) == (0.8, 24)
    assert str(programme.deadline) == "2026-12-31"
    assert sorted(catalogue.banks) == sorted(course.quiz for course in catalogue.courses.values())
    for bank in catalogue.banks.values():
        assert catalogue.courses[bank.course].quiz == bank.slug
        assert len(bank.questions) >= 3 * bank.settings["draw"]
        assert all(set(q.data["text"]) == {"vi", "en"} for q in bank.questions)


def test_broken_folder_reports_every_problem_with_file_and_line():
    catalogue = load_content(FIXTURES / "broken")
    assert [str(error) for error in catalogue.errors] == BROKEN
    assert catalogue.courses == {}


def test_small_folder_reads_both_languages(small):
    catalogue = load_content(small)
    assert catalogue.errors == []
    course = catalogue.courses["first-steps"]
    assert (course.version, course.minutes, course.quiz, course.published, course.open) == \
        (1, 20, "first-steps", True, True)
    assert course.digcomp == ["1.1", "5.4"]
    assert course.texts["vi"].title == "Những bước đầu tiên"
    assert course.texts["en"].summary == "Getting used to online learning."
    assert [(m.slug, m.position, m.minutes) for m in course.modules] == \
        [("01-welcome", 1, 8), ("02-practice", 2, 12)]
    assert course.modules[0].texts["en"].body.startswith("## Welcome\n")
    assert set(catalogue.courses["second-course"].texts) == {"vi"}
    assert catalogue.programmes["starter"].summaries == {"vi": "Hai khóa học đầu tiên."}


def test_text_is_normalised_to_nfc_and_crlf_and_bom_are_accepted(small):
    path = small / "courses/second-course/vi/01-only.md"
    text = path.read_text(encoding="utf-8").replace("Bài duy nhất", "Bài duy nhất đó")
    path.write_bytes(b"\xef\xbb\xbf" + unicodedata.normalize("NFD", text)
                     .replace("\n", "\r\n").encode())
    catalogue = load_content(small)
    assert catalogue.errors == []
    module = catalogue.courses["second-course"].modules[0]
    assert module.texts["vi"].title == unicodedata.normalize("NFC", "Bài duy nhất đó")
    assert "\r" not in module.texts["vi"].body


def test_a_symlinked_image_that_leaves_the_course_folder_is_refused(small, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG not really")
    (small / "courses/first-steps/vi/img/out.png").symlink_to(outside)
    welcome = small / "courses/first-steps/vi/01-welcome.md"
    welcome.write_text(welcome.read_text(encoding="utf-8") + "\n![x](img/out.png)\n",
                       encoding="utf-8")
    assert _errors(small) == ["courses/first-steps/vi/01-welcome.md:17: image 'img/out.png': "
                              "the file is a link to outside the course folder"]


@pytest.mark.parametrize("src", ["../en/img/pixel.png", "img/../../en/img/pixel.png",
                                 "/etc/passwd.png", "%2e%2e/en/img/pixel.png",
                                 "img\\..\\..\\x.png", "file:///etc/x.png",
                                 "https://example.com/x.png", "data:image/png;base64,AAAA",
                                 "//evil.example/x.png"])
def test_images_must_be_plain_paths_inside_the_language_folder(small, src):
    welcome = small / "courses/first-steps/vi/01-welcome.md"
    welcome.write_text(welcome.read_text(encoding="utf-8") + f"\n![x]({src})\n",
                       encoding="utf-8")
    (error,) = _errors(small)
    assert error.startswith("courses/first-steps/vi/01-welcome.md:17: image ")


@pytest.mark.parametrize(("line", "ok"), [
    ("[a](https://dichvucong.gov.vn/p/home)", True),
    ("[a](mailto:hotro@example.gov.vn)", True),
    ("[a](#thu-ngay)", True),
    ("[a](02-practice.md#thu-ngay)", True),
    ("`[a](nowhere.md)` in code", True),
    ("[a](03-nowhere.md)", False),
    ("[a](ftp://example.com)", False),
    ("[a](other-course/01-x.md)", False),
    ("<https://example.com>", True),
    ("[a][ref]\n\n[ref]: javascript:alert(1)", False),
])
def test_links_go_to_the_web_mail_anchors_or_modules_of_the_course(small, line, ok):
    welcome = small / "courses/first-steps/vi/01-welcome.md"
    welcome.write_text(welcome.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    assert (_errors(small) == []) is ok


def test_an_unknown_programme_course_and_a_removed_quiz_are_reported(small):
    (small / "quizzes/first-steps.yaml").unlink()
    programme = small / "programmes/starter.yaml"
    programme.write_text(programme.read_text(encoding="utf-8") + "  - third-course\n",
                         encoding="utf-8")
    assert _errors(small) == [
        "courses/first-steps/en/course.md:8: quiz 'first-steps' names no question bank: "
        "there is no quizzes/first-steps.yaml",
        "courses/first-steps/vi/course.md:8: quiz 'first-steps' names no question bank: "
        "there is no quizzes/first-steps.yaml",
        "programmes/starter.yaml:11: unknown course 'third-course': "
        "there is no courses/third-course/",
    ]


@pytest.mark.parametrize(("text", "error"), [
    ("Hello\n", "1: front matter missing: the file must start with `---`"),
    ("---\ntitle: x\n", "1: front matter not closed: no `---` after the first one"),
    ("---\n- a\n- b\n---\n", "2: expected `key: value` lines"),
    ("---\ntitle: x\n  bad: [\n---\n", "3: YAML syntax error: mapping values are not allowed "
                                       "here"),
    ("---\ntitle: 'open\n---\n", "2: YAML syntax error: found unexpected end of stream "
                               "(while scanning a quoted scalar on line 2)"),
])
def test_a_broken_course_md_alone_is_reported(small, text, error):
    (small / "courses/second-course/vi/course.md").write_text(text, encoding="utf-8")
    assert _errors(small) == [f"courses/second-course/vi/course.md:{error}"]


def test_content_hash_changes_with_any_file_of_the_course(small):
    before = load_content(small).courses["first-steps"]
    (small / "courses/first-steps/en/img/pixel.png").write_bytes(b"\x89PNG changed")
    after = load_content(small).courses["first-steps"]
    assert after.content_hash != before.content_hash
    assert [m.content_hash for m in after.modules] == [m.content_hash for m in before.modules]
