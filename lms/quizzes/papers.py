"""What the attempt and result pages show: question texts and choices rendered in the
attempt's order, the learner's responses, and (when allowed) the answers and feedback."""

import hashlib

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select

from lms.courses import rendering
from lms.courses.models import Course
from lms.extensions import db
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizQuestion

PRIMARY_LANG = "vi"


def paper_view(attempt, lang, saved):
    """The questions of an attempt, in its order: key, kind, number, lang, text (HTML),
    choices [{"id", "html"}] in its choice order, and the saved response. Never any answer,
    accepted text or feedback."""
    context = _Context(attempt, lang)
    items = []
    for number, entry in enumerate(attempt.paper, start=1):
        item = context.question(entry, number)
        item["choices"] = [{"id": choice_id, "html": html}
                           for choice_id, html in context.choices(entry).items()]
        item["saved"] = saved.get(entry["key"])
        items.append(item)
    return items


def result_view(attempt, lang, show):
    """Each question of a submitted attempt with the learner's response (raw and as HTML)
    and its credit; when `show`, also the right answer as HTML (`correct_html`, and for
    choices `correct` flags) and the feedback HTML (else these are None)."""
    context = _Context(attempt, lang)
    answers = {row.question_key: row for row in db.session.scalars(
        select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id))}
    items = []
    for number, entry in enumerate(attempt.paper, start=1):
        row = answers.get(entry["key"])
        response = row.response if row else None
        htmls = context.choices(entry)
        item = context.question(entry, number)
        chosen = _ids(response) if entry["kind"] in ("multiple", "ordering") else [response]
        item.update(
            response=response, response_html=_response_html(entry["kind"], response, htmls),
            credit=row.credit if row else None, correct_html=None, feedback=None,
            choices=[{"id": choice_id, "html": html, "chosen": choice_id in chosen,
                      "correct": None} for choice_id, html in htmls.items()])
        if show:
            answer = entry.get("answer")
            item["correct_html"] = (_accepted_html(entry.get("accept"), lang)
                                    if entry["kind"] == "short"
                                    else _response_html(entry["kind"], answer, htmls))
            correct = _ids(answer) if entry["kind"] in ("multiple", "ordering") else [answer]
            for choice in item["choices"]:
                choice["correct"] = choice["id"] in correct
            item["feedback"] = context.feedback(entry)
        items.append(item)
    return items


def answers_visible(attempt, settings):
    """May the learner see the right answers of this attempt (show_answers: never,
    after_submit, or after_pass: once they passed this quiz)?"""
    if attempt.status != "submitted":
        return False
    mode = (settings or {}).get("show_answers", "after_submit")
    if mode == "after_submit":
        return True
    if mode == "after_pass":
        return bool(attempt.passed) or db.session.scalar(
            select(QuizAttempt.id).where(QuizAttempt.user_id == attempt.user_id,
                                         QuizAttempt.bank_id == attempt.bank_id,
                                         QuizAttempt.passed.is_(True)).limit(1)) is not None
    return False


class _Context:
    """The attempt's questions (one query) and how to render their texts."""

    def __init__(self, attempt, lang):
        self.lang = lang
        keys = [entry["key"] for entry in attempt.paper]
        self.data = {q.key: q.data or {} for q in db.session.scalars(
            select(QuizQuestion).where(QuizQuestion.bank_id == attempt.bank_id,
                                       QuizQuestion.key.in_(keys)))} if keys else {}
        self.slug = db.session.scalar(select(Course.slug).where(Course.id == attempt.course_id))

    def question(self, entry, number):
        text_lang, text = _localized(self.data.get(entry["key"], {}).get("text"), self.lang)
        return {"key": entry["key"], "kind": entry["kind"], "number": number, "lang": text_lang,
                "text": self.render(text, text_lang)}

    def choices(self, entry):
        """{choice id: inline HTML} in the attempt's order."""
        texts = {c.get("id"): c.get("text") for c in
                 self.data.get(entry["key"], {}).get("choices") or [] if isinstance(c, dict)}
        out = {}
        for choice_id in entry.get("choices") or []:
            text_lang, text = _localized(texts.get(choice_id), self.lang)
            # A choice removed from the bank since the start still shows, by its id.
            out[choice_id] = _inline(self.render(text, text_lang)) if text else escape(choice_id)
        return out

    def feedback(self, entry):
        text_lang, text = _localized(self.data.get(entry["key"], {}).get("feedback"), self.lang)
        return self.render(text, text_lang) if text else None

    def render(self, text, lang):
        if not text:
            return Markup("")
        digest = hashlib.sha256(text.encode()).hexdigest()
        return rendering.render(text, digest, course_slug=self.slug or "", lang=lang or self.lang)


def _localized(texts, lang):
    """(language, text) in `lang`, else in Vietnamese, else in any language; (None, "")."""
    if isinstance(texts, str):
        return None, texts
    if not isinstance(texts, dict):
        return None, ""
    for candidate in (lang, PRIMARY_LANG, *texts):
        if isinstance(texts.get(candidate), str) and texts[candidate].strip():
            return candidate, texts[candidate]
    return None, ""


def _inline(html):
    """A one-paragraph rendering without its <p>, to sit inside a label or a sentence."""
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return Markup(html[3:-4])  # noqa: S704  (sanitised HTML, one element unwrapped)
    return html


def _ids(value):
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _response_html(kind, value, htmls):
    """A response (or an answer) as inline HTML, None when there is none."""
    if kind == "true_false":
        return (_("True") if value else _("False")) if isinstance(value, bool) else None
    if kind == "short":
        return escape(value) if isinstance(value, str) and value.strip() else None
    if kind == "single":
        return htmls.get(value) if isinstance(value, str) else None
    ids = [v for v in _ids(value) if v in htmls]
    if kind == "multiple":
        ids = [choice_id for choice_id in htmls if choice_id in ids]  # in the order shown
        return Markup("; ").join(htmls[v] for v in ids) if ids else None
    return Markup(" → ").join(htmls[v] for v in ids) if ids else None


def _accepted_html(accept, lang):
    """The accepted answers of a short question, in `lang` else Vietnamese else all."""
    if isinstance(accept, dict):
        values = accept.get(lang) or accept.get(PRIMARY_LANG) or \
            [text for texts in accept.values() if isinstance(texts, list) for text in texts]
    else:
        values = accept if isinstance(accept, list) else []
    values = [text for text in values if isinstance(text, str)]
    return Markup(" / ").join(values) if values else None
