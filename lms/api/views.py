"""The JSON API under /api/v1, read by provincial data platforms with a bearer token.

Every endpoint is `@token_required` and answers only about the token's subtree: a unit outside
it is a 404, exactly like a unit that does not exist. Errors are JSON, never pages."""

from functools import wraps

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from lms.api import tokens
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import unit_by_code

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
MAX_PAGE = 10**6
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
        header = request.headers.get("Authorization", "")
        if not header.strip():
            return _unauthorized("Send the token in an 'Authorization: Bearer' header.",
                                 invalid=False)
        token = tokens.authenticate(header)
        if token is None:
            return _unauthorized("The token is unknown or revoked.", invalid=True)
        g.api_token, g.api_unit = token, token.unit
        if db.session.is_modified(token):
            db.session.commit()  # the use that authenticate() noted
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


@bp.after_app_request
def _not_stored(response):
    """No API answer is kept by a cache, errors included (404s of unknown paths too)."""
    if request.path.startswith(bp.url_prefix + "/") or request.path == bp.url_prefix:
        response.headers["Cache-Control"] = "no-store"
    return response
