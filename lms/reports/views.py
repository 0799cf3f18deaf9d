"""The progress dashboard of a unit (heads: their subtree; HR: their scope; admins: all)."""

from datetime import UTC, datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from flask_login import current_user, login_required
from sqlalchemy import select

from lms.auth.permissions import allowed, require, scope_unit
from lms.courses.services import programme_title
from lms.courses.views import current_lang
from lms.org.models import Unit
from lms.org.services import unit_by_code
from lms.reports import charts, services
from lms.reports.progress import progress

bp = Blueprint("reports", __name__, url_prefix="/reports")


def today():
    """Today in the app's time zone."""
    return to_user_timezone(datetime.now(UTC)).date()


@bp.get("/")
@login_required
def index():
    """The dashboard of the unit the user oversees (admins: the top unit)."""
    require("reports.view")
    unit = scope_unit(current_user) or current_app_root()
    if unit is None:
        abort(404)
    return redirect(url_for("reports.unit", code=unit.code))


def current_app_root():
    from lms.extensions import db

    return db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))


def unit_or_404(code):
    """The unit by code, if the current user may see its reports (404 otherwise)."""
    require("reports.view")
    unit = unit_by_code(code)
    if unit is None:
        abort(404)
    return require("reports.view", unit)


@bp.get("/units/<code>")
@login_required
def unit(code):
    """Progress against the target, trend and forecast, sub-units, staff not yet trained."""
    found = unit_or_404(code)
    day = today()
    programme, programmes = services.choose_programme(found, request.args.get("programme"))
    if programme is None:
        return render_template("reports/unit.html", unit=found, programme=None,
                               programmes=programmes, ancestors=_ancestors(found))
    report = progress(programme, found, day)
    points = services.trend(programme, found, day)
    deadline = report.root.deadline
    outlook = services.outlook(report, points, deadline)
    page = services.untrained_staff(report, request.args.get("q", "")[:100],
                                    request.args.get("page", 1, type=int), lang=current_lang())
    children = services.sub_units(report)
    return render_template(
        "reports/unit.html", unit=found, programme=programme, programmes=programmes,
        report=report, figures=report.figures, children=children, page=page,
        outlook=outlook, deadline=deadline, q=request.args.get("q", ""),
        ancestors=_ancestors(found), charts=_charts(report, points, outlook, children),
        title=programme_title(programme, current_lang()))


def _ancestors(unit):
    """The units above `unit` the user may see, for the breadcrumb."""
    from lms.org.services import ancestors

    return [u for u in ancestors(unit) if allowed(current_user, "reports.view", u)]


def _charts(report, points, outlook, children):
    """The SVG charts of the page, their words translated here."""
    target = report.target
    labels = charts.TrendLabels(
        title=_("Share of staff trained, week by week"),
        summary=_("%(first)s on %(first_date)s, %(last)s on %(last_date)s; target %(target)s."),
        single=_("%(last)s on %(last_date)s; target %(target)s."),
        target=_("target %(target)s"),
        forecast=_("forecast %(date)s"),
        forecast_summary=_("At this pace the target is reached on %(date)s."),
        empty=_("Not enough data yet"))
    series = [(week, ratio) for week, ratio in points if week < services.week_of(report.today)]
    series.append((report.today, report.figures.ratio))
    forecast_point = (outlook.date, target) if outlook.date and outlook.status in (
        "on_track", "late") else None
    return {
        "progress": charts.progress_chart(report.figures.ratio, target,
                                          _("Staff trained"), id_prefix="progress-chart",
                                          target_label=_("target %(target)s")),
        "trend": charts.trend_chart(series, target, forecast_point, id_prefix="trend-chart",
                                    labels=labels),
        "units": charts.bar_list([(row.unit.name, row.total.ratio) for row in children],
                                 target, id_prefix="units-chart", title=_("Sub-units"),
                                 target_label=_("target %(target)s"),
                                 empty=_("No sub-units")) if children else None,
    }


from lms.reports import course_views, export_views  # noqa: E402,F401  (routes on the same blueprint)
