"""Jinja filters and globals shared by every template."""

import threading
from collections import OrderedDict
from datetime import UTC

from flask import g, has_app_context, render_template, request
from flask_babel import format_datetime, get_locale, get_translations
from flask_login import current_user
from markupsafe import Markup

from lms.text import whole_percent

_nav_cache = {}  # (locale, role, script root) -> the rendered links
FRAGMENTS = 2048  # rendered fragments kept per process (a few KiB each)
_fragments = OrderedDict()
_fragments_lock = threading.Lock()


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
    app.jinja_env.filters["percent"] = whole_percent
    app.jinja_env.globals["site_nav"] = site_nav
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def site_nav():
    """The main navigation links of the signed-in user's role (none when signed out).

    Every page shows them and they depend only on the role, the language and where the app
    is mounted: rendered once per such triple, not for every page."""
    if not current_user.is_authenticated:
        return ""
    key = (str(get_locale()), current_user.role, request.script_root)
    html = _nav_cache.get(key)
    if html is None:
        html = _nav_cache[key] = Markup(render_template("_nav_links.html",  # noqa: S704
                                                        role=current_user.role))
    return html


def cached_fragment(template, key, context):
    """render_template(template, **context()) as Markup, rendered once per key.

    `key` must hold every value the template reads (the language and the mount point are
    added here), so that a cached fragment is never stale: a change makes a new key. The
    fragment must not depend on who reads it. `context` is called only on a miss."""
    full_key = (template, str(get_locale()), request.script_root, key)
    with _fragments_lock:
        html = _fragments.get(full_key)
        if html is not None:
            _fragments.move_to_end(full_key)
            return html
    html = Markup(render_template(template, **context()))  # noqa: S704  (autoescaped)
    with _fragments_lock:
        _fragments[full_key] = html
        while len(_fragments) > FRAGMENTS:
            _fragments.popitem(last=False)
    return html


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
