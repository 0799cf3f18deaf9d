"""The JSON API under /api/v1, read by provincial data platforms with a bearer token.

Every endpoint is `@token_required` and answers only about the token's subtree: a unit outside
it is a 404, exactly like a unit that does not exist. Errors are JSON, never pages."""

from datetime import UTC
from functools import wraps

from flask import Blueprint, abort, g, jsonify, request
from flask_babel import to_user_timezone
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from lms import ratelimit
from lms.api import tokens
from lms.auth.models import User
from lms.courses.models import ProgrammeAssignment
from lms.courses.services import programme_title
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import unit_by_code
from lms.reports import services
from lms.reports.models import ProgrammeProgress
from lms.reports.progress import progress, required_courses, trained_condition
from lms.reports.views import today
from lms.web import client_ip

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
MAX_PAGE = 10**6
STATUSES = ("trained", "in_progress", "not_started")
REALM = 'Bearer realm="api"'


def api_error(status, error, message=None, headers=None):
    """A JSON error response: {"error", "status"} (as for every /api/ error), and a message."""
    body = {"error": error, "status": status}
    if message:
        body["message"] = message
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _unauthorized(message, invalid):
    challenge = REALM + (', error="invalid_token"' if invalid else "")
    return api_error(401, "Unauthorized", message, {"WWW-Authenticate": challenge})


def token_required(view):
    """Serve the view only with a live token (`Authorization: Bearer <token>`), kept in
    g.api_token; its scope, the unit whose subtree it reads, in g.api_unit."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        # An address that sent too many wrong tokens gets no answer about any token (not
        # even a right one) until its window is over: guessing runs at that pace at most.
        decision = ratelimit.check_without_counting("api_bad_token", client_ip())
        if not decision.allowed:
            return ratelimit.too_many(decision, as_json=True)
        header = request.headers.get("Authorization", "")
        token = tokens.authenticate(header, note=False) if header.strip() else None
        if token is None:
            decision = ratelimit.check("api_bad_token", client_ip())
            if not decision.allowed:
                return ratelimit.too_many(decision, as_json=True)
            if not header.strip():
                return _unauthorized("Send the token in an 'Authorization: Bearer' header.",
                                     invalid=False)
            return _unauthorized("The token is unknown or revoked.", invalid=True)
        decision = ratelimit.check("api", f"token:{token.id}")
        if not decision.allowed:
            return ratelimit.too_many(decision, as_json=True)
        g.api_token, g.api_unit = token, token.unit
        if tokens.note_use(token):  # only a request served counts as a use
            db.session.commit()
        return view(*args, **kwargs)
    return wrapper


def unit_in_scope(code):
    """The unit with this code when it lies in the token's subtree; a 404 otherwise, the same
    404 as for a code nobody uses."""
    unit = unit_by_code(code)
    if unit is None or not g.api_unit.contains(unit):
        abort(api_error(404, "Not Found", "No unit has this code."))
    return unit


def page_args():
    """(page, per_page) from the query string: ?page (from 1) and ?per_page (1 to 500);
    a 400 for anything else."""
    values = {}
    for name, default, top in (("page", 1, MAX_PAGE), ("per_page", DEFAULT_PER_PAGE,
                                                        MAX_PER_PAGE)):
        raw = request.args.get(name, "").strip()
        try:
            values[name] = int(raw) if raw else default
        except ValueError:
            values[name] = 0
        if not 1 <= values[name] <= top:
            abort(api_error(400, "Bad Request",
                            f"{name} must be a whole number from 1 to {top}."))
    return values["page"], values["per_page"]


def _parent_code(unit_row, parent_code, root):
    # The top of the scope shows no parent: the token must not learn what lies above it.
    return None if unit_row.id == root.id else parent_code


def _unit_json(unit, parent_code, root):
    return {"code": unit.code, "name": unit.name,
            "parent_code": _parent_code(unit, parent_code, root), "depth": unit.depth}


@bp.get("/units")
@token_required
def units():
    """The units of the token's subtree in tree order, a page at a time, with the total."""
    page, per_page = page_args()
    root = g.api_unit
    in_scope = Unit.path.startswith(root.path, autoescape=True)
    total = db.session.scalar(select(func.count(Unit.id)).where(in_scope))
    items = []
    if (page - 1) * per_page < total:
        parent = aliased(Unit)
        rows = db.session.execute(
            select(Unit, parent.code).outerjoin(parent, parent.id == Unit.parent_id)
            .where(in_scope).order_by(Unit.path, Unit.id)
            .limit(per_page).offset((page - 1) * per_page)).all()
        items = [_unit_json(unit, parent_code, root) for unit, parent_code in rows]
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})


@bp.get("/units/<code>")
@token_required
def unit(code):
    """One unit of the token's subtree, with the codes of its direct sub-units."""
    found = unit_in_scope(code)
    parent_code = found.parent.code if found.parent is not None else None
    children = db.session.scalars(select(Unit.code).where(Unit.parent_id == found.id)
                                  .order_by(Unit.code)).all()
    return jsonify({**_unit_json(found, parent_code, g.api_unit), "children": children})


@bp.get("/units/<code>/progress")
@token_required
def unit_progress(code):
    """A unit's progress in a programme (?programme=slug, else the dashboard's choice): the
    dashboard's figures, trend, forecast and sub-units."""
    found = unit_in_scope(code)
    programme = _programme_or_404(found)
    day = today()
    report = progress(programme, found, day)
    deadline = report.root.deadline
    points = services.trend(programme, found, day)
    outlook = services.outlook(report, points, deadline)
    return jsonify({
        "unit": {"code": found.code, "name": found.name},
        "programme": {"slug": programme.slug, "title": programme_title(programme, "vi"),
                      "target": programme.target_ratio,
                      "deadline": deadline.isoformat() if deadline else None},
        "date": day.isoformat(),
        "counted_at": (report.as_of.replace(tzinfo=UTC).isoformat()
                       if report.as_of else None),  # None: counted for this request
        "figures": _figures_json(report.figures),
        "forecast": {"status": outlook.status,
                     "date": outlook.date.isoformat() if outlook.date else None,
                     "pace_per_week": round(outlook.pace_per_week, 4)},
        "trend": [{"week": week.isoformat(), "ratio": round(ratio, 4)}
                  for week, ratio in points],
        "sub_units": [{"code": row.unit.code, "name": row.unit.name,
                       "active": row.total.active, "trained": row.total.trained,
                       "ratio": round(row.total.ratio, 4), "overdue": row.total.overdue}
                      for row in services.sub_units(report)],
    })


@bp.get("/units/<code>/staff")
@token_required
def unit_staff(code):
    """The active staff of the unit's subtree subject to a programme, with their standing
    in it, a page at a time, by name: no email or other personal detail."""
    found = unit_in_scope(code)
    programme = _programme_or_404(found)
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        abort(api_error(400, "Bad Request", "status must be one of " + ", ".join(STATUSES)
                        + "."))
    page, per_page = page_args()
    total, rows = _staff_page(programme, found, today(), status, page, per_page)
    items = [{"employee_id": employee_id, "full_name": full_name, "unit_code": unit_code,
              "status": standing, "courses_held": held,
              "trained_on": _local_day(trained_at) if standing == "trained" else None}
             for employee_id, full_name, unit_code, standing, held, trained_at in rows]
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})


def _programme_or_404(unit):
    """The programme asked for (?programme=slug) or the dashboard's default for the unit."""
    slug = request.args.get("programme", "").strip() or None
    programme, _programmes = services.choose_programme(unit, slug)
    if programme is None:
        abort(api_error(404, "Not Found",
                        "No programme has this slug for this unit." if slug
                        else "No programme is assigned to this unit."))
    return programme


def _figures_json(figures):
    rate = figures.on_time_rate
    return {"active": figures.active, "trained": figures.trained,
            "in_progress": figures.in_progress, "not_started": figures.not_started,
            "overdue": figures.overdue, "on_time": figures.on_time,
            "ratio": round(figures.ratio, 4),
            "on_time_rate": None if rate is None else round(rate, 4)}


def _staff_page(programme, root, day, status, page, per_page):
    """(total, a page of rows) of the staff the programme covers in `root`'s subtree:
    (employee_id, full_name, unit code, status, courses held, trained at). Four queries
    whatever the page; statuses as lms.reports.progress counts them."""
    # Covered: a unit of the subtree at or below a unit the programme is assigned to.
    assigned = aliased(Unit)
    covered = select(Unit.id).where(
        Unit.path.startswith(root.path, autoescape=True),
        select(ProgrammeAssignment.id)
        .join(assigned, assigned.id == ProgrammeAssignment.unit_id)
        .where(ProgrammeAssignment.programme_id == programme.id,
               Unit.path.startswith(assigned.path)).exists())
    trained = trained_condition(len(required_courses(programme.id)), day)
    started = ProgrammeProgress.started_at.is_not(None) | (ProgrammeProgress.courses_held > 0)
    standing = case((trained, "trained"), (started, "in_progress"), else_="not_started")
    joined = ((ProgrammeProgress.user_id == User.id)
              & (ProgrammeProgress.programme_id == programme.id))
    conditions = [User.active.is_(True), User.unit_id.in_(covered)]
    if status is not None:
        conditions.append(standing == status)
    matching = select(User.id).select_from(User)
    if status is not None:
        matching = matching.outerjoin(ProgrammeProgress, joined)
    matching = matching.where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(matching.subquery()))
    if (page - 1) * per_page >= total:
        return total, []
    # The page is found on the narrow rows (no join unless filtering), then only its rows
    # are read in full.
    ids = db.session.scalars(matching.order_by(User.sort_key, User.id).limit(per_page)
                             .offset((page - 1) * per_page)).all()
    rows = db.session.execute(
        select(User.employee_id, User.full_name, Unit.code, standing,
               func.coalesce(ProgrammeProgress.courses_held, 0), ProgrammeProgress.trained_at)
        .select_from(User).join(Unit, Unit.id == User.unit_id)
        .outerjoin(ProgrammeProgress, joined).where(User.id.in_(ids))
        .order_by(User.sort_key, User.id)).all()
    return total, rows


def _local_day(moment):
    """The ISO date, in the app's time zone, of a stored (naive UTC) time; None for None."""
    return None if moment is None else to_user_timezone(moment).date().isoformat()


@bp.after_app_request
def _not_stored(response):
    """No API answer is kept by a cache, errors included (404s of unknown paths too)."""
    if request.path.startswith(bp.url_prefix + "/") or request.path == bp.url_prefix:
        response.headers["Cache-Control"] = "no-store"
    return response
