"""Certificate pages: the public check, the learner's certificates and their downloads."""

from flask import Blueprint

bp = Blueprint("certificates", __name__)


from lms.certificates import register_views  # noqa: E402,F401  (HR routes on the same blueprint)
