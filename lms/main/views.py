"""The home page and health check."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from lms.auth.permissions import allowed, scope_unit

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    """Send visitors to sign in and users to their home page."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return redirect(url_for("auth.login"))


@bp.get("/home")
@login_required
def home():
    """The signed-in user's starting page, with the tools their role gives them."""
    return render_template(
        "main/home.html",
        scope=scope_unit(current_user),
        can_view_org=allowed(current_user, "org.view"),
        can_import=allowed(current_user, "org.import"),
        is_admin=allowed(current_user, "admin"),
    )


@bp.get("/healthz")
def healthz():
    """Liveness probe for load balancers."""
    return {"status": "ok"}
