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
from flask_login import current_user, login_required, login_user
from werkzeug.security import check_password_hash

from lms import ratelimit
from lms.audit.services import record_event
from lms.auth import services, sessions, twofactor
from lms.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmCodeForm,
    ConfirmPasswordForm,
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


@bp.before_app_request
def _session_rules():
    return sessions.enforce()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email or employee ID and password; then, for the roles that need it (or
    anyone who turned it on), a code from an authenticator app."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        result = services.authenticate(form.login.data, form.password.data, client_ip())
        user = result.user
        if user and user.has_two_factor:
            db.session.commit()
            sessions.await_code(user, safe_next(form.next.data, ""))
            return redirect(url_for("auth.login_code"))
        if user:
            record_event("login", actor=user, obj=user, ip=client_ip())
            _adopt_language(user)
            db.session.commit()
            # Without an authenticator yet, a role that needs one goes to set it up first.
            sessions.begin(user, second_factor_done=not twofactor.required_for(user))
            return redirect(safe_next(form.next.data, url_for("main.home")))
        if result.locked_seconds:
            status = _locked_out(result.locked_seconds)
        else:
            user = services.find_by_login(form.login.data)
            record_event("login_failed", obj=user, ip=client_ip(), login=form.login.data[:100])
            flash(_("Wrong email, employee ID or password."), "error")
            status = 401
        db.session.commit()
    return render_template("auth/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of signing in: an authenticator code or a recovery code."""
    waiting = sessions.pending()
    user = services.load_session_user(waiting["id"]) if waiting else None
    if user is None or not user.has_two_factor:
        session.pop("pending", None)
        flash(_("Please sign in again."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        key, ip = str(user.id), client_ip()
        wait = services.locked_for(key, ip, kind="code")
        how = None
        if not wait:
            code = form.code.data.strip()
            if twofactor.check_code(user, code):
                how = "totp"
            elif twofactor.use_recovery_code(user, code):
                how = "recovery"
        if how:
            services.clear_failures(key, "code")
            record_event("login", actor=user, obj=user, ip=ip, second_factor=how)
            _adopt_language(user)
            db.session.commit()
            sessions.begin(user, second_factor_done=True)
            if how == "recovery":
                _warn_recovery_codes_left(user)
            return redirect(safe_next(waiting.get("next"), url_for("main.home")))
        if wait:
            status = _locked_out(wait)
        else:
            services.record_failure(key, ip, kind="code")
            record_event("login_failed", obj=user, ip=ip, second_factor="code")
            form.code.errors.append(_("This code is not right, or was already used."))
            status = 401
        db.session.commit()
    return render_template("auth/login_code.html", form=form), status


def _adopt_language(user):
    lang = session.get("lang")
    if lang and not user.locale:
        user.locale = lang


def _locked_out(seconds):
    minutes = max(1, round(seconds / 60))
    flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                   "Too many failed attempts. Try again in %(num)d minutes.", minutes),
          "error")
    return 429


def _warn_recovery_codes_left(user):
    left = twofactor.recovery_codes_left(user)
    flash(ngettext("You signed in with a recovery code; %(num)d is left. Make new ones on "
                   "your account's security page.",
                   "You signed in with a recovery code; %(num)d are left. Make new ones on "
                   "your account's security page.", left), "info")


@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
def confirm():
    """Type the authenticator code (or, without one, the password) again before a sensitive
    action; then go back to it."""
    user = current_user._get_current_object()
    form = ConfirmCodeForm() if user.has_two_factor else ConfirmPasswordForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        key, ip = str(user.id), client_ip()
        wait = services.locked_for(key, ip, kind="confirm")
        if wait:
            status = _locked_out(wait)
        else:
            if user.has_two_factor:
                ok = twofactor.check_code(user, form.code.data)
            else:
                ok = check_password_hash(user.password_hash or "", form.password.data)
            if ok:
                services.clear_failures(key, "confirm")
                db.session.commit()
                sessions.mark_checked()
                return redirect(safe_next(form.next.data, url_for("main.home")))
            services.record_failure(key, ip, kind="confirm")
            field = form.code if user.has_two_factor else form.password
            field.errors.append(_("This is not right. Try again."))
            status = 401
        db.session.commit()
    return render_template("auth/confirm.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out of this browser."""
    sessions.end()
    return redirect(url_for("auth.login"))


@bp.route("/account/link", methods=["GET", "POST"])
def request_link():
    """Ask for an activation link (first time) or a password-reset link by email."""
    form = RequestLinkForm()
    if form.validate_on_submit():
        decision = ratelimit.check("account_link", client_ip())
        if not decision.allowed:
            return ratelimit.too_many(decision)
        # Past the limit for this login nothing more is sent (nobody floods one mailbox,
        # from however many addresses), and the answer below stays the same.
        per_login = ratelimit.check("account_link_login", ratelimit.login_key(form.email.data))
        user = services.find_by_login(form.email.data) if per_login.allowed else None
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
    if request.method == "POST":
        decision = ratelimit.check("link_form", client_ip())
        if not decision.allowed:
            return ratelimit.too_many(decision)
    user = services.read_token(token, purpose)
    if user is None:
        return render_template("auth/link_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        services.set_password(user, form.password.data)
        record_event(f"password_{purpose}", actor=user, obj=user, ip=client_ip())
        db.session.commit()
        sessions.end(_("Your password is set. You can sign in now."), "success")
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
            sessions.mark_checked()
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


from lms.auth import security_views  # noqa: E402,F401  (account security routes, same blueprint)
