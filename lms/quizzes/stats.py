"""Quiz statistics for authors and HR: attempts, pass rate, and how each question behaves
(difficulty and discrimination), over the people the viewer oversees, in SQL aggregates."""

import math
from dataclasses import dataclass, field

from sqlalchemy import Float, case, cast, distinct, false, func, select, true

from lms.auth.models import User
from lms.auth.permissions import scope_unit
from lms.extensions import db
from lms.org.services import subtree_ids
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizQuestion


@dataclass
class QuestionStats:
    """One question over the attempts that drew it. difficulty: mean credit (share of the
    points got); discrimination: point-biserial correlation of its credit with the attempt's
    score ratio (None with fewer than 2 attempts or no variation)."""

    key: str
    active: bool
    drawn: int = 0
    difficulty: float | None = None
    discrimination: float | None = None


@dataclass
class QuizStats:
    """Submitted attempts of a bank by people in the viewer's scope."""

    attempts: int = 0
    learners: int = 0
    pass_rate: float | None = None
    mean_score: float | None = None  # mean of score / max score
    questions: list = field(default_factory=list)  # QuestionStats, in bank order


def _people_in_scope(user):
    """SQL condition on User: in the unit subtree the viewer oversees (admins: everyone)."""
    if user.role == "admin":
        return true()
    root = scope_unit(user)
    return false() if root is None else User.unit_id.in_(subtree_ids(root))


def quiz_stats(bank, scope_user):
    """Attempts, learners, pass rate and mean score ratio of the bank's submitted attempts
    in the viewer's scope, and per question (by key) times drawn, difficulty, discrimination."""
    ratio = cast(QuizAttempt.score, Float) / QuizAttempt.max_score
    scoped = (QuizAttempt.bank_id == bank.id, QuizAttempt.status == "submitted",
              QuizAttempt.max_score > 0, _people_in_scope(scope_user))
    attempts, learners, pass_rate, mean_score = db.session.execute(
        select(func.count(QuizAttempt.id), func.count(distinct(QuizAttempt.user_id)),
               func.avg(case((QuizAttempt.passed.is_(True), 1.0), else_=0.0)), func.avg(ratio))
        .join(User, User.id == QuizAttempt.user_id).where(*scoped)).one()
    x = func.coalesce(QuizAnswer.credit, 0.0)
    sums = {row[0]: row[1:] for row in db.session.execute(
        select(QuizAnswer.question_key, func.count(QuizAnswer.id), func.sum(x), func.sum(ratio),
               func.sum(x * x), func.sum(ratio * ratio), func.sum(x * ratio))
        .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
        .join(User, User.id == QuizAttempt.user_id)
        .where(*scoped).group_by(QuizAnswer.question_key))}
    questions = []
    for key, active in db.session.execute(
            select(QuizQuestion.key, QuizQuestion.active).where(QuizQuestion.bank_id == bank.id)
            .order_by(QuizQuestion.position, QuizQuestion.id)):
        if key in sums or active:
            questions.append(_question(key, active, sums.pop(key, None)))
    questions += [_question(key, False, row) for key, row in sorted(sums.items())]
    return QuizStats(attempts=attempts, learners=learners,
                     pass_rate=None if pass_rate is None else float(pass_rate),
                     mean_score=None if mean_score is None else float(mean_score),
                     questions=questions)


def _question(key, active, row):
    if row is None:
        return QuestionStats(key, active)
    n, sx, sy, sxx, syy, sxy = int(row[0]), *(float(v or 0) for v in row[1:])
    return QuestionStats(key, active, n, sx / n if n else None,
                         point_biserial(n, sx, sy, sxx, syy, sxy))


def point_biserial(n, sx, sy, sxx, syy, sxy):
    """Pearson's r from sums (of x, y, x², y², xy over n pairs); None when n < 2 or either
    variable does not vary."""
    if n < 2:
        return None
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    # Sums of floats leave crumbs where the variance is really zero.
    if var_x <= 1e-9 * max(1.0, n * sxx) or var_y <= 1e-9 * max(1.0, n * syy):
        return None
    return (n * sxy - sx * sy) / math.sqrt(var_x * var_y)
