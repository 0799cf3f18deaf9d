"""Importing the units tree: plan (codes, parents, loops, scope) and apply in bulk."""

import re

from sqlalchemy import func, insert, literal, select, update

from lms.auth.permissions import in_scope
from lms.extensions import db
from lms.org.csvfile import lazy_message as _
from lms.org.import_plan import ImportPlan, check_values, chunks, ticking, write_in_chunks
from lms.org.models import Unit
from lms.text import nfc

# A code is part of the unit's URLs (/reports/units/<code>): no slash, space or mark.
UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

def plan_units(table, actor=None, progress=None):
    """Validate a units file: codes, names, parents, loops and the actor's scope."""
    plan = ImportPlan("units", table.name, actor, rows=len(table.rows),
                      errors=list(table.errors))
    known = {r.code: r for r in db.session.execute(select(
        Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.path, Unit.depth,
        Unit.head_employee_id))}
    code_of = {r.id: r.code for r in known.values()}
    rows = {}
    for number, values in ticking(table.rows, progress):
        row = {"code": values["code"].strip(), "name": nfc(values["name"]),
               "parent_code": values["parent_code"].strip(),
               "head_employee_id": values["head_employee_id"].strip()}
        check_values(plan, number, row, ("code", "name"))
        if row["code"] and not UNIT_CODE.fullmatch(row["code"]):
            plan.error(number, "code", _(
                "Use only letters without diacritics, digits, dots, hyphens and underscores "
                "in a unit code (it becomes part of the unit's web address)."))
        if row["code"] in rows:
            plan.error(number, "code", _("The code “%(code)s” is already on row %(row)d.",
                                         code=row["code"], row=rows[row["code"]]["row"]))
        elif row["code"]:
            rows[row["code"]] = {**row, "row": number}

    def parent_of(code):
        if code in rows:
            return rows[code]["parent_code"] or None
        return code_of.get(known[code].parent_id) if code in known else None

    for row in rows.values():
        parent = row["parent_code"]
        if parent and parent not in rows and parent not in known:
            plan.error(row["row"], "parent_code", _(
                "No unit has the code “%(code)s”, in this file or in the database.",
                code=parent))
    looping = _find_loops(plan, rows, known, parent_of)
    if actor is not None and actor.role != "admin":
        _check_unit_scope(plan, rows, known, code_of, looping)
    plan.ops = {"rows": rows, "known": known, "code_of": code_of, "changed": []}
    bad_rows = {error.row for error in plan.errors}
    for code, row in rows.items():
        if row["row"] not in bad_rows:
            _diff_unit(plan, row, known.get(code), code_of)
    return plan


def _find_loops(plan, rows, known, parent_of):
    """Report every unit of the file whose parent chain (file over database) loops back."""
    safe, looping = set(), set()
    for code, row in rows.items():
        chain, current = [code], parent_of(code)
        while current is not None and current not in safe and current != code \
                and current not in chain and (current in rows or current in known):
            chain.append(current)
            current = parent_of(current)
        if current != code:
            if current is None or current in safe:
                safe.update(chain)
            continue
        looping.add(code)
        parent = row["parent_code"]
        if parent == code:
            message = _("A unit cannot be its own parent.")
        elif code in known and parent in known and known[parent].path.startswith(
                known[code].path):
            message = _("“%(parent)s” lies below this unit: the unit would become its own "
                        "ancestor.", parent=parent)
        else:
            message = _("The parent chain loops: %(chain)s.",
                        chain=" → ".join([*chain, code]))
        plan.error(row["row"], "parent_code", message)
    return looping


def _check_unit_scope(plan, rows, known, code_of, looping):
    """HR may create and change units only inside their subtree, and move none out of it."""
    actor = plan.actor

    def lands_in_scope(code):
        for _step in range(len(rows) + 1):
            row = rows.get(code)
            stays = code in known and (row is None or row["parent_code"] == (
                code_of.get(known[code].parent_id) or ""))
            if stays:
                return in_scope(actor, known[code])
            if row is None or not row["parent_code"]:
                return False
            code = row["parent_code"]
        return False

    for code, row in rows.items():
        if code in looping:
            continue
        if code in known and not in_scope(actor, known[code]):
            plan.error(row["row"], "code", _(
                "This unit is outside the part of the organisation you manage."))
        elif not lands_in_scope(code):
            plan.error(row["row"], "parent_code", _(
                "Only units inside the part of the organisation you manage can be added "
                "or moved here."))


def _diff_unit(plan, row, unit, code_of):
    head = row["head_employee_id"] or None
    if unit is None:
        plan.note("added", row["code"], row["name"], [("parent_code", None, row["parent_code"])])
        return
    before = {"name": unit.name, "parent_code": code_of.get(unit.parent_id) or "",
              "head_employee_id": unit.head_employee_id}
    after = {"name": row["name"], "parent_code": row["parent_code"], "head_employee_id": head}
    fields = [(k, before[k], after[k]) for k in after if before[k] != after[k]]
    if fields:
        plan.ops["changed"].append((unit, row))
    plan.note("updated" if fields else "unchanged", row["code"], row["name"], fields)


def apply_units(plan, now, progress=None):
    """Write a valid units plan: insert the new units, then set every parent, path and depth."""
    rows, known, code_of = plan.ops["rows"], plan.ops["known"], plan.ops["code_of"]
    ids = {code: r.id for code, r in known.items()}
    new = [row for code, row in rows.items() if code not in known]
    # New units get their ids first (parent and path are set once every id is known).
    for chunk in chunks(new):
        result = db.session.execute(
            insert(Unit).returning(Unit.id, Unit.code, sort_by_parameter_order=True),
            [{"code": r["code"], "name": r["name"], "head_employee_id": r["head_employee_id"]
              or None, "parent_id": None, "path": "", "depth": 0, "created_at": now,
              "updated_at": now} for r in chunk])
        ids.update({code: id_ for id_, code in result})
    finals = {}

    def final(code):
        """The (path, depth) a unit has once the plan is applied."""
        if code not in finals:
            parent = rows[code]["parent_code"] if code in rows else \
                code_of.get(known[code].parent_id)
            path, depth = final(parent) if parent else ("/", -1)
            finals[code] = (f"{path}{ids[code]}/", depth + 1)
        return finals[code]

    changed = [{"id": unit.id, "name": row["name"],
                "head_employee_id": row["head_employee_id"] or None,
                "parent_id": ids[row["parent_code"]] if row["parent_code"] else None,
                "updated_at": now} for unit, row in plan.ops["changed"]]
    moved = [unit for unit, row in plan.ops["changed"]
             if (row["parent_code"] or None) != code_of.get(unit.parent_id)]
    # Deepest first: when a unit moves, its old path is still the one in the database.
    for unit in sorted(moved, key=lambda u: -u.depth):
        path, depth = final(unit.code)
        db.session.execute(
            update(Unit).where(Unit.path.startswith(unit.path, autoescape=True))
            .values(path=literal(path) + func.substr(Unit.path, len(unit.path) + 1),
                    depth=Unit.depth + (depth - unit.depth))
            .execution_options(synchronize_session=False))
    placed = [{"id": ids[r["code"]], "parent_id": ids[r["parent_code"]] if r["parent_code"]
               else None, "path": final(r["code"])[0], "depth": final(r["code"])[1]}
              for r in new]
    write_in_chunks(update(Unit), changed)
    write_in_chunks(update(Unit), placed)
    if progress:
        progress(len(new) + len(changed))
