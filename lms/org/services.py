"""Rules for the organisation tree and the staff who work in it."""

import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, joinedload

from lms.audit.services import record_event
from lms.auth.models import ROLES, User
from lms.auth.services import end_sessions
from lms.extensions import db
from lms.org.models import Unit
from lms.text import alpha_key, fold, nfc, sort_key
from lms.web import page_number

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
    ).all()
    return sorted(((row[0], row[1]) for row in rows), key=lambda pair: alpha_key(pair[0].name))


def count_rows(query):
    """How many rows a select() returns, counted by the database."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def count_staff(unit, active=True):
    """Staff in the subtree of `unit` (active or not)."""
    return db.session.scalar(
        select(func.count(User.id))
        .where(User.unit_id.in_(subtree_ids(unit)), User.active.is_(active))
    )


# Below this many rows to skip, the database sorts the subtree directly; above it, staff_page
# first seeks a name just before the page (sorting 25,000 names only to skip them costs ~50 ms
# on SQLite; seeking costs a few). See bench/README.md.
DIRECT_SORT_ROWS = 5000
_SEEK_PROBES = 4


def _staff_conditions(unit, status, scan=False):
    # Two spellings of "in the subtree", for two plans. IN: read the (unit, active, name)
    # index, unit by unit; "in any unit" rather than "unit_id IS NOT NULL" keeps that plan for
    # everyone. EXISTS (scan=True): read the table once, which is cheaper when a search must
    # look at most rows anyway.
    units = select(Unit.id)
    if unit is not None:
        units = units.where(Unit.path.startswith(unit.path, autoescape=True))
    conditions = [units.where(Unit.id == User.unit_id).exists() if scan
                  else User.unit_id.in_(units)]
    if status == "active":
        conditions.append(User.active.is_(True))
    elif status == "inactive":
        conditions.append(User.active.is_(False))
    return conditions


def _holds_most_units(unit):
    """True when the subtree holds most units (so most staff, as far as a plan cares)."""
    if unit is None:
        return True
    inside = func.count().filter(Unit.path.startswith(unit.path, autoescape=True))
    held, everything = db.session.execute(select(inside, func.count()).select_from(Unit)).one()
    return held * 2 > everything


def _seek(conditions, skip, descending):
    """A sort key with at most `skip` matching rows before it (in the given direction), as
    close to `skip` as a few probes get; returns (key or None, rows before it).

    Everyone's key at position p of the name index has at most p matching rows before it:
    probe at p = skip, then further on at the density of matches seen so far."""
    key_order = User.sort_key.desc() if descending else User.sort_key
    found, found_before, reached, too_far = None, 0, 0, None
    position = skip
    for _ in range(_SEEK_PROBES):
        key = db.session.scalar(select(User.sort_key).order_by(key_order)
                                .offset(position).limit(1))
        before = None if key is None else db.session.scalar(
            select(func.count(User.id))
            .where(*conditions, (User.sort_key > key) if descending else (User.sort_key < key)))
        if before is None or before > skip:
            too_far = position
        else:
            found, found_before, reached = key, before, position
            if skip - before <= DIRECT_SORT_ROWS:
                break
        # Aim a little short, so that the next probe most likely lands before the page.
        gap = skip - found_before - DIRECT_SORT_ROWS // 2
        position = reached + max(1, gap * max(1, reached) // max(1, found_before))
        if too_far is not None and position >= too_far:
            position = (reached + too_far) // 2
            if position <= reached:
                break
    return found, found_before


def _page_ids(conditions, total, offset, limit):
    """Ids of the matching rows offset..offset+limit in name order, counted from the nearer
    end (a last page costs what a first page costs)."""
    limit = max(0, min(limit, total - offset))
    descending = offset > total - offset - limit
    skip = total - offset - limit if descending else offset
    order = (User.sort_key.desc(), User.id.desc()) if descending else (User.sort_key, User.id)
    bound = []
    if skip > DIRECT_SORT_ROWS:
        key, before = _seek(conditions, skip, descending)
        if key is not None:
            skip -= before
            bound = [User.sort_key <= key] if descending else [User.sort_key >= key]
    ids = db.session.scalars(select(User.id).where(*conditions, *bound).order_by(*order)
                             .limit(limit).offset(skip)).all()
    return ids[::-1] if descending else ids


def staff_page(unit, *, query="", status="active", page=1, per_page=50):
    """One page of the staff of a subtree (or everyone when unit is None), sorted by name."""
    words = fold(query).split()[:5]
    matches = [User.search_text.contains(word, autoescape=True) for word in words]
    conditions = _staff_conditions(unit, status) + matches
    page, total = page_number(page), None
    if words:
        # A search reads every row of the subtree anyway: count in the same pass.
        scan = _staff_conditions(unit, status, scan=_holds_most_units(unit)) + matches
        rows = db.session.execute(
            select(User.id, func.count().over()).where(*scan)
            .order_by(User.sort_key, User.id).limit(per_page).offset((page - 1) * per_page)
        ).all()
        total, ids = (rows[0][1], [row[0] for row in rows]) if rows else (None, [])
    if total is None:  # no search, or a page past the end
        total = db.session.scalar(select(func.count(User.id)).where(*conditions))
        page = min(page, max(1, math.ceil(total / per_page)))
        ids = _page_ids(conditions, total, (page - 1) * per_page, per_page)
    # Page over the narrow index first, then load only the rows shown, with their units.
    users = {u.id: u for u in db.session.scalars(
        select(User).options(joinedload(User.unit)).where(User.id.in_(ids)))} if ids else {}
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
