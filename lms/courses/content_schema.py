"""What content is and may contain: the loaded shapes, front-matter fields, links and images
(the link and image rules are shared with the renderer)."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

from lms.config import LANGUAGES

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
MODULE_FILE = re.compile(r"(\d{2})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md\Z")
MODULE_LINK = re.compile(r"(\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*)\.md(?:#([\w-]+))?\Z")
# DigComp 2.2: five areas of 3, 6, 4, 4 and 4 competences (1.1 ... 5.4).
DIGCOMP = frozenset(f"{area}.{n}" for area, size in enumerate((3, 6, 4, 4, 4), start=1)
                    for n in range(1, size + 1))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
LINK_SCHEMES = ("http", "https", "mailto")
ADMONITIONS = ("note", "tip", "warning", "example")


@dataclass(frozen=True, order=True)
class ContentError:
    path: str
    line: int
    message: str

    def __str__(self):
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Text:
    title: str
    body: str
    summary: str = ""

    @property
    def body_hash(self):
        return hashlib.sha256(self.body.encode()).hexdigest()


@dataclass
class ModuleSource:
    slug: str
    position: int
    minutes: int
    digcomp: list
    draft: bool
    content_hash: str
    texts: dict  # lang -> Text


@dataclass
class CourseSource:
    slug: str
    version: int
    published: bool
    open: bool
    minutes: int
    digcomp: list
    quiz: str | None
    requires_retraining: bool
    content_hash: str
    texts: dict  # lang -> Text
    modules: list
    version_at: tuple  # (path, line) of the `version:` key, to report a version going down


@dataclass
class ProgrammeSource:
    slug: str
    titles: dict
    summaries: dict
    target_ratio: float
    deadline: date | None
    validity_months: int | None
    courses: list
    content_hash: str


@dataclass
class Catalogue:
    courses: dict = field(default_factory=dict)  # slug -> CourseSource
    programmes: dict = field(default_factory=dict)  # slug -> ProgrammeSource
    banks: dict = field(default_factory=dict)  # slug -> lms.quizzes.bank.BankSource
    errors: list = field(default_factory=list)


# Field checks: each returns what is wrong with a value, or None when it is right.
def _text(v):
    return None if isinstance(v, str) and v.strip() else "must be non-empty text"


def _int_in(low, high=None):
    def check(v):
        if isinstance(v, int) and not isinstance(v, bool) and low <= v <= (high or v):
            return None
        return f"must be a whole number from {low} to {high}" if high else \
            f"must be a whole number >= {low}"
    return check


def _bool(v):
    return None if isinstance(v, bool) else "must be true or false"


def slug_problem(v):
    return None if isinstance(v, str) and SLUG.match(v) else \
        "must be a slug (lowercase ASCII words joined by hyphens)"


def _digcomp(v):
    if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
        return 'must be a list of DigComp competences such as ["1.1", "4.2"]'
    unknown = [c for c in v if c not in DIGCOMP]
    if unknown:
        return f"has unknown DigComp 2.2 competence(s) {', '.join(unknown)} (1.1 to 5.4)"
    return None if len(set(v)) == len(v) else "lists a competence twice"


def _share(name):
    def check(v):
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1
        return None if ok else f"must be a number with 0 < {name} <= 1"
    return check


def _one_of(*choices):
    def check(v):
        return None if v in choices and isinstance(v, str) else \
            f"must be one of {', '.join(choices)}"
    return check


def _mapping(v):
    return None if isinstance(v, dict) else "must be `key: value` lines"


def _list(v):
    return None if isinstance(v, list) else "must be a list (lines starting with `- `)"


def _iso_date(v):
    if isinstance(v, date):
        return None
    try:
        date.fromisoformat(v)
    except (TypeError, ValueError):
        return "must be an ISO date (YYYY-MM-DD)"
    return None


def _per_language(v):
    if not isinstance(v, dict) or "vi" not in v:
        return "must give the text per language, at least vi (vi: ..., en: ...)"
    unknown = sorted(map(str, set(v) - set(LANGUAGES)))
    if unknown:
        return f"has unknown language(s) {', '.join(unknown)}"
    return next((f"{lang} must be non-empty text" for lang, t in v.items() if _text(t)), None)


def _slug_list(v):
    if not isinstance(v, list) or not v or any(slug_problem(s) for s in v):
        return "must be a non-empty list of course slugs"
    return None


# key: (check, required, default)
COURSE_SCHEMA = {
    "title": (_text, True, None), "summary": (_text, False, ""), "language": (_text, True, None),
    "version": (_int_in(1), True, None), "minutes": (_int_in(1, 240), True, None),
    "digcomp": (_digcomp, False, []), "quiz": (slug_problem, False, None),
    "published": (_bool, True, None), "open": (_bool, False, True),
    "requires_retraining": (_bool, False, False),
}
MODULE_SCHEMA = {
    "title": (_text, True, None), "minutes": (_int_in(1, 240), True, None),
    "digcomp": (_digcomp, False, []), "draft": (_bool, False, False),
}
PROGRAMME_SCHEMA = {
    "title": (_per_language, True, None), "summary": (_per_language, True, None),
    "target_ratio": (_share("target_ratio"), False, 0.8), "deadline": (_iso_date, False, None),
    "validity_months": (_int_in(1), False, None), "courses": (_slug_list, True, None),
}
BANK_SCHEMA = {
    "course": (slug_problem, True, None), "version": (_int_in(1), True, None),
    "settings": (_mapping, True, None), "questions": (_list, True, None),
}
SHOW_ANSWERS = ("never", "after_submit", "after_pass")
SETTINGS_SCHEMA = {
    "draw": (_int_in(1), True, None), "pass_mark": (_share("pass_mark"), False, 0.8),
    "time_limit_minutes": (_int_in(0), False, 0), "max_attempts": (_int_in(0), False, 0),
    "wait_minutes": (_int_in(0), False, 0), "shuffle_questions": (_bool, False, True),
    "shuffle_choices": (_bool, False, True),
    "show_answers": (_one_of(*SHOW_ANSWERS), False, "after_submit"),
}
# Stored once per course or module, so every language must agree with vi.
SHARED_COURSE_KEYS = ("version", "minutes", "digcomp", "quiz", "published", "open",
                      "requires_retraining")
SHARED_MODULE_KEYS = ("minutes", "digcomp", "draft")


def local_image(src):
    """The path of an image inside its course language folder, or None if `src` is not a
    plain relative path (a scheme, an absolute path, `..`, a backslash, a query...)."""
    path = unquote(src or "")
    if not path or any(c in path for c in ':\\?#"\'<>') or any(ord(c) < 32 for c in path):
        return None
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        return None
    return path


_FENCE = re.compile(r"\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_INLINE = re.compile(r"(!?)\[[^\[\]]*\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))*)"
                     r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE = re.compile(r"\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^\s>]*)>")
_HTML_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(?=[\s/>])[^>]*>")
_ADMONITION = re.compile(r"\s*!!!\s+([\w-]+)")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def check_body(body, first_line, folder, module_names):
    """(line, message) for each problem in a Markdown body that starts at `first_line`.
    A question-bank text has no folder and no modules (both None): no images, no module links."""
    if not any(c in body for c in "#!<["):  # nothing below can match: most question texts
        return []
    problems, fenced = [], False
    for number, raw in enumerate(body.split("\n"), start=first_line):
        if _FENCE.match(raw):
            fenced = not fenced
            continue
        if fenced:
            continue
        line = _CODE_SPAN.sub("", raw)
        if line.startswith("# "):
            problems.append((number, "use ## and ### headings: the title comes from the "
                                     "front matter"))
        kind = _ADMONITION.match(line)
        if kind and kind[1] not in ADMONITIONS:
            problems.append((number, f"unknown box type {kind[1]!r} "
                                     f"(one of {', '.join(ADMONITIONS)})"))
        problems += [(number, f"raw HTML <{tag[1]}> is not allowed (it is removed when shown)")
                     for tag in _HTML_TAG.finditer(line)]
        targets = [(m[1] == "!", m[2].strip("<>")) for m in _INLINE.finditer(line)]
        reference = _REFERENCE.match(line)
        if reference:
            url = reference[1].strip("<>")
            targets.append((url.lower().endswith(IMAGE_SUFFIXES), url))
        targets += [(False, m[1]) for m in _AUTOLINK.finditer(line)]
        for is_image, url in targets:
            problem = image_problem(url, folder) if is_image else link_problem(url, module_names)
            if problem:
                problems.append((number, problem))
    return problems


def link_problem(url, module_names):
    """Why a link target is not allowed (None if it is)."""
    if url.startswith("#"):
        return None
    module = MODULE_LINK.match(url)
    if module and module_names is None:
        return f"link to {url!r}: a question bank cannot link to modules; use https:// links"
    if module:
        return None if module[1] in module_names else \
            f"link to {url!r}: there is no module {module[1]}.md in this course"
    scheme = _SCHEME.match(url)
    if scheme and scheme[1].lower() in LINK_SCHEMES and len(url) > len(scheme[0]) + 2:
        return None
    return (f"link to {url!r}: links go to https://, http://, mailto:, an #anchor or a module "
            "of this course (NN-slug.md)")


def image_problem(src, folder):
    """Why an image reference is not allowed or not found (None if it is fine)."""
    if folder is None:
        return f"image {src!r}: question banks have no images"
    path = local_image(src)
    if path is None:
        return (f"image {src!r}: images are files of the course language folder, referenced "
                "by a relative path (no scheme, no leading /, no ..)")
    if not path.lower().endswith(IMAGE_SUFFIXES):
        return f"image {src!r}: only .png, .jpg, .jpeg, .gif and .webp images are allowed"
    target = folder / path
    if not target.is_file():
        return f"image {src!r}: there is no file {folder.name}/{path}"
    if not target.resolve().is_relative_to(folder.resolve()):
        return f"image {src!r}: the file is a link to outside the course folder"
    return None
