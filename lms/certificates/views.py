"""Certificate pages: the public check, the learner's certificates and their downloads."""

from datetime import UTC, date, datetime

from flask import (
    Blueprint,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, to_user_timezone
from flask_login import current_user, login_required

from lms import ratelimit
from lms.certificates import documents
from lms.certificates.keys import jwks as published_jwks
from lms.certificates.models import Certificate
from lms.extensions import db
from lms.ratelimit import limited
from lms.web import client_ip

bp = Blueprint("certificates", __name__)


def _today():
    return to_user_timezone(datetime.now(UTC)).date()


@bp.context_processor
def _helpers():
    def day(iso):
        return format_date(date.fromisoformat(iso), "long") if iso else ""
    return {"day": day}


def _wants_json():
    return request.args.get("format") == "json" or \
        request.accept_mimetypes.best == "application/json"


def _public(response, max_age):
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _verify_answer(status, as_json, data, **context):
    """One answer of the public check, as the page or as JSON; never indexed."""
    if as_json:
        response = jsonify(data)
        response.headers["Cache-Control"] = "no-cache"
    else:
        response = make_response(render_template("certificates/verify.html", **context))
    response.status_code = status
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/verify")
@limited("verify")
def verify_form():
    """The public check: type (or paste) a certificate's code."""
    code = (request.args.get("code") or "").strip()
    if code:
        code = code.rstrip("/").rsplit("/", 1)[-1]  # a pasted address works too
        return redirect(url_for("certificates.verify", code=code))
    return render_template("certificates/verify_form.html")


@bp.get("/verify/<code>.json")
@limited("verify", as_json=True)
def verify_json(code):
    """The public check as JSON."""
    return _verify(code, as_json=True)


@bp.get("/verify/<code>")
@limited("verify", as_json=_wants_json)
def verify(code):
    """The public check of one certificate: valid, revoked or expired."""
    return _verify(code, as_json=_wants_json())


def _verify(code, as_json):
    # Guessing codes: too many wrong ones from an address, and even a right one is refused.
    guesses = ratelimit.check_without_counting("verify_wrong", client_ip())
    if not guesses.allowed:
        wait = guesses.retry_after
        response = _verify_answer(429, as_json, {"status": "throttled", "retry_after": wait},
                                  state="throttled", minutes=(wait + 59) // 60)
        response.headers["Retry-After"] = str(wait)
        return response
    certificate = documents.find_by_code(code)
    if certificate is None:
        ratelimit.check("verify_wrong", client_ip())
        return _verify_answer(404, as_json, {"status": "unknown"}, state="unknown")
    record = documents.public_record(certificate, _today())
    return _verify_answer(200, as_json, record, state=record["status"], record=record)


@bp.get("/.well-known/jwks.json")
def jwks():
    """The public keys certificates and badges are signed with."""
    return _public(jsonify(published_jwks()), 3600)


@bp.get("/certificates/revoked.json")
def revoked():
    """The public revocation list: serials and revocation dates, no names."""
    return _public(jsonify({"revoked": documents.revocation_list()}), 300)


@bp.get("/me/certificates")
@login_required
def mine():
    """The signed-in user's certificates, with their status and downloads."""
    today = _today()
    rows = [(certificate, documents.status_of(certificate, today))
            for certificate in documents.certificates_of(current_user)]
    return render_template("certificates/mine.html", rows=rows)


def _downloadable(certificate_id):
    """The certificate when the user may download it; 404 otherwise, never 403. A revoked one
    is never handed out: its PDF and (freshly signed) badge would pass an offline check."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.revoked_at is not None \
            or not documents.may_download(current_user, certificate):
        abort(404)
    return certificate


def _attachment(body, mimetype, filename):
    response = make_response(body)
    response.mimetype = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/certificates/<int:certificate_id>.pdf")
@login_required
def pdf(certificate_id):
    """The certificate as a signed PDF."""
    certificate = _downloadable(certificate_id)
    return _attachment(documents.pdf_of(certificate), "application/pdf",
                       f"certificate-{certificate.serial}.pdf")


@bp.get("/certificates/<int:certificate_id>/badge.jwt")
@login_required
def badge(certificate_id):
    """The certificate as an Open Badges 3.0 credential (VC-JWT)."""
    certificate = _downloadable(certificate_id)
    return _attachment(documents.badge_of(certificate), "application/vc+jwt",
                       f"certificate-{certificate.serial}.jwt")


from lms.certificates import register_views  # noqa: E402,F401  (HR routes on the same blueprint)
