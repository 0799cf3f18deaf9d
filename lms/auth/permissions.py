"""The one place that decides who may do what, on which unit subtree."""

from flask import abort
from flask_login import current_user

from lms.auth.models import User
from lms.org.models import Unit

# What each role may do at all; the object check adds the unit-subtree rule.
# programmes.view: see programmes and their assignments (read-only for heads);
# programmes.assign: assign them to units; courses.preview: see drafts and unpublished courses.
# certificates.view: the certificate register of the subtree (read-only for heads);
# certificates.manage: revoke and re-issue certificates there.
# reports.view: the progress dashboards and exports of the subtree;
# api.tokens: issue and revoke the tokens of the JSON API (whatever their scope).
ROLE_ACTIONS = {
    "learner": frozenset(),
    "head": frozenset({"org.view", "programmes.view", "certificates.view", "reports.view"}),
    "hr": frozenset({"org.view", "org.manage", "org.import", "programmes.view",
                     "programmes.assign", "quizzes.stats", "certificates.view",
                     "certificates.manage", "reports.view"}),
    "admin": frozenset({"org.view", "org.manage", "org.import", "admin", "programmes.view",
                        "programmes.assign", "courses.preview", "quizzes.stats",
                        "certificates.view", "certificates.manage", "api.tokens",
                        "reports.view"}),
}


def scope_unit(user):
    """The unit whose subtree the user oversees, or None for 'everything' (admin)."""
    return None if user.role == "admin" else user.unit


def in_scope(user, unit):
    """True when `unit` lies in the subtree the user oversees."""
    if user.role == "admin":
        return True
    root = user.unit
    return root is not None and unit is not None and unit.path.startswith(root.path)


def allowed(user, action, obj=None):
    """May `user` do `action` (on `obj`, a Unit or a User, when given)?"""
    if user is None or not user.is_authenticated or not user.active:
        return False
    if isinstance(obj, User) and obj.id == user.id and action == "org.view":
        return True
    if action not in ROLE_ACTIONS.get(user.role, ()):
        return False
    if obj is None:
        return True
    if isinstance(obj, User) and obj.role == "admin" and user.role != "admin" \
            and action != "org.view":
        return False
    unit = obj if isinstance(obj, Unit) else obj.unit
    return in_scope(user, unit)


def require(action, obj=None):
    """Abort unless the current user may: 403 when the role may not, 404 outside the scope."""
    if allowed(current_user, action, obj):
        return obj
    if obj is not None and allowed(current_user, action):
        abort(404)
    abort(403)
