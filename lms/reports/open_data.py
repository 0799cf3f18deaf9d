"""Public open data (/open-data and /open-data.json), off unless LMS_OPEN_DATA is set: each
programme assigned at a top unit, with the figures of that unit and of the units down to two
levels below it. Aggregates only: no person is named, and a count small enough to point at
someone is suppressed (see `suppressed_units`)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
    session,
)
from flask_login import current_user
from sqlalchemy import select

from lms.courses.models import Programme, ProgrammeAssignment
from lms.courses.services import programme_title
from lms.courses.views import current_lang
from lms.extensions import db
from lms.org.models import Unit
from lms.reports.progress import progress
from lms.reports.views import today

bp = Blueprint("open_data", __name__)

MIN_ACTIVE = 5  # fewer active staff than this: the number trained is suppressed
LEVELS = 2  # units shown below each top unit
MAX_AGE = 300


@dataclass(frozen=True)
class OpenRow:
    """A unit's public figures for a programme; `trained` is None when suppressed."""

    code: str
    name: str
    depth: int
    parent_code: str | None
    active: int
    trained: int | None
    target: float
    deadline: date | None

    @property
    def suppressed(self):
        return self.trained is None

    @property
    def ratio(self):
        if self.trained is None:
            return None
        return self.trained / self.active if self.active else 0.0


@dataclass(frozen=True)
class OpenProgramme:
    """A programme assigned at a top unit, with the public rows of the units it covers."""

    programme: Programme
    rows: list


def suppressed_units(units, minimum=MIN_ACTIVE):
    """Ids of the units whose number trained must not be published, from (id, parent_id,
    active) of the units shown.

    First every unit with fewer than `minimum` active staff. Then, for each unit shown (top
    down), what its count leaves over beyond the shown units nearest below it must be nobody
    or at least `minimum` people, else that remainder could be worked out by subtraction:
    the smallest of those units is suppressed too until it is (secondary suppression)."""
    hidden = {unit_id for unit_id, _parent, active in units if active < minimum}
    children = defaultdict(list)
    for unit_id, parent_id, active in units:
        children[parent_id].append((unit_id, active))
    shown_ids = {unit_id for unit_id, _parent, _active in units}
    active_of = {unit_id: active for unit_id, _parent, active in units}

    def nearest_shown(unit_id):
        found = []
        for child, active in children[unit_id]:
            found.extend([(child, active)] if child not in hidden else nearest_shown(child))
        return found

    tops = [unit_id for unit_id, parent_id, _active in units if parent_id not in shown_ids]
    queue = list(tops)
    while queue:
        unit_id = queue.pop(0)
        queue.extend(child for child, _active in children[unit_id])
        if unit_id in hidden:
            continue
        below = nearest_shown(unit_id)
        while below and 0 < active_of[unit_id] - sum(a for _c, a in below) < minimum:
            hidden.add(min(below, key=lambda pair: (pair[1], pair[0]))[0])
            below = nearest_shown(unit_id)
    return hidden


def open_figures(day):
    """[OpenProgramme] for every programme assigned at a top unit, in title order; each
    top unit's rows in tree order, down to LEVELS below it."""
    assigned = db.session.execute(
        select(ProgrammeAssignment.programme_id, Unit)
        .join(Unit, Unit.id == ProgrammeAssignment.unit_id)
        .where(Unit.parent_id.is_(None)).order_by(Unit.code)).all()
    tops = defaultdict(list)
    for programme_id, unit in assigned:
        tops[programme_id].append(unit)
    programmes = db.session.scalars(select(Programme).where(Programme.id.in_(tops))).all()
    programmes.sort(key=lambda p: (programme_title(p, "vi"), p.slug))
    return [OpenProgramme(programme, [row for top in tops[programme.id]
                                      for row in _rows(programme, top, day)])
            for programme in programmes]


def _rows(programme, top, day):
    report = progress(programme, top, day)
    shown = sorted((row for row in report.rows.values()
                    if row.covered and row.unit.depth <= top.depth + LEVELS),
                   key=lambda row: row.unit.path)
    codes = {row.unit.id: row.unit.code for row in shown}
    hidden = suppressed_units([(row.unit.id, row.unit.parent_id, row.total.active)
                               for row in shown])
    return [OpenRow(row.unit.code, row.unit.name, row.unit.depth - top.depth,
                    codes.get(row.unit.parent_id), row.total.active,
                    None if row.unit.id in hidden else row.total.trained,
                    programme.target_ratio, row.deadline)
            for row in shown]


# Pages ---------------------------------------------------------------------------------

@bp.before_request
def _switched_on():
    """Nothing here exists unless LMS_OPEN_DATA is set."""
    if not current_app.config.get("OPEN_DATA"):
        if request.path.endswith(".json"):
            return jsonify({"error": "Not Found", "status": 404}), 404
        abort(404)
    return None


@bp.get("/open-data")
def page():
    """The open data as a page."""
    day = today()
    programmes = open_figures(day)
    titles = {item.programme.id: programme_title(item.programme, current_lang())
              for item in programmes}
    response = make_response(render_template(
        "reports/open_data.html", programmes=programmes, titles=titles, day=day,
        minimum=MIN_ACTIVE))
    # The layout names a signed-in reader and may start a session (its forms' CSRF token):
    # such a page is the reader's own, never one for shared caches to hand out.
    shared = not current_user.is_authenticated and \
        not current_app.session_interface.should_set_cookie(current_app, session)
    return _cached(response, "public" if shared else "private")


@bp.get("/open-data.json")
def figures_json():
    """The open data as JSON."""
    day = today()
    return _cached(jsonify({
        "date": day.isoformat(),
        "min_active": MIN_ACTIVE,
        "programmes": [{
            "slug": item.programme.slug,
            "title": programme_title(item.programme, "vi"),
            "target": item.programme.target_ratio,
            "units": [{"code": row.code, "name": row.name, "depth": row.depth,
                       "parent_code": row.parent_code, "active": row.active,
                       "trained": row.trained,
                       "ratio": None if row.ratio is None else round(row.ratio, 4),
                       "suppressed": row.suppressed, "target": row.target,
                       "deadline": row.deadline.isoformat() if row.deadline else None}
                      for row in item.rows]}
            for item in open_figures(day)],
    }), "public")


def _cached(response, scope):
    response.headers["Cache-Control"] = f"{scope}, max-age={MAX_AGE}"
    return response
