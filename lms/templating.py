"""Jinja filters and globals shared by every template."""

from datetime import UTC

from flask import g, has_app_context
from flask_babel import format_datetime, get_locale, get_translations


def init_templating(app):
    """Register filters and context shared by all templates."""
    # Flask-Babel's own callables find the translations again for every string (some 20 µs
    # each, a tenth of a page's time); these find them once per request.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["localtime"] = _localtime
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def _translations():
    """This request's translations (Flask-Babel's), looked up once and kept in `g`."""
    if not has_app_context():
        return get_translations()
    found = g.get("_lms_translations")
    if found is None or found[0] is not get_locale():
        found = g._lms_translations = (get_locale(), get_translations())
    return found[1]


def _localtime(value, fmt="short"):
    """Format a stored UTC datetime in the configured local time zone."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value, fmt)
