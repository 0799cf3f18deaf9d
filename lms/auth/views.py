"""Sign-in, sign-out, activation, password reset, own profile and language."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash

from lms.audit.services import record_event
from lms.auth import services
from lms.auth.forms import (
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    NewPasswordForm,
    RequestLinkForm,
)
from lms.auth.mails import send_account_link
from lms.extensions import db, login_manager
from lms.org.forms import ROLE_LABELS
from lms.web import client_ip, safe_next

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(session_id):
    return services.load_session_user(session_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email or employee ID and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        result = services.authenticate(form.login.data, form.password.data, client_ip())
        if result.user:
            record_event("login", actor=result.user, obj=result.user, ip=client_ip())
            db.session.commit()
            lang = session.get("lang")
            session.clear()  # a fresh session on every sign-in (no fixation)
            if lang and not result.user.locale:
                result.user.locale = lang
                db.session.commit()
            login_user(result.user, remember=form.remember.data)
            return redirect(safe_next(form.next.data, url_for("main.home")))
        if result.locked_seconds:
            minutes = max(1, round(result.locked_seconds / 60))
            flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                           "Too many failed attempts. Try again in %(num)d minutes.", minutes),
                  "error")
            status = 429
        else:
            user = services.find_by_login(form.login.data)
            record_event("login_failed", obj=user, ip=client_ip(), login=form.login.data[:100])
            flash(_("Wrong email, employee ID or password."), "error")
            status = 401
        db.session.commit()
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out of this browser."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/link", methods=["GET", "POST"])
def request_link():
    """Ask for an activation link (first time) or a password-reset link by email."""
    form = RequestLinkForm()
    if form.validate_on_submit():
        user = services.find_by_login(form.email.data)
        if user is not None and user.active and user.email:
            send_account_link(user)
            record_event("account_link_sent", obj=user, ip=client_ip())
            db.session.commit()
        # The same answer whether or not the address is known: no account enumeration.
        flash(
            _(
                "If this address belongs to an account, a link is on its way. "
                "It works once and expires."
            ),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/request_link.html", form=form)


@bp.route("/activate/<token>", methods=["GET", "POST"])
def activate(token):
    """Choose a first password from a one-time activation link."""
    return _set_password_from_link(token, "activate")


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token):
    """Choose a new password from a one-time reset link."""
    return _set_password_from_link(token, "reset")


def _set_password_from_link(token, purpose):
    user = services.read_token(token, purpose)
    if user is None:
        return render_template("auth/link_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        services.set_password(user, form.password.data)
        record_event(f"password_{purpose}", actor=user, obj=user, ip=client_ip())
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("Your password is set. You can sign in now."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, purpose=purpose)


@bp.route("/me", methods=["GET", "POST"])
@login_required
def profile():
    """The signed-in user's own record and password change."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not check_password_hash(current_user.password_hash or "", form.current.data):
            form.current.errors.append(_("This is not your current password."))
        else:
            services.set_password(current_user, form.password.data)
            record_event("password_changed", actor=current_user, obj=current_user, ip=client_ip())
            db.session.commit()
            # Keep this browser signed in, with the new session version.
            login_user(current_user._get_current_object())
            flash(_("Your password was changed; other sessions were signed out."), "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", user=current_user, form=form,
                           role_labels=ROLE_LABELS)


@bp.post("/language")
def set_language():
    """Switch the interface language; remembered for the user (or this browser)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            current_user.locale = form.lang.data
            db.session.commit()
    return redirect(safe_next(form.next.data, url_for("main.home")))


@bp.app_context_processor
def _app_name():
    # The language and sign-out forms of base.html are plain inputs (csrf_token() is cached
    # per request): building a LanguageForm for every page cost more than the page's queries.
    return {"app_name": current_app.config.get("APP_NAME", "CivicSkills")}
