"""Loaders for the content folder: courses, programmes and question banks (lms.quizzes.bank).

Everything is read and checked before anything is synced; every problem is reported as
`path:line: message` (path relative to the content folder), never only the first one.
"""

import hashlib
import unicodedata
from datetime import date
from pathlib import Path
from typing import NamedTuple

import yaml

from lms.certificates.layouts import check_certificates
from lms.config import LANGUAGES
from lms.courses.content_schema import (
    COURSE_SCHEMA,
    MODULE_FILE,
    MODULE_SCHEMA,
    PROGRAMME_SCHEMA,
    SHARED_COURSE_KEYS,
    SHARED_MODULE_KEYS,
    Catalogue,
    ContentError,
    CourseSource,
    ModuleSource,
    ProgrammeSource,
    Text,
    check_body,
    slug_problem,
)
from lms.quizzes.bank import load_bank
from lms.text import nfc

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_content(content_dir):
    """Read and check the whole content folder; the catalogue lists every problem found."""
    return _Reader(Path(content_dir)).load()


class _Doc(NamedTuple):
    values: dict  # the front matter, checked, defaults filled
    lines: dict  # key -> line number
    body: str


class _Reader:
    def __init__(self, root):
        self.root = root
        self.catalogue = Catalogue()
        self.quizzes = set()

    def error(self, path, line, message):
        rel = path.relative_to(self.root).as_posix() if isinstance(path, Path) else path
        self.catalogue.errors.append(ContentError(rel, line, message))
        return False

    def load(self):
        self.quizzes = {p.stem for p in _files(self.root / "quizzes", "*.yaml")}
        for folder in _dirs(self.root / "courses"):
            course = self.course(folder)
            if course is not None:
                self.catalogue.courses[course.slug] = course
        for path in _files(self.root / "programmes", "*.yaml"):
            programme = self.programme(path)
            if programme is not None:
                self.catalogue.programmes[programme.slug] = programme
        for path in _files(self.root / "quizzes", "*.yaml"):  # after the courses they name
            bank = load_bank(self, path)
            if bank is not None:
                self.catalogue.banks[bank.slug] = bank
        check_certificates(self, {p.stem for p in _files(self.root / "programmes", "*.yaml")})
        self.catalogue.errors.sort()
        return self.catalogue

    def read(self, path):
        """The file's text (NFC, LF line ends), or None after reporting why it is unreadable."""
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.error(path, data[:e.start].count(b"\n") + 1,
                       f"not UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8")
            return None
        return unicodedata.normalize("NFC", text.removeprefix("\ufeff").replace("\r\n", "\n"))

    def yaml_mapping(self, path, text, first_line, construct=True):
        """(node, data) of a YAML document that is a mapping, or None after reporting. With
        construct=False, data is None: the caller builds it from the node."""
        try:
            node, data = _parse(text, construct)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f" ({e.context} on line {first_line + e.context_mark.line})" \
                if e.context and e.context_mark and e.context_mark is not mark else ""
            return self.error(path, first_line + (mark.line if mark else 0),
                              f"YAML syntax error: {e.problem or e.context}{where}") or None
        if not (isinstance(data, dict) if construct else isinstance(node, yaml.MappingNode)):
            return self.error(path, first_line, "expected `key: value` lines") or None
        return node, data

    def parse_yaml(self, path, text, first_line, schema):
        """(checked values, key lines) of a YAML mapping, or (None, {}) after reporting."""
        parsed = self.yaml_mapping(path, text, first_line)
        if parsed is None:
            return None, {}
        node, data = parsed
        lines = {}
        for key_node, value_node in node.value:
            if key_node.value in lines:
                self.error(path, first_line + key_node.start_mark.line,
                           f"duplicate key {key_node.value!r}")
            lines[key_node.value] = first_line + key_node.start_mark.line
            if isinstance(value_node, yaml.SequenceNode):  # each item's line, for messages
                for i, item in enumerate(value_node.value):
                    lines[(key_node.value, i)] = first_line + item.start_mark.line
        return self.fields(path, data, lines, schema), lines

    def fields(self, path, data, lines, schema, at=1):
        """The values of a schema, defaults filled; None if any is missing or wrong. `at` is
        the line of the mapping, for keys that are missing."""
        values, ok = {}, True
        for key in data:
            if key not in schema:
                ok = self.error(path, lines.get(key, at), f"unknown key {key!r}")
        for key, (check, required, default) in schema.items():
            values[key] = default if data.get(key) is None else data[key]
            if data.get(key) is None:
                if required:
                    ok = self.error(path, at, f"missing key {key!r}")
            elif problem := check(data[key]):
                ok = self.error(path, lines.get(key, at), f"{key} {problem}")
        return values if ok else None

    def markdown(self, path, schema, module_names):
        """The front matter and body of a Markdown file, or None after reporting problems."""
        text = self.read(path)
        if text is None:
            return None
        rows = text.split("\n")
        if rows[0].rstrip() != "---":
            return self.error(path, 1, "front matter missing: the file must start with `---`") \
                or None
        end = next((i for i in range(1, len(rows)) if rows[i].rstrip() == "---"), None)
        if end is None:
            return self.error(path, 1, "front matter not closed: no `---` after the first one") \
                or None
        values, lines = self.parse_yaml(path, "\n".join(rows[1:end]), 2, schema)
        body = "\n".join(rows[end + 1:])
        problems = check_body(body, end + 2, path.parent,
                              {name.removesuffix(".md") for name in module_names})
        for line, message in problems:
            self.error(path, line, message)
        if values is None or problems:
            return None
        return _Doc(values, lines, body.strip("\n") + "\n")

    def course(self, folder):
        slug = folder.name
        ok = not slug_problem(slug) or self.error(folder, 1, f"folder name {slug_problem(slug)}")
        for child in _dirs(folder):
            if child.name not in LANGUAGES:
                self.error(child, 1, f"unknown language folder (expected {', '.join(LANGUAGES)})")
        langs = [lang for lang in LANGUAGES if (folder / lang).is_dir()]
        if "vi" not in langs:
            return self.error(folder / "vi", 1, "missing: every course has a vi/ folder") or None
        loaded = {lang: self.language(folder / lang, lang) for lang in langs}
        ok &= all(lang_ok for lang_ok, _, _ in loaded.values())
        _, vi_course, vi_modules = loaded["vi"]
        for lang, (_, course, modules) in loaded.items():
            if lang != "vi":  # compare what could be read, to report everything at once
                ok &= self.same_modules(folder / lang, vi_modules, modules)
                if course and vi_course:
                    ok &= self.agree(folder / lang / "course.md", course, vi_course,
                                     SHARED_COURSE_KEYS)
        if not ok:
            return None
        v = vi_course.values
        modules = [ModuleSource(
            name.removesuffix(".md"), int(name[:2]), doc.values["minutes"], doc.values["digcomp"],
            doc.values["draft"], _hash(folder, [folder / lang / name for lang in langs]),
            {lang: Text(nfc(mods[name].values["title"]), mods[name].body)
             for lang, (_, _, mods) in loaded.items()}) for name, doc in vi_modules.items()]
        return CourseSource(
            slug, v["version"], v["published"], v["open"], v["minutes"], v["digcomp"], v["quiz"],
            v["requires_retraining"], _hash(folder, sorted(folder.rglob("*"))),
            {lang: Text(nfc(doc.values["title"]), doc.body, nfc(doc.values["summary"]))
             for lang, (_, doc, _) in loaded.items()},
            modules, (f"courses/{slug}/vi/course.md", vi_course.lines["version"]))

    def language(self, folder, lang):
        """(all right?, course.md, {module file name: module or None}) of a language folder."""
        names = sorted(p.name for p in folder.glob("*.md"))
        numbered = [n for n in names if MODULE_FILE.match(n)]
        ok = True
        for name in sorted(set(names) - {"course.md", *numbered}):
            ok = self.error(folder / name, 1, "module file name must be NN-<slug>.md, "
                            "NN its two-digit position (01, 02, ...)")
        for expected, name in enumerate(numbered, start=1):
            if int(name[:2]) != expected:
                previous = numbered[expected - 2] if expected > 1 else ""
                ok = self.error(folder / name, 1, f"module number {name[:2]} is used twice "
                                f"(also {previous})" if previous[:2] == name[:2] else
                                f"modules are numbered 01, 02, ... without gaps: "
                                f"expected {expected:02d}")
                break
        course = None
        if "course.md" not in names:
            ok = self.error(folder / "course.md", 1, "missing course.md")
        else:
            course = self.markdown(folder / "course.md", {**COURSE_SCHEMA, "language": (
                lambda v: None if v == lang else f"must be {lang!r}, the name of its folder",
                True, None), "quiz": (self.quiz_problem, False, None)}, numbered)
        docs = {name: self.markdown(folder / name, MODULE_SCHEMA, numbered) for name in numbered}
        return ok and course is not None and all(docs.values()), course, docs

    def quiz_problem(self, value):
        if slug_problem(value) or value in self.quizzes:
            return slug_problem(value)
        return f"{value!r} names no question bank: there is no quizzes/{value}.yaml"

    def same_modules(self, folder, vi_modules, modules):
        ok = set(vi_modules) == set(modules)
        for name in sorted(set(vi_modules) - set(modules)):
            self.error(folder / name, 1, "missing: every language has the module files of vi/")
        for name in sorted(set(modules) - set(vi_modules)):
            self.error(folder / name, 1, "not in vi/: every language has the same module files")
        for name in sorted(set(vi_modules) & set(modules)):
            if modules[name] and vi_modules[name]:
                ok &= self.agree(folder / name, modules[name], vi_modules[name],
                                 SHARED_MODULE_KEYS)
        return ok

    def agree(self, path, doc, vi_doc, keys):
        """Fields stored once per course or module must be the same in every language."""
        ok = True
        for key in keys:
            mine, theirs = doc.values[key], vi_doc.values[key]
            if (sorted(mine) != sorted(theirs)) if key == "digcomp" else mine != theirs:
                ok = self.error(path, doc.lines.get(key, 1),
                                f"{key} {mine!r} differs from the vi version ({theirs!r})")
        return ok

    def programme(self, path):
        text = self.read(path)
        values, lines = self.parse_yaml(path, text, 1, PROGRAMME_SCHEMA) if text is not None \
            else (None, {})
        if slug_problem(path.stem):
            return self.error(path, 1, f"file name {slug_problem(path.stem)}") or None
        if values is None:
            return None
        ok = True
        for i, course in enumerate(values["courses"]):
            line = lines.get(("courses", i), lines["courses"])
            if course in values["courses"][:i]:
                ok = self.error(path, line, f"course {course!r} is listed twice")
            elif not (self.root / "courses" / course / "vi").is_dir():
                ok = self.error(path, line, f"unknown course {course!r}: "
                                f"there is no courses/{course}/")
        deadline = values["deadline"]
        if isinstance(deadline, str):
            deadline = date.fromisoformat(deadline)
        return ProgrammeSource(
            path.stem, {k: nfc(v) for k, v in values["title"].items()},
            {k: nfc(v) for k, v in values["summary"].items()}, float(values["target_ratio"]),
            deadline, values["validity_months"], values["courses"],
            _hash(path.parent, [path])) if ok else None


def _parse(text, construct=True):
    """(node, data) of a YAML document, read by libyaml for speed; on an error, the message is
    the pure-Python parser's, so that it is the same on every install."""
    for loader_class in dict.fromkeys((_FAST_LOADER, yaml.SafeLoader)):
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            return node, (loader.construct_document(node) if construct and node is not None
                          else None)
        except yaml.MarkedYAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable")


def _files(folder, pattern):
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def _dirs(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _hash(base, paths):
    """SHA-256 over the relative names and bytes of the files, so a rename changes it too."""
    digest = hashlib.sha256()
    for path in paths:
        if path.is_file():
            digest.update(path.relative_to(base).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
