"""Grading: pure functions from a paper and the learner's responses to credits and a verdict.

A paper entry is {"key", "kind", "choices": [ids], "answer", "accept": {lang: [text]},
"tolerant"}. Responses: single -> choice id, multiple -> list of ids, true_false -> bool,
ordering -> list of ids, short -> text. A malformed response earns nothing; it never raises.
"""

from dataclasses import dataclass, field
from fractions import Fraction

from lms.text import fold, nfc

ZERO, ONE = Fraction(0), Fraction(1)


@dataclass(frozen=True)
class Grade:
    """The result of grading a paper: points, out of how many, the verdict, and the credit
    of each question by key."""

    score: float
    max_score: int
    passed: bool
    credits: dict = field(default_factory=dict)


def question_credit(question: dict, response) -> float:
    """The credit, 0 to 1, that `response` earns on one question of a paper."""
    return float(_credit(question, response))


def grade(paper: list[dict], responses: dict[str, object], pass_mark: float) -> Grade:
    """Grade a paper: a point per question, passed when score / max_score >= pass_mark
    (compared exactly, so that a score right at the pass mark passes)."""
    responses = responses if isinstance(responses, dict) else {}
    credits = {entry["key"]: _credit(entry, responses.get(entry["key"])) for entry in paper}
    score, max_score = sum(credits.values(), ZERO), len(paper)
    passed = max_score > 0 and score >= _exact(pass_mark) * max_score
    return Grade(float(score), max_score, passed,
                 {key: float(credit) for key, credit in credits.items()})


def _exact(pass_mark):
    # The shortest decimal of the float: 0.8 is 4/5, not 0.8000000000000000444.
    try:
        return Fraction(repr(float(pass_mark)))
    except (TypeError, ValueError, OverflowError):
        return ONE


def _credit(question, response):
    kind = question.get("kind")
    answer = question.get("answer")
    if kind in ("single", "true_false"):
        expected = bool if kind == "true_false" else str
        ok = type(response) is expected and type(answer) is expected and response == answer
        return ONE if ok else ZERO
    if kind == "multiple":
        return _multiple(question.get("choices"), answer, response)
    if kind == "ordering":
        order, expected = _ids(response), _ids(answer)
        return ONE if expected and order == expected else ZERO
    if kind == "short":
        return ONE if _short_match(question, response) else ZERO
    return ZERO


def _ids(value):
    """The value as a list of choice ids, or None when it is not one."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return None
    return list(value)


def _multiple(choices, answer, response):
    correct, ticked = _ids(answer), _ids(response)
    if not correct or ticked is None:
        return ZERO
    correct = set(correct)
    ticked = set(ticked)  # a choice ticked twice counts once
    known = _ids(choices)
    if known:
        ticked &= set(known) | correct  # ids that are no choice of the question are ignored
    right, wrong = len(ticked & correct), len(ticked - correct)
    return max(ZERO, Fraction(right - wrong, len(correct)))


def _short_match(question, response):
    if not isinstance(response, str):
        return False
    given = nfc(response)
    if not given:
        return False
    tolerant = question.get("tolerant") is True
    if tolerant:
        given = fold(given)
    for text in _accepted(question.get("accept")):
        expected = fold(text) if tolerant else nfc(text)
        if expected and expected == given:
            return True
    return False


def _accepted(accept):
    """Every accepted answer, of every language."""
    if isinstance(accept, dict):
        lists = accept.values()
    elif isinstance(accept, list):
        lists = [accept]
    else:
        return []
    return [text for values in lists if isinstance(values, list)
            for text in values if isinstance(text, str)]
