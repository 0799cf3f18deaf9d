"""Grading rules, table by table: every kind, partial credit, the pass mark, bad input."""

import pytest

from lms.quizzes.grading import Grade, grade, question_credit

SINGLE = {"key": "s", "kind": "single", "choices": ["a", "b", "c"], "answer": "b"}
TRUE_FALSE = {"key": "t", "kind": "true_false", "choices": [], "answer": False}
MULTIPLE = {"key": "m", "kind": "multiple", "choices": ["a", "b", "c", "d", "e"],
            "answer": ["a", "c", "d"]}
ORDERING = {"key": "o", "kind": "ordering", "choices": ["c", "a", "b"],
            "answer": ["a", "b", "c"]}
SHORT = {"key": "p", "kind": "short", "choices": [], "answer": None, "tolerant": False,
         "accept": {"vi": ["Cổng Dịch vụ công quốc gia", "dichvucong.gov.vn"],
                    "en": ["National Public Service Portal"]}}
TOLERANT = {**SHORT, "tolerant": True}
# The same text, decomposed (NFD): what some keyboards and browsers send.
DECOMPOSED = "Co\u0302\u0309ng Di\u0323ch vu\u0323 co\u0302ng quo\u0302\u0301c gia"


@pytest.mark.parametrize(("question", "response", "credit"), [
    # single: the right id or nothing
    (SINGLE, "b", 1), (SINGLE, "a", 0), (SINGLE, "z", 0), (SINGLE, "", 0),
    # true_false: a real bool, equal to the answer
    (TRUE_FALSE, False, 1), (TRUE_FALSE, True, 0), (TRUE_FALSE, 0, 0), (TRUE_FALSE, "false", 0),
    ({**TRUE_FALSE, "answer": True}, True, 1), ({**TRUE_FALSE, "answer": True}, 1, 0),
    # multiple: (right ticked - wrong ticked) / right, floored at 0
    (MULTIPLE, ["a", "c", "d"], 1), (MULTIPLE, ["d", "a", "c"], 1),
    (MULTIPLE, ["a", "c"], 2 / 3), (MULTIPLE, ["a"], 1 / 3),
    (MULTIPLE, ["a", "c", "d", "b"], 2 / 3), (MULTIPLE, ["a", "c", "b"], 1 / 3),
    (MULTIPLE, ["a", "b"], 0), (MULTIPLE, ["b", "e"], 0), (MULTIPLE, ["a", "b", "e"], 0),
    (MULTIPLE, ["a", "b", "c", "d", "e"], 1 / 3), (MULTIPLE, [], 0),
    (MULTIPLE, ["a", "a", "a"], 1 / 3),  # duplicates count once
    (MULTIPLE, ["a", "c", "x", "y"], 2 / 3),  # unknown ids are ignored
    # ordering: only the exact order
    (ORDERING, ["a", "b", "c"], 1), (ORDERING, ["a", "c", "b"], 0), (ORDERING, ["a", "b"], 0),
    (ORDERING, ["a", "b", "c", "c"], 0), (ORDERING, ["c", "a", "b"], 0),
    # short: any accepted text of any language, NFC and spacing normalised
    (SHORT, "Cổng Dịch vụ công quốc gia", 1), (SHORT, "  Cổng  Dịch vụ\tcông quốc gia ", 1),
    (SHORT, DECOMPOSED, 1), (SHORT, "National Public Service Portal", 1),
    (SHORT, "dichvucong.gov.vn", 1), (SHORT, "cổng dịch vụ công quốc gia", 0),
    (SHORT, "Cong Dich vu cong quoc gia", 0), (SHORT, "Cổng Dịch vụ công", 0), (SHORT, "", 0),
    # tolerant: also case and Vietnamese diacritics (đ too)
    (TOLERANT, "cổng dịch vụ công quốc gia", 1), (TOLERANT, "CONG DICH VU CONG QUOC GIA", 1),
    (TOLERANT, "national public service portal", 1), (TOLERANT, "Cổng dịch vụ", 0),
    ({**TOLERANT, "accept": {"vi": ["Định danh điện tử"]}}, "dinh danh dien tu", 1),
    ({**TOLERANT, "accept": {"vi": ["Định danh điện tử"]}}, "DINH DANH DIEN", 0),
])
def test_question_credit(question, response, credit):
    assert question_credit(question, response) == pytest.approx(credit)


MALFORMED = [None, 1, 2.5, True, "b", ["b"], {"b": 1}, ("a", "b"), [None], [["a"]], [1, 2],
             object()]


@pytest.mark.parametrize("question", [SINGLE, TRUE_FALSE, MULTIPLE, ORDERING, SHORT, TOLERANT])
@pytest.mark.parametrize("response", MALFORMED)
def test_malformed_responses_earn_nothing_and_never_raise(question, response):
    credit = question_credit(question, response)
    assert 0 <= credit <= 1
    right = {"single": "b", "true_false": False}.get(question["kind"])
    if response != right or type(response) is not type(right):
        assert credit == 0


@pytest.mark.parametrize("question", [
    {"key": "x", "kind": "essay", "answer": "b"},  # unknown kind
    {"key": "x", "kind": "multiple", "choices": ["a"], "answer": []},  # nothing right
    {"key": "x", "kind": "multiple", "choices": ["a"], "answer": None},
    {"key": "x", "kind": "ordering", "choices": [], "answer": []},
    {"key": "x", "kind": "short", "accept": None},
    {"key": "x", "kind": "short", "accept": {"vi": "not a list"}},
])
def test_broken_questions_give_nothing(question):
    for response in ([], "", None, ["a"], "a"):
        assert question_credit(question, response) == 0


def _paper(n, kind="single"):
    return [{"key": f"q{i}", "kind": kind, "choices": ["a", "b", "c"], "answer": "a"}
            for i in range(n)]


def _right(n, how_many):
    return {f"q{i}": "a" for i in range(how_many)}


@pytest.mark.parametrize(("n", "right", "pass_mark", "passed"), [
    (10, 8, 0.8, True),  # exactly at the mark
    (10, 7, 0.8, False),
    (10, 10, 1.0, True), (10, 9, 1.0, False),
    (5, 4, 0.8, True), (5, 3, 0.8, False),
    (3, 2, 2 / 3, True), (3, 1, 2 / 3, False),
    (10, 7, 0.7, True), (10, 6, 0.7, False),  # in floats 0.7 * 10 is 7.000000000000001
    (100, 57, 0.57, True), (100, 56, 0.57, False),
    (12, 0, 0.01, False),
])
def test_pass_mark_boundaries(n, right, pass_mark, passed):
    result = grade(_paper(n), _right(n, right), pass_mark)
    assert result.score == right
    assert result.max_score == n
    assert result.passed is passed


def test_partial_credits_add_up_exactly_to_the_pass_mark():
    """9.6 of 12 at 0.8: nine right and three multiples at 0.2 (1/5 each) add up exactly."""
    multiple = {"kind": "multiple", "choices": ["a", "b", "c", "d", "e", "f"],
                "answer": ["a", "b", "c", "d", "e"]}
    paper = _paper(9) + [{**multiple, "key": f"m{i}"} for i in range(3)]
    responses = {**_right(9, 9), **{f"m{i}": ["a"] for i in range(3)}}
    result = grade(paper, responses, 0.8)
    assert result.credits["m0"] == pytest.approx(0.2)
    assert result.score == pytest.approx(9.6)
    assert result.passed is True
    just_below = {**responses, "m2": []}
    assert grade(paper, just_below, 0.8).passed is False


def test_tenths_that_floats_would_sum_short():
    """Ten credits of 0.1 make 0.9999999999999999 in floats; exactly 1 here, which passes."""
    multiple = {"kind": "multiple", "choices": list("abcdefghij"), "answer": list("abcdefghij")}
    paper = [{**multiple, "key": f"m{i}"} for i in range(10)]
    result = grade(paper, {f"m{i}": ["a"] for i in range(10)}, 0.1)
    assert result.score == pytest.approx(1)
    assert result.passed is True


def test_thirds_at_two_thirds():
    multiple = {"kind": "multiple", "choices": ["a", "b", "c"], "answer": ["a", "b", "c"]}
    paper = [{**multiple, "key": f"m{i}"} for i in range(3)]
    result = grade(paper, {f"m{i}": ["a", "b"] for i in range(3)}, 2 / 3)
    assert result.score == pytest.approx(2)
    assert result.passed is True


@pytest.mark.parametrize("responses", [{}, None, {"q0": None}, {"other": "a"}, []])
def test_missing_or_malformed_responses_score_zero(responses):
    result = grade(_paper(2), responses, 0.5)
    assert result == Grade(0.0, 2, False, {"q0": 0.0, "q1": 0.0})


def test_an_empty_paper_never_passes():
    assert grade([], {}, 0.0).passed is False
    assert grade([], {}, 0.8) == Grade(0.0, 0, False, {})


def test_grade_reports_each_credit_by_key():
    paper = [SINGLE, MULTIPLE, ORDERING, TOLERANT, TRUE_FALSE]
    result = grade(paper, {"s": "b", "m": ["a"], "o": ["a", "b", "c"], "p": "x"}, 0.5)
    assert result.credits == pytest.approx({"s": 1, "m": 1 / 3, "o": 1, "p": 0, "t": 0})
    assert result.score == pytest.approx(7 / 3)
    assert result.max_score == 5
    assert result.passed is False
