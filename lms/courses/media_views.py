"""Media of a course (images, and files offered for download), served from its content folder.

The bytes, not the name, decide how a file is sent. A PNG, JPEG, GIF or WebP image is shown
inline with the type its first bytes prove. Anything else (an SVG drawing, a PDF, a file whose
bytes are not what its name says) is sent as a download: `application/octet-stream` with
`Content-Disposition: attachment`. An attachment rather than an SVG under
`Content-Security-Policy: sandbox`: a download is never rendered on our origin, whatever the
file holds, so one rule covers SVG, HTML and anything unknown, where a sandbox relies on the
browser parsing a file we do not trust and honouring a policy meant for documents. Every
response also carries `nosniff` and a `sandbox` policy, a second layer for any browser that
would render it anyway.
"""

from pathlib import Path

from flask import abort, current_app, send_file
from flask_login import current_user, login_required
from werkzeug.security import safe_join

from lms.config import LANGUAGES
from lms.courses import services
from lms.courses.content_schema import IMAGE_SUFFIXES, SLUG
from lms.courses.views import bp
from lms.uploads import RASTER_TYPES, SNIFF_BYTES, sniff

# Markdown, question banks and notes of the folder are never media (they may hold drafts).
MEDIA_SUFFIXES = (*IMAGE_SUFFIXES, ".svg", ".pdf")
MEDIA_CSP = "default-src 'none'; sandbox"
MAX_AGE = 3600


# merge_slashes off: "vi//etc/x.png" must reach safe_join (and 404), not redirect.
@bp.route("/courses/<slug>/media/<lang>/<path:filename>", merge_slashes=False)
@login_required
def media(slug, lang, filename):
    """A file of courses/<slug>/<lang>/ and nowhere else, of a course the user may read."""
    if not filename.lower().endswith(MEDIA_SUFFIXES) or lang not in LANGUAGES \
            or not SLUG.match(slug) or "\\" in filename or "\x00" in filename:
        abort(404)
    # The course page's own rule: published and open or assigned; previewers see every course.
    course, _text = services.find_course(current_user, slug, lang)
    folder = Path(current_app.config["CONTENT_DIR"], "courses", slug, lang).resolve()
    path = safe_join(str(folder), filename)  # None for .., absolute paths and backslashes
    if course is None or path is None:
        abort(404)
    path = Path(path).resolve()  # a symbolic link inside the folder must not lead out of it
    if not path.is_relative_to(folder) or not path.is_file():
        abort(404)
    with path.open("rb") as file:
        kind = sniff(file.read(SNIFF_BYTES))
    inline = kind in RASTER_TYPES
    response = send_file(path, mimetype=RASTER_TYPES.get(kind, "application/octet-stream"),
                         as_attachment=not inline, download_name=path.name, max_age=MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    response.cache_control.public = False
    response.cache_control.private = True  # behind a login: no shared caches
    return response
