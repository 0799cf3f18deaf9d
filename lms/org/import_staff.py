"""Importing the staff roster: plan (values, emails, units, roles, scope) and apply in bulk."""

import functools
import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, select, update

from lms.auth.models import CATEGORIES, ROLES, User
from lms.auth.permissions import in_scope
from lms.extensions import db
from lms.org.csvfile import lazy_message as _
from lms.org.import_plan import ImportPlan, check_values, ticking, write_in_chunks
from lms.org.models import Unit, utcnow
from lms.org.services import staff_search_text
from lms.text import nfc, sort_key

# Plain dot-atom local parts, which email-validator always accepts: only their domain
# needs the (slow) full check, once per domain.
_PLAIN_LOCAL = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*\Z")


def plan_staff(table, actor=None, deactivate_missing=False, progress=None):
    """Validate a staff file: values, duplicates, emails, units, roles and the actor's scope."""
    plan = ImportPlan("staff", table.name, actor, deactivate_missing, len(table.rows),
                      list(table.errors))
    units = {r.code: r for r in db.session.execute(select(Unit.id, Unit.code, Unit.path))}
    unit_by_id = {r.id: r for r in units.values()}
    people = db.session.execute(select(
        User.id, User.employee_id, User.full_name, User.email, User.unit_id, User.category,
        User.role, User.active, User.session_version)).all()
    by_employee = {p.employee_id: p for p in people if p.employee_id}
    by_email = {p.email.lower(): p for p in people if p.email}
    rows, first_row, email_row = [], {}, {}
    for number, values in table.rows:
        row = _clean_person(plan, number, values)
        key, email = row["employee_id"], row["email"]
        if key in first_row:
            plan.error(number, "employee_id", _(
                "The employee ID “%(value)s” is already on row %(row)d.",
                value=key, row=first_row[key][0]))
        elif key:
            first_row[key] = (number, row)
        if email in email_row:
            plan.error(number, "email", _("The email “%(value)s” is already on row %(row)d.",
                                          value=email, row=email_row[email]))
        elif email:
            email_row[email] = number
        rows.append((number, row))
    ops = plan.ops = {"insert": [], "update": [], "release": [], "deactivate": []}
    context = {"units": units, "unit_by_id": unit_by_id, "by_email": by_email,
               "rows": first_row, "now": utcnow()}
    bad_rows = {error.row for error in plan.errors}
    for number, row in ticking(rows, progress):
        person = by_employee.get(row["employee_id"])
        if _check_person(plan, number, row, person, context) and number not in bad_rows:
            _diff_person(plan, row, person, context)
    if deactivate_missing:
        for person in people:
            if _leaves(plan, person, first_row, unit_by_id):
                ops["deactivate"].append({"id": person.id, "active": False,
                                          "session_version": person.session_version + 1,
                                          "updated_at": context["now"]})
                plan.note("deactivated", person.employee_id or person.email or "",
                          person.full_name)
    return plan


def _clean_person(plan, number, values):
    row = {"employee_id": values["employee_id"].strip(), "full_name": nfc(values["full_name"]),
           "email": values["email"].strip().lower(), "unit_code": values["unit_code"].strip(),
           "category": values["category"].strip().lower(),
           "role": values["role"].strip().lower()}
    check_values(plan, number, row,
                 ("employee_id", "full_name", "email", "unit_code", "category"))
    if row["email"] and not _valid_email(row["email"]):
        plan.error(number, "email", _("“%(value)s” is not a valid email address.",
                                      value=row["email"]))
    if row["category"] and row["category"] not in CATEGORIES:
        plan.error(number, "category", _("Unknown category “%(value)s”; use one of: %(known)s.",
                                         value=row["category"], known=", ".join(CATEGORIES)))
    if row["role"] and row["role"] not in ROLES:
        plan.error(number, "role", _("Unknown role “%(value)s”; use one of: %(known)s.",
                                     value=row["role"], known=", ".join(ROLES)))
    return row


def _valid_email(email):
    local, _at, domain = email.rpartition("@")
    if local and len(local) <= 64 and len(email) <= 254 and _PLAIN_LOCAL.match(local):
        return _valid_address("postmaster@" + domain)
    return _valid_address(email)


@functools.lru_cache(maxsize=4096)
def _valid_address(email):
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _check_person(plan, number, row, person, context):
    """Rules that need the database and the actor; True when the row can be compared."""
    start = len(plan.errors)
    unit = context["units"].get(row["unit_code"])
    if row["unit_code"] and unit is None:
        plan.error(number, "unit_code", _(
            "No unit has the code “%(value)s”; import the units first.", value=row["unit_code"]))
    owner = context["by_email"].get(row["email"])
    if owner is not None and owner.employee_id != row["employee_id"]:
        # Free only when its holder is in this file with another address.
        holder = context["rows"].get(owner.employee_id)
        if holder is None or holder[1]["email"] == row["email"]:
            plan.error(number, "email", _("This email already belongs to another person."))
    actor = plan.actor
    if actor is not None:
        new_role = row["role"] or (person.role if person else "learner")
        if actor.role != "admin":
            old_unit = context["unit_by_id"].get(person.unit_id) if person else None
            if person is not None and not in_scope(actor, old_unit):
                plan.error(number, "employee_id", _(
                    "This person works outside the part of the organisation you manage."))
            elif unit is not None and not in_scope(actor, unit):
                plan.error(number, "unit_code", _(
                    "This unit is outside the part of the organisation you manage."))
            if row["role"] == "admin" and (person is None or person.role != "admin"):
                plan.error(number, "role", _(
                    "Only an administrator can give the administrator role."))
            elif person is not None and person.role == "admin" and _person_fields(
                    row, person, unit) != _current_fields(person):
                plan.error(number, "employee_id", _(
                    "Only an administrator can change an administrator’s record."))
        if person is not None and person.id == actor.id and new_role != person.role:
            plan.error(number, "role", _("You cannot change your own role."))
    return len(plan.errors) == start


def _person_fields(row, person, unit):
    return {"full_name": row["full_name"], "email": row["email"],
            "unit_id": unit.id if unit else None, "category": row["category"],
            "role": row["role"] or (person.role if person else "learner"), "active": True}


def _current_fields(person):
    return {"full_name": person.full_name, "email": person.email, "unit_id": person.unit_id,
            "category": person.category, "role": person.role, "active": person.active}


def _diff_person(plan, row, person, context):
    unit = context["units"][row["unit_code"]]
    after = _person_fields(row, person, unit)
    before = _current_fields(person) if person is not None else None
    if before == after:
        plan.note("unchanged", row["employee_id"], row["full_name"])
        return
    derived = {"search_text": staff_search_text(row["full_name"], row["employee_id"],
                                                row["email"]),
               "sort_key": sort_key(row["full_name"]), "updated_at": context["now"]}
    if person is None:
        plan.ops["insert"].append({
            "employee_id": row["employee_id"], **after, **derived, "password_hash": None,
            "session_version": 1, "locale": None, "activated_at": None, "last_login_at": None,
            "created_at": context["now"]})
        plan.note("added", row["employee_id"], row["full_name"],
                  [("unit_code", None, unit.code), ("role", None, after["role"])])
        return
    changed = [k for k in after if before[k] != after[k]]
    bump = "active" in changed or "role" in changed  # ends the person's sessions
    plan.ops["update"].append({"id": person.id, **after, **derived,
                               "session_version": person.session_version + bump})
    if "email" in changed and person.email:
        plan.ops["release"].append({"id": person.id, "email": None})
    if "active" in changed:
        plan.counts["reactivated"] += 1
    codes = {u.id: u.code for u in (context["unit_by_id"].get(person.unit_id), unit) if u}
    plan.note("updated", row["employee_id"], row["full_name"], [
        ("unit_code", codes.get(before[k]), codes.get(after[k])) if k == "unit_id"
        else (k, before[k], after[k]) for k in changed])


def _leaves(plan, person, in_file, unit_by_id):
    """Whether --deactivate-missing deactivates this person (only staff within scope)."""
    actor = plan.actor
    if not person.active or person.unit_id is None or person.employee_id in in_file:
        return False
    if actor is None:
        return True
    if person.id == actor.id:
        return False
    return actor.role == "admin" or (
        person.role != "admin" and in_scope(actor, unit_by_id.get(person.unit_id)))


def apply_staff(plan, progress=None):
    """Write a valid staff plan in bulk: updates, deactivations, then new people."""
    ops = plan.ops
    # Addresses that change are freed first, so that two people may swap theirs.
    write_in_chunks(update(User), ops["release"])
    write_in_chunks(update(User), ops["update"], progress)
    write_in_chunks(update(User), ops["deactivate"], progress)
    write_in_chunks(insert(User), ops["insert"], progress)
