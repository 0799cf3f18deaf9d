"""A unit's holdings per course and per DigComp competence (the dashboard's second tab)."""

from flask import render_template, request

from lms.courses.models import Course
from lms.courses.services import programme_title
from lms.courses.views import current_lang
from lms.extensions import db
from lms.reports import services
from lms.reports.progress import by_competence, progress
from lms.reports.views import bp, login_required, today, unit_or_404


@bp.get("/units/<code>/courses")
@login_required
def courses(code):
    """How many active staff of the unit hold each required course, and each competence."""
    found = unit_or_404(code)
    programme, programmes = services.choose_programme(found, request.args.get("programme"))
    if programme is None:
        return render_template("reports/unit.html", unit=found, programme=None,
                               programmes=programmes, ancestors=[])
    day = today()
    report = progress(programme, found, day)
    titles = services.course_titles(report.required, current_lang())
    competences = {course.id: course.digcomp or [] for course in db.session.scalars(
        db.select(Course).where(Course.id.in_(report.required)))}
    held_courses, held_competences = by_competence(report, competences)
    return render_template(
        "reports/courses.html", unit=found, programme=programme, programmes=programmes,
        report=report, figures=report.figures, title=programme_title(programme, current_lang()),
        courses=[(titles[c], held_courses[c], competences[c]) for c in report.required],
        competences=sorted(held_competences.items(), key=lambda item: _digcomp_key(item[0])))


def _digcomp_key(code):
    area, _, number = code.partition(".")
    return int(area or 0), int(number or 0)
