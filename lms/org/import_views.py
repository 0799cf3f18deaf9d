"""Roster upload with a preview (being built)."""

from flask import abort
from flask_login import login_required

from lms.auth.permissions import require
from lms.org.views import bp


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_roster():
    """Upload a units or staff file."""
    require("org.import")
    abort(404)
