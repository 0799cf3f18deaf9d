"""Question banks: quizzes/<slug>.yaml read and checked, each problem reported at its line.

The reader of the content folder (lms.courses.content) calls `load_bank` after loading the
courses, since a bank names its course and that course must name the bank back.
"""

import hashlib
import json
from dataclasses import dataclass

import yaml

from lms.config import LANGUAGES
from lms.courses.content_schema import BANK_SCHEMA, SETTINGS_SCHEMA, check_body, slug_problem

KINDS = ("single", "multiple", "true_false", "ordering", "short")
WITH_CHOICES = ("single", "multiple", "ordering")
QUESTION_KEYS = ("id", "type", "text", "choices", "answer", "accept", "tolerant", "feedback")
DRAW_FACTOR = 3  # a bank holds at least this many times the questions an attempt draws
# Plain scalars that are not text; any other tag is read as the text written.
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS = {f"tag:yaml.org,2002:{name}": getattr(_CONSTRUCTOR, f"construct_yaml_{name}")
            for name in ("int", "float", "bool", "null", "timestamp")}


@dataclass
class QuestionSource:
    key: str  # the stable ID written in the bank
    kind: str
    data: dict  # text, choices, answer, accept, tolerant, feedback (see QuizQuestion.data)
    content_hash: str
    line: int  # of the question in its file, to report a change that needs a new version


@dataclass
class BankSource:
    slug: str
    course: str
    version: int
    settings: dict  # every key of SETTINGS_SCHEMA, defaults filled
    questions: list  # QuestionSource, in the order of the file
    content_hash: str
    version_at: tuple  # (path, line) of the `version:` key, to report a version going down


def load_bank(reader, path):
    """The checked bank in `path`, or None after reporting its problems through `reader`
    (the content reader: its error, read, yaml_mapping and fields methods)."""
    return _Bank(reader, path).load()


def _scalar(node):
    """The value of a scalar node, as PyYAML's safe loader reads it."""
    try:
        return _SCALARS[node.tag](node) if node.tag in _SCALARS else node.value
    except (ValueError, yaml.YAMLError):  # such as a date that does not exist: kept as text
        return node.value


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


class _Bank:
    def __init__(self, reader, path):
        self.reader, self.path, self.slug = reader, path, path.stem
        self.lines = {}  # (key, index, ...) -> line of that key or list item
        self.mappings = {}  # (key, index, ...) of a mapping -> {its key: line}
        self.starts = {}  # (key, ...) -> first line of a text value
        self.built = {}  # id(node) -> value, so that an alias is the value of its anchor

    def error(self, line, message):
        self.reader.error(self.path, line, message)

    def count(self):
        return len(self.reader.catalogue.errors)

    def line(self, at):
        """The line of a key or list item, else that of the nearest one around it."""
        while at and at not in self.lines:
            at = at[:-1]
        return self.lines.get(at, 1)

    def keys(self, at):
        """{key: line} of the keys of the mapping at `at`."""
        return self.mappings.get(at, {})

    def build(self, node, at):
        """The value of a YAML node, noting the line of every key and list item under it and
        reporting duplicate keys (in one walk: faster than PyYAML's constructor, then a walk)."""
        if id(node) in self.built:
            return self.built[id(node)]
        if isinstance(node, yaml.MappingNode):
            value = self.built[id(node)] = {}
            lines = self.mappings[at] = {}
            for key_node, item in node.value:
                key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else "?"
                if key in value:
                    self.error(key_node.start_mark.line + 1, f"duplicate key {key!r}")
                self.lines[(*at, key)] = lines[key] = key_node.start_mark.line + 1
                value[key] = self.build(item, (*at, key))
            return value
        if isinstance(node, yaml.SequenceNode):
            value = self.built[id(node)] = []
            for i, item in enumerate(node.value):
                self.lines[(*at, i)] = item.start_mark.line + 1
                value.append(self.build(item, (*at, i)))
            return value
        # A block scalar (| or >) starts on the line after its key.
        self.starts[at] = node.start_mark.line + 1 + (node.style in ("|", ">"))
        return _scalar(node)

    def load(self):
        before = self.count()
        text = self.reader.read(self.path)
        parsed = None if text is None else self.reader.yaml_mapping(self.path, text, 1,
                                                                    construct=False)
        if slug_problem(self.slug):
            self.error(1, f"file name {slug_problem(self.slug)}")
        if parsed is None:
            return None
        data = self.build(parsed[0], ())
        top = self.reader.fields(self.path, data, self.keys(()), BANK_SCHEMA)
        settings = data.get("settings")
        if isinstance(settings, dict):
            settings = self.reader.fields(self.path, settings, self.keys(("settings",)),
                                          SETTINGS_SCHEMA, at=self.line(("settings",)))
        items = data.get("questions")
        questions = [self.question(i, item) for i, item in enumerate(items)] \
            if isinstance(items, list) else []
        self.unique_ids(items if isinstance(items, list) else [])
        if isinstance(settings, dict) and isinstance(items, list) and \
                len(items) < DRAW_FACTOR * settings["draw"]:
            self.error(self.line(("questions",)), f"{len(items)} question(s) for draw: "
                       f"{settings['draw']}: a bank holds at least three times the number "
                       f"drawn ({DRAW_FACTOR * settings['draw']})")
        course = data.get("course")
        if not slug_problem(course) and (problem := self.course_problem(course)):
            self.error(self.line(("course",)), problem)
        if self.count() > before:
            return None
        settings["pass_mark"] = float(settings["pass_mark"])
        return BankSource(
            self.slug, top["course"], top["version"], settings, questions,
            _digest({"course": top["course"], "version": top["version"], "settings": settings,
                     "questions": [[q.key, q.content_hash] for q in questions]}),
            (self.path.relative_to(self.reader.root).as_posix(), self.line(("version",))))

    def course_problem(self, course):
        """What is wrong with the `course:` of the bank: each bank belongs to one course, and
        that course names it in its `quiz:`."""
        courses = self.reader.catalogue.courses
        if course not in courses:
            # A course folder that did not load has had its own problems reported.
            return None if (self.reader.root / "courses" / course).is_dir() else \
                f"unknown course {course!r}: there is no courses/{course}/"
        if courses[course].quiz != self.slug:
            return (f"course {course!r} does not name this bank: its course.md needs "
                    f"quiz: {self.slug}")
        others = sorted(c.slug for c in courses.values()
                        if c.quiz == self.slug and c.slug != course)
        return f"course {others[0]!r} names this bank too: a bank belongs to one course" \
            if others else None

    def unique_ids(self, items):
        first = {}
        for i, item in enumerate(items):
            key = item.get("id") if isinstance(item, dict) else None
            if not isinstance(key, str):
                continue
            line = self.line(("questions", i, "id"))
            if key in first:
                self.error(line, f"question id {key!r} is used twice (also on line "
                           f"{first[key]})")
            else:
                first[key] = line

    def question(self, i, item):
        """The checked question at position i, or None after reporting its problems."""
        at, before = ("questions", i), self.count()
        line = self.line(at)
        if not isinstance(item, dict):
            return self.error(line, "a question is `key: value` lines (id:, type:, text:, ...)")
        for key in item:
            if key not in QUESTION_KEYS:
                self.error(self.line((*at, key)), f"unknown key {key!r}")
        for key in ("id", "type", "text"):
            if item.get(key) is None:
                self.error(line, f"missing key {key!r}")
        key, kind = item.get("id"), item.get("type")
        if key is not None and slug_problem(key):
            self.error(self.line((*at, "id")), f"id {slug_problem(key)}")
        if kind is not None and kind not in KINDS:
            self.error(self.line((*at, "type")), f"type must be one of {', '.join(KINDS)}")
        data = {"text": self.translations((*at, "text"), item["text"], "text")
                if item.get("text") is not None else None}
        if kind in KINDS:
            self.kind_fields(at, kind, item, data)
        if "feedback" in item:
            data["feedback"] = self.translations((*at, "feedback"), item["feedback"],
                                                 "feedback")
        if self.count() > before:
            return None
        return QuestionSource(key, kind, data, _digest([kind, data]), line)

    def kind_fields(self, at, kind, item, data):
        """Check and copy the choices, answer, accept and tolerant of a question."""
        for key, allowed in (("choices", kind in WITH_CHOICES), ("answer", kind != "short"),
                             ("accept", kind == "short"), ("tolerant", kind == "short")):
            if key in item and not allowed:
                self.error(self.line((*at, key)), f"a {kind} question has no {key}" + (
                    ": list the accepted answers in accept" if key == "answer" else ""))
            elif key not in item and allowed and key != "tolerant":
                self.error(self.line(at), f"missing key {key!r}")
        ids = None
        if kind in WITH_CHOICES and "choices" in item:
            data["choices"] = self.choices((*at, "choices"), item["choices"])
            ids = [c["id"] for c in data["choices"]] if data["choices"] else None
        if kind != "short" and "answer" in item:
            data["answer"] = self.answer(self.line((*at, "answer")), kind, item["answer"], ids)
        if kind == "short":
            if "accept" in item:
                data["accept"] = self.accept((*at, "accept"), item["accept"])
            data["tolerant"] = item.get("tolerant", False)
            if not isinstance(data["tolerant"], bool):
                self.error(self.line((*at, "tolerant")), "tolerant must be true or false")

    def choices(self, at, value):
        """[{"id", "text": {lang: text}}] of a question, or None after reporting."""
        if not isinstance(value, list) or len(value) < 2:
            return self.error(self.line(at), "choices must be a list of at least two choices")
        before, out, seen = self.count(), [], {}
        for j, choice in enumerate(value):
            here = (*at, j)
            if not isinstance(choice, dict):
                self.error(self.line(here), "a choice is `key: value` lines (id:, vi:, en:)")
                continue
            for key in choice:
                if key != "id" and key not in LANGUAGES:
                    self.error(self.line((*here, key)), f"unknown key {key!r}")
            cid = choice.get("id")
            if cid is None:
                self.error(self.line(here), "missing key 'id'")
            elif slug_problem(cid):
                self.error(self.line((*here, "id")), f"id {slug_problem(cid)}")
            elif cid in seen:
                self.error(self.line((*here, "id")), f"choice id {cid!r} is used twice "
                           f"(also on line {seen[cid]})")
            else:
                seen[cid] = self.line((*here, "id"))
            texts = {k: v for k, v in choice.items() if k in LANGUAGES}
            out.append({"id": cid, "text": self.translations(here, texts, f"choice {cid}")})
        return out if self.count() == before else None

    def answer(self, line, kind, value, ids):
        """The checked answer of a question with choices `ids` (None: they were wrong)."""
        if kind == "true_false":
            return value if isinstance(value, bool) else \
                self.error(line, "answer of a true_false question must be true or false")
        if kind == "single":
            if isinstance(value, list):
                return self.error(line, "answer of a single question is one choice id "
                                  "(for several, use type: multiple)")
            value = [value]
        elif not isinstance(value, list) or not value:
            return self.error(line, f"answer of a {kind} question must be a list of choice ids")
        if ids is None:
            return None
        unknown = [v for v in value if v not in ids]
        twice = [v for i, v in enumerate(value) if v in value[:i]]
        if unknown:
            self.error(line, f"answer {unknown[0]!r} is not one of the choices "
                       f"({', '.join(ids)})")
        elif twice:
            self.error(line, f"answer lists {twice[0]!r} twice")
        elif kind == "ordering" and len(value) < len(ids):
            missing = ", ".join(i for i in ids if i not in value)
            self.error(line, f"answer of an ordering question lists every choice once, in "
                       f"the right order: {missing} missing")
        else:
            return value[0] if kind == "single" else value
        return None

    def accept(self, at, value):
        """{lang: [accepted answers]} of a short question, or None after reporting."""
        if not isinstance(value, dict):
            return self.error(self.line(at), "accept must give the accepted answers per "
                              "language (vi: [...], en: [...])")
        before = self.count()
        self.languages(at, value, "accept")
        for lang in LANGUAGES:
            answers = value.get(lang)
            if lang in value and (not isinstance(answers, list) or not answers or any(
                    not isinstance(a, str) or not a.strip() for a in answers)):
                self.error(self.line((*at, lang)), f"accept {lang} must be a list of "
                           'non-empty texts (put numbers in quotes: "113")')
        return {lang: [a.strip() for a in value[lang]] for lang in LANGUAGES} \
            if self.count() == before else None

    def translations(self, at, value, name):
        """{lang: Markdown} of a text given in every language, or None after reporting."""
        if not isinstance(value, dict):
            return self.error(self.line(at), f"{name} must give the text per language "
                              f"({', '.join(f'{lang}: ...' for lang in LANGUAGES)})")
        before = self.count()
        self.languages(at, value, name)
        for lang in LANGUAGES:
            text = value.get(lang)
            if lang not in value:
                continue
            if not isinstance(text, str) or not text.strip():
                self.error(self.line((*at, lang)), f"{name} {lang} must be non-empty text")
                continue
            start = self.starts.get((*at, lang), self.line((*at, lang)))
            for number, problem in check_body(text, start, None, None):
                self.error(number, problem)
        return {lang: value[lang].strip() for lang in LANGUAGES} \
            if self.count() == before else None

    def languages(self, at, value, name):
        """Report unknown and missing languages of a per-language value."""
        unknown = sorted(map(str, set(value) - set(LANGUAGES)))
        if unknown:
            self.error(self.line(at), f"{name} has unknown language(s) {', '.join(unknown)}")
        for lang in LANGUAGES:
            if lang not in value:
                self.error(self.line(at), f"{name} has no {lang} translation: every text is "
                           f"given in {' and '.join(LANGUAGES)}")
