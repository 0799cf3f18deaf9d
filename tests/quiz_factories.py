"""Factories for question banks: a bank and its questions written straight to the tables,
as the content sync would leave them."""

from lms.extensions import db
from lms.quizzes.models import QuizBank, QuizQuestion

SETTINGS = {"pass_mark": 0.8, "time_limit_minutes": 0, "max_attempts": 0,
            "wait_minutes": 0, "shuffle_questions": False, "shuffle_choices": False,
            "show_answers": "after_submit"}
KINDS = ("single", "multiple", "true_false", "ordering", "short")


def question_data(kind, n):
    """The data of question number n of this kind; its right answer is easy to give."""
    text = {"vi": f"Câu hỏi **{n}** ({kind})?", "en": f"Question **{n}** ({kind})?"}
    feedback = {"vi": f"Giải thích câu {n}.", "en": f"Why question {n}."}
    data = {"text": text, "feedback": feedback}
    choices = [{"id": c, "text": {"vi": f"Lựa chọn {c} của câu {n}", "en": f"Choice {c} of {n}"}}
               for c in "abcd"]
    if kind == "single":
        data.update(choices=choices, answer="b")
    elif kind == "multiple":
        data.update(choices=choices, answer=["a", "c"])
    elif kind == "true_false":
        data.update(answer=True)
    elif kind == "ordering":
        data.update(choices=choices, answer=["a", "b", "c", "d"])
    elif kind == "short":
        data.update(accept={"vi": ["Cổng Dịch vụ công quốc gia"],
                            "en": ["National Public Service Portal"]}, tolerant=True)
    return data


def right_response(kind):
    """A response that earns full credit on a question made by question_data."""
    return {"single": "b", "multiple": ["a", "c"], "true_false": True,
            "ordering": ["a", "b", "c", "d"], "short": "cong dich vu cong quoc gia"}[kind]


def wrong_response(kind):
    """A response that earns nothing on a question made by question_data."""
    return {"single": "a", "multiple": ["b", "d"], "true_false": False,
            "ordering": ["d", "c", "b", "a"], "short": "không biết"}[kind]


def make_bank(course, n_questions=5, *, slug=None, kinds=KINDS, version=1, **settings):
    """A bank for `course` (whose quiz_slug is set to it) with n questions q01.., their kinds
    taken in turn from `kinds`; settings override the defaults above (draw: all n)."""
    slug = slug or f"{course.slug}-quiz"
    bank = QuizBank(slug=slug, course_id=course.id, version=version,
                    settings={**SETTINGS, "draw": n_questions, **settings})
    for n in range(1, n_questions + 1):
        kind = kinds[(n - 1) % len(kinds)]
        bank.questions.append(QuizQuestion(key=f"q{n:02d}", position=n, kind=kind,
                                           data=question_data(kind, n)))
    course.quiz_slug = slug
    db.session.add(bank)
    db.session.flush()
    return bank


def right_answers(attempt):
    """{key: right response} for every question of an attempt."""
    return {entry["key"]: right_response(entry["kind"]) for entry in attempt.paper}


def wrong_answers(attempt):
    """{key: wrong response} for every question of an attempt."""
    return {entry["key"]: wrong_response(entry["kind"]) for entry in attempt.paper}
