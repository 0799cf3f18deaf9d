"""Quiz pages: a course's quiz, an attempt (saved as the learner goes), its result, and the
statistics authors and HR use to fix bad questions."""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from lms.auth.permissions import require
from lms.courses import services as courses
from lms.courses.views import current_lang
from lms.extensions import db
from lms.quizzes import services
from lms.quizzes.forms import responses_from_form
from lms.quizzes.models import QuizBank
from lms.web import own_transactions

bp = Blueprint("quizzes", __name__)

def _refusal(error):
    messages = {
        "max_attempts": _("You have used every attempt of this quiz."),
        "wait": _("You can try again after a short wait."),
        "closed": _("This attempt is already submitted."),
        "expired": _("The time was up: the attempt was submitted with the answers saved."),
    }
    return messages.get(error.code, _("This quiz is not available."))


def _course_and_bank(slug):
    """The course (as the learner may read it) and its bank, else 404."""
    course, text = courses.find_course(current_user, slug, current_lang())
    if course is None:
        abort(404)
    bank = services.bank_for_course(course)
    if bank is None:
        abort(404)
    return course, text, bank


def _own_attempt(attempt_id):
    attempt = services.attempt_of(current_user, attempt_id)
    if attempt is None:
        abort(404)
    return attempt


@bp.get("/courses/<slug>/quiz")
@login_required
def quiz(slug):
    """The quiz of a course: its rules, the learner's attempts, and the way in."""
    course, text, bank = _course_and_bank(slug)
    status = services.quiz_status(current_user, bank)
    db.session.commit()  # an overdue attempt may just have been submitted
    return render_template("quizzes/quiz.html", course=course, course_text=text, bank=bank,
                           settings=bank.settings, status=status, form=FlaskForm())


@bp.post("/courses/<slug>/quiz/start")
@login_required
@own_transactions
def start(slug):
    """Start an attempt (or go back to the open one)."""
    course, _text, bank = _course_and_bank(slug)
    if not courses.may_record(current_user, course):
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        attempt = services.start_attempt(current_user, bank)
    except services.QuizError as error:
        db.session.commit()
        flash(_refusal(error), "error")
        return redirect(url_for("quizzes.quiz", slug=slug))
    db.session.commit()
    return redirect(url_for("quizzes.attempt", attempt_id=attempt.id))


@bp.get("/quiz/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id):
    """The questions of an open attempt, with what was saved; a closed one shows its result."""
    found = _own_attempt(attempt_id)
    if services.expire_if_overdue(found):
        db.session.commit()
        flash(_refusal(services.QuizError("expired")), "error")
    if found.status != "open":
        return redirect(url_for("quizzes.result", attempt_id=found.id))
    saved = {answer.question_key: answer.response for answer in found.answers}
    return render_template(
        "quizzes/attempt.html", attempt=found, course=found.bank.course,
        questions=services.paper_view(found, current_lang(), saved), form=FlaskForm(),
        answered=sum(1 for value in saved.values() if value not in (None, "", [])))


@bp.post("/quiz/attempts/<int:attempt_id>/save")
@login_required
@own_transactions
def save(attempt_id):
    """Save the answers given so far (the page's script calls it on every change). (CSRF is
    checked for every POST by CSRFProtect.)"""
    found = _own_attempt(attempt_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        saved = services.save_answers(found, responses_from_form(found.paper, request.form))
    except services.QuizError as error:
        db.session.commit()
        if wants_json:
            return jsonify(error=error.code,
                           result=url_for("quizzes.result", attempt_id=found.id)), 409
        flash(_refusal(error), "error")
        return redirect(url_for("quizzes.result", attempt_id=found.id))
    db.session.commit()
    if wants_json:
        return jsonify(saved=saved)
    flash(_("Your answers are saved."), "success")
    return redirect(url_for("quizzes.attempt", attempt_id=found.id))


@bp.post("/quiz/attempts/<int:attempt_id>/submit")
@login_required
@own_transactions
def submit(attempt_id):
    """Save the form's answers and submit: graded once, however often it is sent. (CSRF is
    checked for every POST by CSRFProtect.)"""
    found = services.submission_of(current_user.id, attempt_id)
    if found is None:
        abort(404)
    responses = responses_from_form(found.paper, request.form) if found.status == "open" \
        else None
    prepared = services.prepare_submission(found)
    db.session.commit()  # the reads end here: the writing transaction starts by writing
    services.submit_submission(found, responses, prepared=prepared)
    db.session.commit()
    return redirect(url_for("quizzes.result", attempt_id=attempt_id))


@bp.get("/quiz/attempts/<int:attempt_id>/result")
@login_required
def result(attempt_id):
    """Score, pass or fail, and (as the quiz allows) the correct answers with feedback."""
    found = _own_attempt(attempt_id)
    if services.expire_if_overdue(found):
        db.session.commit()
    if found.status == "open":
        return redirect(url_for("quizzes.attempt", attempt_id=found.id))
    show = services.answers_visible(found, found.bank.settings)
    return render_template(
        "quizzes/result.html", attempt=found, course=found.bank.course, show=show,
        questions=services.result_view(found, current_lang(), show))


@bp.get("/quizzes/<slug>/stats")
@login_required
def stats(slug):
    """Attempts, pass rate, and how each question behaves, for the viewer's units."""
    require("quizzes.stats")
    bank = db.first_or_404(select(QuizBank).where(QuizBank.slug == slug))
    return render_template("quizzes/stats.html", bank=bank, course=bank.course,
                           stats=services.quiz_stats(bank, current_user),
                           titles=_question_titles(bank, current_lang()))


def _question_titles(bank, lang):
    """{question key: its text as plain words, in `lang` else Vietnamese}, for the tables."""
    titles = {}
    for question in bank.questions:
        texts = question.data.get("text") or {}
        words = " ".join((texts.get(lang) or texts.get("vi") or "").split())
        titles[question.key] = words if len(words) <= 140 else words[:139] + "…"
    return titles
