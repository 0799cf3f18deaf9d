"""The account's security page: two-factor sign-in, recovery codes, signing out everywhere;
and the administrator's actions on someone else's sign-in (end sessions, reset 2FA)."""

from flask import abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.audit.services import record_event
from lms.auth import services, sessions, twofactor
from lms.auth.forms import ConfirmForm, SetupCodeForm
from lms.auth.models import User
from lms.auth.permissions import require
from lms.auth.views import bp
from lms.extensions import db
from lms.web import client_ip


@bp.get("/account/security")
@login_required
def security():
    """Two-factor status, recovery codes left, and the buttons that change them."""
    user = current_user._get_current_object()
    return render_template("auth/security.html", user=user, form=ConfirmForm(),
                           required=twofactor.required_for(user),
                           codes_left=twofactor.recovery_codes_left(user))


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    """Connect an authenticator app: scan the QR code, type the code it shows; then the
    recovery codes, shown this once."""
    user = current_user._get_current_object()
    if user.has_two_factor and not sessions.recently_checked():
        # Replacing a working authenticator is a sensitive action.
        return redirect(url_for("auth.confirm", next=url_for("auth.two_factor_setup")))
    form = SetupCodeForm()
    secret = session.get("totp_setup")
    if not secret or not form.is_submitted():
        secret = session["totp_setup"] = twofactor.new_secret()
    status = 200
    if form.validate_on_submit():
        if twofactor.enable(user, secret, form.code.data):
            codes = twofactor.new_recovery_codes(user)
            record_event("two_factor_enabled", actor=user, obj=user, ip=client_ip())
            db.session.commit()
            session.pop("totp_setup", None)
            session["mfa"] = True
            sessions.mark_checked()
            flash(_("Two-factor sign-in is on."), "success")
            # Rendered, not redirected: the codes must not travel through a cookie or a URL.
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors.append(_("This code does not match. Check the time on your phone "
                                  "and type the code the app shows now."))
        status = 400
    uri = twofactor.provisioning_uri(user, secret)
    return render_template("auth/two_factor_setup.html", form=form, qr=twofactor.qr_svg(uri),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           required=twofactor.required_for(user)), status


@bp.post("/account/two-factor/recovery-codes")
@login_required
@sessions.fresh_check_required
def new_recovery_codes():
    """Replace the recovery codes (the old ones stop working)."""
    user = current_user._get_current_object()
    if not ConfirmForm().validate_on_submit() or not user.has_two_factor:
        return redirect(url_for("auth.security"))
    codes = twofactor.new_recovery_codes(user)
    record_event("recovery_codes_generated", actor=user, obj=user, ip=client_ip())
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/account/two-factor/off")
@login_required
@sessions.fresh_check_required
def two_factor_off():
    """Turn two-factor sign-in off: only where the role does not require it."""
    user = current_user._get_current_object()
    if not ConfirmForm().validate_on_submit() or not user.has_two_factor:
        return redirect(url_for("auth.security"))
    if twofactor.required_for(user):
        flash(_("Your role requires two-factor sign-in."), "error")
        return redirect(url_for("auth.security"))
    twofactor.disable(user)
    record_event("two_factor_disabled", actor=user, obj=user, ip=client_ip())
    db.session.commit()
    flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("auth.security"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of the account, this one included."""
    user = current_user._get_current_object()
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("auth.security"))
    services.end_sessions(user)
    record_event("sessions_ended", actor=user, obj=user, ip=client_ip(), by="self")
    db.session.commit()
    sessions.end(_("You were signed out on every device."), "success")
    return redirect(url_for("auth.login"))


# An administrator acting on someone else's sign-in ---------------------------------------

def _person(user_id):
    require("admin")
    return db.get_or_404(User, user_id)


@bp.post("/org/staff/<int:user_id>/end-sessions")
@login_required
@sessions.fresh_check_required
def end_user_sessions(user_id):
    """End every session of a person (a lost laptop, a suspected takeover)."""
    person = _person(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.end_sessions(person)
    record_event("sessions_ended", actor=current_user, obj=person, ip=client_ip(), by="admin")
    db.session.commit()
    flash(_("%(name)s was signed out everywhere.", name=person.full_name), "success")
    return redirect(url_for("org.person", user_id=person.id))


@bp.post("/org/staff/<int:user_id>/reset-two-factor")
@login_required
@sessions.fresh_check_required
def reset_two_factor(user_id):
    """Remove a person's authenticator and recovery codes (a lost phone): they set up a new
    one at their next sign-in; their sessions end."""
    person = _person(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if person.has_two_factor:
        twofactor.disable(person)
        services.end_sessions(person)
        record_event("two_factor_reset", actor=current_user, obj=person, ip=client_ip())
        db.session.commit()
        flash(_("Two-factor sign-in of %(name)s was reset; they set it up again at their next "
                "sign-in.", name=person.full_name), "success")
    return redirect(url_for("org.person", user_id=person.id))
