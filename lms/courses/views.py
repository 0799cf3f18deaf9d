"""Learner pages: my training, the catalogue, a course, a module, and recording reading."""

from flask import Blueprint

bp = Blueprint("courses", __name__)

from lms.courses import media_views  # noqa: E402,F401  (routes on the same blueprint)
