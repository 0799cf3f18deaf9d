"""Rules for the organisation tree and the staff who work in it."""

import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from lms.audit.services import record_event
from lms.auth.models import ROLES, User
from lms.auth.services import end_sessions
from lms.extensions import db
from lms.org.models import Unit
from lms.text import fold, nfc, sort_key

STATUSES = ("active", "inactive", "all")


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self):
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


def staff_search_text(full_name, employee_id, email):
    """The folded text that staff search matches against."""
    return " | ".join(fold(part) for part in (full_name, employee_id or "", email or ""))


def fill_derived(user):
    """Normalise the name and recompute the search and sort columns of a user."""
    user.full_name = nfc(user.full_name)
    user.search_text = staff_search_text(user.full_name, user.employee_id, user.email)
    user.sort_key = sort_key(user.full_name)


def unit_by_code(code):
    """The unit with this code, or None."""
    return db.session.scalar(select(Unit).where(Unit.code == code))


def top_units():
    """Units without a parent, by name."""
    return db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))
                              .order_by(Unit.name)).all()


def ancestors(unit):
    """The units above `unit`, from the top down."""
    ids = [int(part) for part in unit.path.strip("/").split("/")[:-1]]
    if not ids:
        return []
    found = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def subtree_ids(unit):
    """A subquery of the ids of `unit` and every unit below it."""
    return select(Unit.id).where(Unit.path.startswith(unit.path, autoescape=True))


def children_with_counts(unit):
    """Direct sub-units of `unit`, each with the active staff in its whole subtree."""
    child, below = aliased(Unit), aliased(Unit)
    active = func.count(User.id)
    rows = db.session.execute(
        select(child, active)
        .join(below, below.path.startswith(child.path))
        .outerjoin(User, (User.unit_id == below.id) & User.active.is_(True))
        .where(child.parent_id == unit.id)
        .group_by(child.id)
        .order_by(child.name)
    ).all()
    return [(row[0], row[1]) for row in rows]


def count_staff(unit, active=True):
    """Staff in the subtree of `unit` (active or not)."""
    return db.session.scalar(
        select(func.count(User.id))
        .where(User.unit_id.in_(subtree_ids(unit)), User.active.is_(active))
    )


def staff_page(unit, *, query="", status="active", page=1, per_page=50):
    """One page of the staff of a subtree (or everyone when unit is None), sorted by name."""
    conditions = []
    if unit is not None:
        conditions.append(User.unit_id.in_(subtree_ids(unit)))
    else:
        conditions.append(User.unit_id.is_not(None))
    if status == "active":
        conditions.append(User.active.is_(True))
    elif status == "inactive":
        conditions.append(User.active.is_(False))
    for word in fold(query).split()[:5]:
        conditions.append(User.search_text.contains(word, autoescape=True))
    total = db.session.scalar(select(func.count(User.id)).where(*conditions))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    # Page over the narrow index first, then load only the rows shown.
    ids = db.session.scalars(
        select(User.id).where(*conditions).order_by(User.sort_key, User.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} \
        if ids else {}
    return Page([users[i] for i in ids], total, page, per_page)


def change_role(actor, user, role, ip=None):
    """Give `user` a new role; audit-logged. HR cannot grant admin, nobody changes their own."""
    if role not in ROLES:
        raise ValueError("unknown role")
    if user.id == actor.id:
        raise PermissionError("own_role")
    if role == "admin" and actor.role != "admin":
        raise PermissionError("grant_admin")
    if role == user.role:
        return False
    record_event("role_changed", actor=actor, obj=user, ip=ip, before=user.role, after=role)
    user.role = role
    end_sessions(user)
    return True


def set_active(actor, user, active, ip=None):
    """Deactivate (ending every session at once) or reactivate a staff member."""
    if user.id == actor.id:
        raise PermissionError("own_account")
    if user.active == active:
        return False
    user.active = active
    end_sessions(user)
    record_event("user_reactivated" if active else "user_deactivated", actor=actor, obj=user,
                 ip=ip)
    return True
