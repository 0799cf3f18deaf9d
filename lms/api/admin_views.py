"""Admin pages for API tokens: the list, issuing one (its secret shown once) and revoking."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField

from lms.api import tokens
from lms.api.models import ApiToken
from lms.auth.forms import ConfirmForm, at_most, required
from lms.auth.permissions import require
from lms.auth.sessions import fresh_check_required
from lms.extensions import db
from lms.org.services import unit_by_code
from lms.web import client_ip

bp = Blueprint("api_tokens", __name__, url_prefix="/admin/api-tokens")


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[required(), at_most(120)],
                       description=_l("What the token is for, for example the provincial data "
                                      "platform."))
    unit = StringField(_l("Unit code"), validators=[required(), at_most(64)],
                       description=_l("The token reads this unit and every unit below it, "
                                      "nothing else."),
                       render_kw={"list": "unit-codes", "autocomplete": "off"})


@bp.get("")
@login_required
def index():
    """Every token: what it is for, its scope, its use and whether it still works."""
    require("api.tokens")
    return render_template("api/tokens.html", tokens=tokens.all_tokens())


@bp.route("/new", methods=["GET", "POST"])
@login_required
@fresh_check_required
def new():
    """Issue a token for a unit's subtree and show its secret, this once only."""
    require("api.tokens")
    form = TokenForm()
    if form.validate_on_submit():
        unit = unit_by_code(form.unit.data.strip())
        if unit is None:
            form.unit.errors.append(_("No unit has this code."))
        else:
            token, plaintext = tokens.create_token(current_user, form.name.data, unit,
                                                   ip=client_ip())
            db.session.commit()
            # Rendered, not redirected: the secret must not travel through the session
            # cookie or a URL, and no later page can show it again.
            return render_template("api/token_created.html", token=token, plaintext=plaintext)
    return render_template("api/token_new.html", form=form, units=tokens.unit_choices())


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(token_id):
    """Ask for confirmation, then revoke the token (audit-logged)."""
    require("api.tokens")
    token = db.get_or_404(ApiToken, token_id)
    form = ConfirmForm()
    if token.revoked_at is None and form.validate_on_submit():
        tokens.revoke_token(current_user, token, ip=client_ip())
        db.session.commit()
        flash(_("Token %(name)s revoked.", name=token.name), "success")
        return redirect(url_for("api_tokens.index"))
    return render_template("api/token_revoke.html", token=token, form=form)
