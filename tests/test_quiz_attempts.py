"""Attempts as a learner lives them: start, resume, save, the clock, submit once, the limits,
completion, re-grading, statistics and what the pages may show."""

import inspect
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.courses.models import CourseCompletion
from lms.courses.services import mark_read
from lms.quizzes import results, services
from lms.quizzes.models import QuizAnswer, QuizAttempt
from lms.quizzes.services import (
    GRACE,
    QuizError,
    answers_visible,
    attempt_of,
    bank_for_course,
    complete_course,
    expire_if_overdue,
    paper_view,
    quiz_stats,
    quiz_status,
    regrade,
    result_view,
    save_answers,
    start_attempt,
    submit_attempt,
)
from tests.conftest import make_user
from tests.course_factories import make_course, read
from tests.quiz_factories import make_bank, right_answers, wrong_answers

T0 = datetime(2026, 5, 4, 8, 0)


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def course(db):
    return make_course("alpha", 2)


@pytest.fixture
def learner(users):
    return users["learner"]


def start(user, bank, now=T0, seed=1):
    return start_attempt(user, bank, now=now, rng=random.Random(seed))


# Starting --------------------------------------------------------------------------------

def test_start_draws_the_questions_and_fixes_their_order(db, course, learner):
    bank = make_bank(course, 10, draw=4, time_limit_minutes=20, shuffle_questions=True,
                     shuffle_choices=True, pass_mark=0.75, version=3)
    attempt = start(learner, bank)
    assert bank_for_course(course) == bank
    assert len(attempt.paper) == 4
    assert len({entry["key"] for entry in attempt.paper}) == 4
    assert (attempt.number, attempt.status, attempt.bank_version) == (1, "open", 3)
    assert (attempt.pass_mark, attempt.max_score, attempt.score, attempt.passed) == (
        0.75, 4, None, None)
    assert attempt.started_at == T0
    assert attempt.deadline_at == T0 + timedelta(minutes=20)
    questions = {q.key: q for q in bank.questions}
    for entry in attempt.paper:
        question = questions[entry["key"]]
        ids = [c["id"] for c in question.data.get("choices", [])]
        assert sorted(entry["choices"]) == sorted(ids)
        assert entry["kind"] == question.kind
        assert entry["answer"] == question.data.get("answer")
    db.session.expire_all()
    stored = db.session.get(QuizAttempt, attempt.id)
    assert stored.paper == attempt.paper  # the order shown is the order stored


def test_the_same_seed_draws_the_same_paper_and_another_seed_another(db, course, learner, users):
    bank = make_bank(course, 10, draw=5, shuffle_questions=True, shuffle_choices=True)
    first = start(learner, bank, seed=7).paper
    second = start(users["office_learner"], bank, seed=7).paper
    assert first == second
    other = start(make_user(), bank, seed=8).paper
    assert other != first


def test_without_shuffling_the_bank_order_stays(course, learner):
    bank = make_bank(course, 6, draw=0, kinds=("single", "multiple", "true_false", "short"))
    bank.questions[2].active = False
    attempt = start(learner, bank)
    assert [entry["key"] for entry in attempt.paper] == ["q01", "q02", "q04", "q05", "q06"]
    single = attempt.paper[0]
    assert single["choices"] == ["a", "b", "c", "d"]
    assert attempt.max_score == 5
    assert attempt.deadline_at is None


def test_an_ordering_question_is_never_shown_in_its_right_order(course, learner, users):
    bank = make_bank(course, 1, kinds=("ordering",), shuffle_choices=False)
    for seed in range(20):
        attempt = start(make_user(), bank, seed=seed)
        entry = attempt.paper[0]
        assert sorted(entry["choices"]) == ["a", "b", "c", "d"]
        assert entry["choices"] != entry["answer"]


def test_true_false_and_short_questions_have_no_choices_to_shuffle(course, learner):
    bank = make_bank(course, 2, kinds=("true_false", "short"), shuffle_choices=True)
    assert [entry["choices"] for entry in start(learner, bank).paper] == [[], []]


def test_starting_again_resumes_the_open_attempt(db, course, learner):
    bank = make_bank(course)
    first = start(learner, bank)
    again = start(learner, bank, now=T0 + timedelta(minutes=5), seed=99)
    assert again.id == first.id
    assert again.paper == first.paper
    assert count(db, QuizAttempt) == 1
    assert quiz_status(learner, bank, now=T0).open_attempt == first


def test_a_bank_without_active_questions_is_unavailable(course, learner):
    bank = make_bank(course, 2)
    for question in bank.questions:
        question.active = False
    with pytest.raises(QuizError) as refused:
        start(learner, bank)
    assert refused.value.code == "unavailable"
    assert quiz_status(learner, bank).can_start is False


def test_the_number_of_attempts_is_limited(course, learner):
    bank = make_bank(course, max_attempts=2)
    for n in (1, 2):
        attempt = start(learner, bank, now=T0 + timedelta(hours=n))
        assert attempt.number == n
        assert quiz_status(learner, bank, now=T0).attempts_left == 2 - n
        submit_attempt(attempt, wrong_answers(attempt), now=T0 + timedelta(hours=n, minutes=5))
    status = quiz_status(learner, bank, now=T0 + timedelta(hours=3))
    assert (status.attempts_used, status.attempts_left, status.can_start) == (2, 0, False)
    assert [a.number for a in status.attempts] == [2, 1]  # newest first
    with pytest.raises(QuizError) as refused:
        start(learner, bank, now=T0 + timedelta(hours=3))
    assert refused.value.code == "max_attempts"


def test_unlimited_attempts(course, learner):
    bank = make_bank(course, max_attempts=0)
    for n in range(1, 5):
        attempt = start(learner, bank, now=T0 + timedelta(hours=n))
        submit_attempt(attempt, wrong_answers(attempt), now=T0 + timedelta(hours=n, minutes=1))
    status = quiz_status(learner, bank, now=T0 + timedelta(hours=6))
    assert (status.attempts_used, status.attempts_left, status.can_start) == (4, None, True)


def test_a_failed_attempt_imposes_the_wait(course, learner):
    bank = make_bank(course, wait_minutes=30)
    attempt = start(learner, bank)
    submitted_at = T0 + timedelta(minutes=3)
    submit_attempt(attempt, wrong_answers(attempt), now=submitted_at)
    until = submitted_at + timedelta(minutes=30)
    status = quiz_status(learner, bank, now=submitted_at + timedelta(minutes=10))
    assert (status.next_start_at, status.can_start, status.passed) == (until, False, False)
    with pytest.raises(QuizError) as refused:
        start(learner, bank, now=until - timedelta(seconds=1))
    assert (refused.value.code, refused.value.until) == ("wait", until)
    assert quiz_status(learner, bank, now=until + timedelta(seconds=1)).can_start is True
    assert start(learner, bank, now=until + timedelta(seconds=1)).number == 2


def test_no_wait_after_a_passed_attempt(course, learner):
    bank = make_bank(course, wait_minutes=30)
    attempt = start(learner, bank)
    submit_attempt(attempt, right_answers(attempt), now=T0 + timedelta(minutes=3))
    status = quiz_status(learner, bank, now=T0 + timedelta(minutes=4))
    assert (status.passed, status.best, status.next_start_at, status.can_start) == (
        True, 1.0, None, True)


# Saving and the clock --------------------------------------------------------------------

def test_answers_are_saved_for_the_questions_of_the_paper_only(db, course, learner):
    bank = make_bank(course, 5, draw=3)
    attempt = start(learner, bank)
    keys = [entry["key"] for entry in attempt.paper]
    saved = save_answers(attempt, {keys[0]: "a", keys[1]: ["x"], "not-drawn": "b", "q99": 1},
                         now=T0 + timedelta(minutes=1))
    assert saved == 2
    saved = save_answers(attempt, {keys[0]: "b"}, now=T0 + timedelta(minutes=2))
    rows = {row.question_key: row for row in db.session.scalars(select(QuizAnswer))}
    assert set(rows) == {keys[0], keys[1]}
    assert rows[keys[0]].response == "b"
    assert rows[keys[0]].saved_at == T0 + timedelta(minutes=2)
    assert rows[keys[0]].credit is None  # credits come from grading only


def test_a_save_within_the_grace_is_kept(course, learner):
    bank = make_bank(course, 2, time_limit_minutes=10)
    attempt = start(learner, bank)
    key = attempt.paper[0]["key"]
    assert save_answers(attempt, {key: "b"}, now=attempt.deadline_at + GRACE) == 1
    assert attempt.status == "open"


def test_a_save_after_the_deadline_submits_what_was_saved(db, course, learner):
    bank = make_bank(course, 2, kinds=("single",), time_limit_minutes=10, pass_mark=0.5)
    attempt = start(learner, bank)
    first, second = (entry["key"] for entry in attempt.paper)
    save_answers(attempt, {first: "b"}, now=T0 + timedelta(minutes=9))
    late = attempt.deadline_at + GRACE + timedelta(seconds=1)
    with pytest.raises(QuizError) as refused:
        save_answers(attempt, {second: "b"}, now=late)
    assert refused.value.code == "expired"
    assert (attempt.status, attempt.timed_out, attempt.score, attempt.passed) == (
        "submitted", True, 1.0, True)
    assert attempt.submitted_at == attempt.deadline_at  # the time ran out then
    credits = dict(db.session.execute(select(QuizAnswer.question_key, QuizAnswer.credit)).all())
    assert credits == {first: 1.0, second: 0.0}  # the late answer was not taken
    with pytest.raises(QuizError) as closed:
        save_answers(attempt, {second: "b"}, now=late)
    assert closed.value.code == "closed"


def test_a_late_submit_ignores_the_answers_it_brings(course, learner):
    bank = make_bank(course, 2, kinds=("single",), time_limit_minutes=10)
    attempt = start(learner, bank)
    submit_attempt(attempt, right_answers(attempt), now=T0 + timedelta(minutes=11))
    assert (attempt.timed_out, attempt.score, attempt.passed) == (True, 0.0, False)


def test_an_overdue_attempt_is_submitted_when_it_is_next_looked_at(course, learner):
    bank = make_bank(course, 2, time_limit_minutes=10)
    attempt = start(learner, bank)
    assert expire_if_overdue(attempt, now=attempt.deadline_at + GRACE) is False
    status = quiz_status(learner, bank, now=T0 + timedelta(hours=1))
    assert status.open_attempt is None
    assert (attempt.status, attempt.timed_out, attempt.score) == ("submitted", True, 0.0)
    assert expire_if_overdue(attempt, now=T0 + timedelta(hours=2)) is False


# Submitting ------------------------------------------------------------------------------

def test_submitting_twice_grades_once(db, course, learner, monkeypatch):
    bank = make_bank(course, 5)
    attempt = start(learner, bank)
    gradings = []
    original = results.grade
    monkeypatch.setattr(results, "grade", lambda *a: gradings.append(a) or original(*a))
    submit_attempt(attempt, right_answers(attempt), now=T0 + timedelta(minutes=5))
    first = (attempt.score, attempt.passed, attempt.submitted_at)
    again = submit_attempt(attempt, wrong_answers(attempt), now=T0 + timedelta(minutes=6))
    assert again is attempt
    assert (attempt.score, attempt.passed, attempt.submitted_at) == first == (
        5.0, True, T0 + timedelta(minutes=5))
    assert len(gradings) == 1
    assert count(db, QuizAnswer) == 5


def test_unanswered_questions_count_zero_and_get_a_row(db, course, learner):
    bank = make_bank(course, 5, kinds=("single",))
    attempt = start(learner, bank)
    save_answers(attempt, {"q01": "b", "q02": "b"}, now=T0)
    submit_attempt(attempt, {"q03": "b"}, now=T0 + timedelta(minutes=1))
    credits = dict(db.session.execute(select(QuizAnswer.question_key, QuizAnswer.credit)).all())
    assert credits == {"q01": 1.0, "q02": 1.0, "q03": 1.0, "q04": 0.0, "q05": 0.0}
    assert (attempt.score, attempt.max_score, attempt.passed) == (3.0, 5, False)


def test_partial_credit_and_the_pass_mark_at_the_boundary(course, learner):
    bank = make_bank(course, 5, pass_mark=0.8)
    attempt = start(learner, bank)
    responses = right_answers(attempt)
    responses["q02"] = ["a"]  # multiple: one of two right choices, half a point
    responses["q04"] = ["a", "b", "d", "c"]  # ordering: not exact, nothing
    submit_attempt(attempt, responses, now=T0)
    assert (attempt.score, attempt.passed) == (3.5, False)
    other = start(make_user(), bank)
    responses = right_answers(other)
    responses["q05"] = "không biết"
    submit_attempt(other, responses, now=T0)
    assert (other.score, other.passed) == (4.0, True)  # exactly 0.8


def test_a_learner_cannot_reach_another_learners_attempt(course, learner, users):
    bank = make_bank(course)
    attempt = start(learner, bank)
    assert attempt_of(learner, attempt.id) == attempt
    assert attempt_of(users["office_learner"], attempt.id) is None
    assert attempt_of(learner, attempt.id + 1000) is None


def test_no_public_function_takes_a_score():
    for name in services.__all__:
        function = getattr(services, name)
        if inspect.isfunction(function):
            parameters = set(inspect.signature(function).parameters)
            assert not parameters & {"score", "passed", "credit", "credits", "max_score"}, name


def test_editing_the_bank_after_the_start_does_not_change_the_score(db, course, learner):
    bank = make_bank(course, 5, kinds=("single",))
    attempt = start(learner, bank)
    question = bank.questions[0]
    question.data = {**question.data, "answer": "c"}
    db.session.flush()
    submit_attempt(attempt, right_answers(attempt), now=T0)  # "b" everywhere, the key at start
    assert (attempt.score, attempt.passed) == (5.0, True)
    db.session.expire_all()
    assert db.session.get(QuizAttempt, attempt.id).score == 5.0


# Re-grading ------------------------------------------------------------------------------

def test_regrade_applies_the_current_key_and_is_audit_logged(db, course, learner, users):
    bank = make_bank(course, 5, kinds=("single",))
    other = users["office_learner"]
    read(learner, *course.modules)
    read(other, *course.modules)
    mine, theirs = start(learner, bank), start(other, bank)
    question = bank.questions[0]
    question.data = {**question.data, "answer": "c"}  # the author fixes q01's key
    submit_attempt(mine, {**right_answers(mine), "q02": "a"}, now=T0)  # q01 "b": 4/5
    submit_attempt(theirs, {**right_answers(theirs), "q01": "c", "q02": "a"}, now=T0)  # 3/5
    assert (mine.score, mine.passed, theirs.score, theirs.passed) == (4.0, True, 3.0, False)
    assert count(db, CourseCompletion) == 1
    removed = bank.questions[4]  # q05 leaves the bank (inactive): its key stays the paper's
    removed.active, removed.data = False, {**removed.data, "answer": "d"}
    db.session.flush()

    counts = regrade(bank, users["admin"], ip="10.0.0.9")

    assert counts == {"attempts": 2, "changed": 2, "now_passed": 1, "now_failed": 1,
                      "completions_withdrawn": 1}
    assert (mine.score, mine.passed, theirs.score, theirs.passed) == (3.0, False, 4.0, True)
    credits = dict(db.session.execute(select(QuizAnswer.question_key, QuizAnswer.credit)
                                      .where(QuizAnswer.attempt_id == mine.id)).all())
    assert credits == {"q01": 0.0, "q02": 0.0, "q03": 1.0, "q04": 1.0, "q05": 1.0}
    assert mine.paper[0]["answer"] == "c"
    # The first learner's completion is withdrawn (no other passed attempt); the second
    # learner now completes.
    assert {c.user_id for c in db.session.scalars(select(CourseCompletion))} == {other.id}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "quiz_regraded"))
    assert (event.actor_id, event.object_type, event.object_id, event.ip) == (
        users["admin"].id, "quiz_banks", str(bank.id), "10.0.0.9")
    assert event.detail == {"bank": bank.slug, **counts}
    assert regrade(bank, users["admin"])["changed"] == 0  # a second run changes nothing


def test_regrade_command(db, runner, course, learner):
    bank = make_bank(course, 5, kinds=("single",), pass_mark=1.0)
    attempt = start(learner, bank)
    submit_attempt(attempt, right_answers(attempt), now=T0)
    question = bank.questions[0]
    question.data = {**question.data, "answer": "a"}
    db.session.flush()
    result = runner.invoke(args=["lms", "regrade", bank.slug])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "alpha-quiz: 1 attempt(s) re-graded: 1 changed, 0 now passed, 1 now failed.\n")
    assert attempt.score == 4.0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "quiz_regraded"))
    assert event.actor_id is None
    missing = runner.invoke(args=["lms", "regrade", "no-such-bank"])
    assert missing.exit_code == 2
    assert "no question bank 'no-such-bank'" in missing.output


# Completion ------------------------------------------------------------------------------

def test_passing_after_reading_everything_completes_the_course(db, course, learner):
    bank = make_bank(course)
    course.version = 4
    read(learner, *course.modules)
    attempt = start(learner, bank)
    submit_attempt(attempt, right_answers(attempt), now=T0)
    completion = db.session.scalar(select(CourseCompletion))
    assert (completion.user_id, completion.course_id, completion.attempt_id,
            completion.course_version) == (learner.id, course.id, attempt.id, 4)
    assert complete_course(learner.id, course.id) == completion  # once


def test_reading_the_last_module_after_passing_completes_the_course(db, course, learner):
    bank = make_bank(course)
    mark_read(learner, course.modules[0])
    attempt = start(learner, bank)
    submit_attempt(attempt, right_answers(attempt), now=T0)
    assert count(db, CourseCompletion) == 0
    mark_read(learner, course.modules[1])
    completion = db.session.scalar(select(CourseCompletion))
    assert (completion.user_id, completion.attempt_id) == (learner.id, attempt.id)


def test_a_failed_quiz_completes_nothing(db, course, learner):
    bank = make_bank(course)
    read(learner, *course.modules)
    attempt = start(learner, bank)
    submit_attempt(attempt, wrong_answers(attempt), now=T0)
    mark_read(learner, course.modules[1])
    assert count(db, CourseCompletion) == 0
    assert complete_course(learner.id, course.id, attempt) is None


def test_a_course_without_a_quiz_completes_on_its_last_read(db, learner):
    course = make_course("beta", 3, drafts=(3,))
    mark_read(learner, course.modules[0])
    assert count(db, CourseCompletion) == 0
    mark_read(learner, course.modules[1])  # module 3 is a draft
    completion = db.session.scalar(select(CourseCompletion))
    assert (completion.user_id, completion.course_id, completion.attempt_id) == (
        learner.id, course.id, None)
    mark_read(learner, course.modules[1])
    assert count(db, CourseCompletion) == 1


# What the pages show ---------------------------------------------------------------------

def test_the_attempt_page_never_carries_the_answers(course, learner):
    bank = make_bank(course, 5, shuffle_choices=True)
    attempt = start(learner, bank, seed=3)
    first = attempt.paper[0]["key"]
    questions = paper_view(attempt, "en", {first: "b"})
    assert [q["key"] for q in questions] == [entry["key"] for entry in attempt.paper]
    assert [q["number"] for q in questions] == [1, 2, 3, 4, 5]
    for question, entry in zip(questions, attempt.paper, strict=True):
        assert set(question) == {"key", "kind", "number", "lang", "text", "choices", "saved"}
        assert [c["id"] for c in question["choices"]] == entry["choices"]
        assert all(set(c) == {"id", "html"} for c in question["choices"])
    assert questions[0]["saved"] == "b"
    assert questions[1]["saved"] is None
    assert "<strong>1</strong>" in questions[0]["text"]
    assert questions[0]["lang"] == "en"
    shown = repr(questions)
    for secret in ("Why question", "Giải thích", "National Public Service Portal",
                   "Cổng Dịch vụ công", "answer", "accept", "feedback", "tolerant"):
        assert secret not in shown


def test_texts_fall_back_to_vietnamese(course, learner):
    bank = make_bank(course, 1, kinds=("single",))
    question = bank.questions[0]
    question.data = {**question.data, "text": {"vi": "Chỉ có tiếng Việt"}}
    attempt = start(learner, bank)
    shown = paper_view(attempt, "en", {})[0]
    assert shown["lang"] == "vi"
    assert "Chỉ có tiếng Việt" in shown["text"]
    assert shown["choices"][0]["html"] == "Choice a of 1"  # one paragraph, unwrapped


def test_the_result_shows_answers_only_when_allowed(course, learner):
    bank = make_bank(course, 5, show_answers="after_pass")
    attempt = start(learner, bank)
    submit_attempt(attempt, {**right_answers(attempt), "q01": "a", "q02": ["a"]}, now=T0)
    assert answers_visible(attempt, bank.settings) is False
    hidden = result_view(attempt, "vi", show=False)
    assert [q["credit"] for q in hidden] == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert hidden[0]["response_html"] == "Lựa chọn a của câu 1"
    assert hidden[2]["response_html"] == "Đúng"  # "True", in the default Vietnamese
    assert hidden[4]["response_html"] == "cong dich vu cong quoc gia"
    assert all(q["correct_html"] is None and q["feedback"] is None for q in hidden)
    assert all(c["correct"] is None for q in hidden for c in q["choices"])
    assert "Giải thích" not in repr(hidden)

    shown = result_view(attempt, "vi", show=True)
    assert shown[0]["correct_html"] == "Lựa chọn b của câu 1"
    assert [c["id"] for c in shown[0]["choices"] if c["correct"]] == ["b"]
    assert [c["id"] for c in shown[0]["choices"] if c["chosen"]] == ["a"]
    assert shown[1]["correct_html"] == "Lựa chọn a của câu 2; Lựa chọn c của câu 2"
    assert shown[3]["correct_html"] == ("Lựa chọn a của câu 4 → Lựa chọn b của câu 4 → "
                                        "Lựa chọn c của câu 4 → Lựa chọn d của câu 4")
    assert shown[4]["correct_html"] == "Cổng Dịch vụ công quốc gia"
    assert "Giải thích câu 1." in shown[0]["feedback"]

    again = start(learner, bank, now=T0 + timedelta(hours=1))
    submit_attempt(again, right_answers(again), now=T0 + timedelta(hours=1))
    assert answers_visible(attempt, bank.settings) is True  # once passed, also the old one


@pytest.mark.parametrize(("mode", "open_", "failed", "passed"), [
    ("never", False, False, False),
    ("after_submit", False, True, True),
    ("after_pass", False, False, True),
])
def test_answers_visible(course, users, mode, open_, failed, passed):
    bank = make_bank(course, 2, kinds=("single",), show_answers=mode)
    attempts = {}
    for name, answers in (("open", None), ("failed", wrong_answers), ("passed", right_answers)):
        attempt = start(make_user(), bank)
        if answers:
            submit_attempt(attempt, answers(attempt), now=T0)
        attempts[name] = attempt
    assert [answers_visible(attempts[n], bank.settings) for n in ("open", "failed", "passed")] \
        == [open_, failed, passed]


# Statistics ------------------------------------------------------------------------------

def test_quiz_stats_on_a_small_example(db, course, org, users):
    """Four learners of the office (in HR's scope) answer q01-q03 (1 right, 0 wrong):
    A 1 1 1 (ratio 1), B 1 1 0 (2/3), C 1 0 0 (1/3), D 0 0 1 (1/3); pass mark 2/3.
    Point-biserial r = (nΣxy − ΣxΣy) / √((nΣx² − (Σx)²)(nΣy² − (Σy)²)), with n = 4,
    Σy = 7/3, nΣy² − (Σy)² = 4·15/9 − 49/9 = 11/9:
    q01 x = 1 1 1 0: (8 − 7) / √(3 · 11/9) = √(3/11);
    q02 x = 1 1 0 0: (20/3 − 14/3) / √(4 · 11/9) = 3/√11;
    q03 x = 1 0 0 1: (16/3 − 14/3) / √(4 · 11/9) = 1/√11."""
    bank = make_bank(course, 4, kinds=("single",), draw=3, pass_mark=2 / 3)
    bank.questions[3].active = False  # q04: never drawn, not listed
    rows = {"A": (1, 1, 1), "B": (1, 1, 0), "C": (1, 0, 0), "D": (0, 0, 1)}
    for marks in rows.values():
        attempt = start(make_user(org["office"]), bank)
        submit_attempt(attempt, {f"q0{i}": "b" if m else "a" for i, m in enumerate(marks, 1)},
                       now=T0)
    outside = start(make_user(org["commune"]), bank)  # outside HR's department
    submit_attempt(outside, {}, now=T0)
    start(make_user(org["office"]), bank)  # still open: not counted

    stats = quiz_stats(bank, users["hr"])
    assert (stats.attempts, stats.learners) == (4, 4)
    assert stats.pass_rate == pytest.approx(0.5)
    assert stats.mean_score == pytest.approx(7 / 12)
    by_key = {q.key: q for q in stats.questions}
    assert list(by_key) == ["q01", "q02", "q03"]
    assert [q.drawn for q in stats.questions] == [4, 4, 4]
    assert [q.difficulty for q in stats.questions] == pytest.approx([0.75, 0.5, 0.5])
    assert [q.discrimination for q in stats.questions] == pytest.approx(
        [(3 / 11) ** 0.5, 3 / 11 ** 0.5, 1 / 11 ** 0.5])

    everyone = quiz_stats(bank, users["admin"])
    assert (everyone.attempts, everyone.learners) == (5, 5)
    assert everyone.pass_rate == pytest.approx(0.4)
    head = quiz_stats(bank, users["head"])  # the district: the commune learner only
    assert (head.attempts, head.pass_rate, head.mean_score) == (1, 0.0, 0.0)
    assert [q.discrimination for q in head.questions] == [None, None, None]  # one attempt


def test_quiz_stats_without_variation_or_attempts(course, org, users):
    bank = make_bank(course, 2, kinds=("single",), draw=2)
    empty = quiz_stats(bank, users["admin"])
    assert (empty.attempts, empty.learners, empty.pass_rate, empty.mean_score) == (
        0, 0, None, None)
    assert [(q.key, q.drawn, q.difficulty, q.discrimination) for q in empty.questions] == [
        ("q01", 0, None, None), ("q02", 0, None, None)]
    for q02 in ("a", "b"):
        attempt = start(make_user(org["office"]), bank)
        submit_attempt(attempt, {"q01": "b", "q02": q02}, now=T0)
    q01, q02 = quiz_stats(bank, users["admin"]).questions
    assert (q01.difficulty, q01.discrimination) == (1.0, None)  # everyone right: no variance
    assert q02.discrimination == pytest.approx(1.0)
