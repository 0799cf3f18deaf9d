"""Jinja filters and globals shared by every template."""

from datetime import UTC

from flask_babel import format_datetime, get_locale


def init_templating(app):
    """Register filters and context shared by all templates."""
    app.jinja_env.filters["localtime"] = _localtime
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def _localtime(value, fmt="short"):
    """Format a stored UTC datetime in the configured local time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value, fmt)
