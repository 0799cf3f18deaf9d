"""Images of a course, served from its content folder."""

from pathlib import Path

from flask import abort, current_app, send_from_directory
from flask_login import login_required
from sqlalchemy import select
from werkzeug.security import safe_join

from lms.config import LANGUAGES
from lms.courses.content_schema import SLUG
from lms.courses.models import Course
from lms.courses.views import bp
from lms.extensions import db

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}  # never SVG: it can carry scripts
MAX_AGE = 3600


# merge_slashes off: "vi//etc/x.png" must reach safe_join (and 404), not redirect.
@bp.route("/courses/<slug>/media/<lang>/<path:filename>", merge_slashes=False)
@login_required
def media(slug, lang, filename):
    """An image of a published course, from courses/<slug>/<lang>/ and nowhere else."""
    mimetype = IMAGE_TYPES.get(Path(filename).suffix.lower())
    if mimetype is None or lang not in LANGUAGES or not SLUG.match(slug) or "\\" in filename:
        abort(404)
    published = db.session.scalar(select(Course.id).where(Course.slug == slug,
                                                          Course.published))
    folder = Path(current_app.config["CONTENT_DIR"], "courses", slug, lang)
    path = safe_join(str(folder), filename)  # None for .., absolute paths and backslashes
    if published is None or path is None:
        abort(404)
    # A symbolic link inside the folder must not lead out of it.
    if not Path(path).resolve().is_relative_to(folder.resolve()) or not Path(path).is_file():
        abort(404)
    response = send_from_directory(folder, filename, mimetype=mimetype, max_age=MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.public = False
    response.cache_control.private = True  # behind a login: no shared caches
    return response
