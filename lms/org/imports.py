"""Importing the units tree and the staff roster from CSV: read, plan (validate), apply.

A plan is computed from one snapshot query per table and written with bulk executemany
statements, so its cost does not grow with per-row queries. Services flush, never commit.
"""

import codecs
import csv
import functools
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import func, insert, literal, select, update

from lms.audit.services import record_event
from lms.auth.models import CATEGORIES, ROLES, User
from lms.auth.permissions import in_scope
from lms.extensions import db
from lms.org.models import Unit, utcnow
from lms.org.services import staff_search_text
from lms.text import nfc, sort_key

KINDS = ("units", "staff")
COLUMNS = {
    "units": ("code", "name", "parent_code", "head_employee_id"),
    "staff": ("employee_id", "full_name", "email", "unit_code", "category", "role"),
}
OPTIONAL = {"head_employee_id", "role"}  # a file may leave these columns out entirely
LIMITS = {"code": 64, "name": 255, "parent_code": 64, "head_employee_id": 64,
          "employee_id": 64, "full_name": 255, "email": 254, "unit_code": 64}
SAMPLE_SIZE = 50
CHUNK = 5000
_FOREIGN_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                 codecs.BOM_UTF16_BE)
_BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF")
# Plain dot-atom local parts, which email-validator always accepts: only their domain
# needs the (slow) full check, once per domain.
_PLAIN_LOCAL = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*\Z")


class Message:
    """A message translated when shown: the reader's language on the web, English elsewhere."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid, params):
        self.msgid, self.params = msgid, params

    def __str__(self):
        if has_request_context():
            return gettext(self.msgid, **self.params)
        return self.msgid % self.params if self.params else self.msgid


def _(msgid, **params):
    """Mark a message for translation; it is rendered later, in the reader's language."""
    return Message(msgid, params)


@dataclass
class RowError:
    file: str
    row: int
    column: str
    message: Message

    def __str__(self):
        where = f"{self.file}:{self.row}:{self.column}" if self.column else \
            f"{self.file}:{self.row}"
        return f"{where}: {self.message}"


@dataclass
class Change:
    key: str
    label: str
    fields: list = field(default_factory=list)  # (column, before, after)


@dataclass
class Table:
    """A parsed CSV file: rows as (spreadsheet row number, {column: raw value})."""

    name: str
    kind: str
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def error(self, row, column, message):
        self.errors.append(RowError(self.name, row, column, message))


@dataclass
class ImportPlan:
    """What an import would change, its errors, and the statements that apply it."""

    kind: str
    file: str
    actor: object = None
    deactivate_missing: bool = False
    rows: int = 0
    errors: list = field(default_factory=list)
    counts: dict = field(default_factory=lambda: dict.fromkeys(
        ("added", "updated", "unchanged", "deactivated", "reactivated"), 0))
    samples: dict = field(default_factory=lambda: {"added": [], "updated": [],
                                                   "deactivated": []})
    ops: dict = field(default_factory=dict)

    @property
    def ok(self):
        return not self.errors

    @property
    def writes(self):
        """Rows that applying the plan writes."""
        return sum(self.counts[k] for k in ("added", "updated", "deactivated"))

    def error(self, row, column, message):
        self.errors.append(RowError(self.file, row, column, message))

    def note(self, kind, key, label, fields=()):
        self.counts[kind] += 1
        if kind in self.samples and len(self.samples[kind]) < SAMPLE_SIZE:
            self.samples[kind].append(Change(key, label, list(fields)))


# Reading ---------------------------------------------------------------------------------

def content_problem(head):
    """Why these bytes (a whole file or its start) are not a UTF-8 CSV text file, or None."""
    if not head:
        return _("The file is empty.")
    if head.startswith(_FOREIGN_BOMS):
        return _("The file is saved as UTF-16 or UTF-32 text: save it as “CSV UTF-8”.")
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return _("This is not a CSV text file (a spreadsheet or a document?): "
                 "save it as “CSV UTF-8”.")
    return None


def read_table(source, name, kind):
    """Decode and parse a CSV file (bytes or a path) of `kind`, collecting every problem."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    table = Table(name, kind)
    problem = content_problem(data)
    if problem is not None:
        table.error(1, "", problem)
        return table
    data = data.removeprefix(codecs.BOM_UTF8)  # Excel's "CSV UTF-8" writes one
    try:
        text, broken = data.decode("utf-8"), False
    except UnicodeDecodeError:
        # Keep the bad bytes as surrogates so that each can be reported at its row and column.
        text, broken = data.decode("utf-8", "surrogateescape"), True
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number, header = 0, None
    try:
        for number, cells in enumerate(reader, start=1):
            if header is None:
                header = _read_header(table, cells, broken)
                if header is None:
                    return table
            elif any(cell.strip() for cell in cells):
                table.rows.append((number, _read_row(table, number, header, cells, broken)))
    except csv.Error as exc:
        table.error(number + 1, "", _("The file cannot be read as CSV: %(reason)s",
                                      reason=str(exc)))
    if header is None:
        table.error(1, "", _("The file is empty."))
    elif not table.rows and not table.errors:
        table.error(2, "", _("The file has a header but no data rows."))
    return table


def _read_header(table, cells, broken):
    header = [cell.strip().lower() for cell in cells]
    while header and not header[-1]:
        header.pop()
    expected = COLUMNS[table.kind]
    start = len(table.errors)
    for i, column in enumerate(header):
        if broken and _has_bad_bytes(column):
            table.error(1, _letter(i), _("Invalid UTF-8 text: save the file as “CSV UTF-8”."))
        elif column not in expected:
            table.error(1, column or _letter(i), _(
                "Unknown column “%(column)s”; the columns are: %(expected)s.",
                column=column, expected=", ".join(expected)))
        elif column in header[:i]:
            table.error(1, column, _("The column “%(column)s” appears twice.", column=column))
    for column in expected:
        if column not in header and column not in OPTIONAL:
            table.error(1, column, _("Missing column “%(column)s”.", column=column))
    return None if len(table.errors) > start else header


def _read_row(table, number, header, cells, broken):
    values = dict.fromkeys(COLUMNS[table.kind], "")
    for i, cell in enumerate(cells):
        if i >= len(header):
            if cell.strip():
                table.error(number, _letter(i), _(
                    "This row has more cells than the header has columns."))
                break
            continue
        if broken and _has_bad_bytes(cell):
            table.error(number, header[i],
                        _("Invalid UTF-8 text: save the file as “CSV UTF-8”."))
            cell = cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        elif "\n" in cell or "\r" in cell:
            table.error(number, header[i], _(
                "This value runs over several lines: is a quote (\") left open?"))
        values[header[i]] = cell
    return values


def _has_bad_bytes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _letter(index):
    """The spreadsheet column letter of a 0-based index (A, B, ..., Z, AA, ...)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _ticking(items, progress, step=1000):
    """Yield items, reporting progress every `step` of them."""
    done = 0
    for done, item in enumerate(items, start=1):
        yield item
        if progress and done % step == 0:
            progress(step)
    if progress and done % step:
        progress(done % step)


def _check_limits(plan, number, row):
    for column, value in row.items():
        limit = LIMITS.get(column)
        if limit and value and len(value) > limit:
            plan.error(number, column, _("Longer than %(n)d characters.", n=limit))


def _chunks(items):
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


# Units ---------------------------------------------------------------------------------

def plan_units(table, actor=None, progress=None):
    """Validate a units file: codes, names, parents, loops and the actor's scope."""
    plan = ImportPlan("units", table.name, actor, rows=len(table.rows),
                      errors=list(table.errors))
    known = {r.code: r for r in db.session.execute(select(
        Unit.id, Unit.code, Unit.name, Unit.parent_id, Unit.path, Unit.depth,
        Unit.head_employee_id))}
    code_of = {r.id: r.code for r in known.values()}
    rows = {}
    for number, values in _ticking(table.rows, progress):
        row = {"code": values["code"].strip(), "name": nfc(values["name"]),
               "parent_code": values["parent_code"].strip(),
               "head_employee_id": values["head_employee_id"].strip()}
        for column in ("code", "name"):
            if not row[column]:
                plan.error(number, column, _("A value is required."))
        _check_limits(plan, number, row)
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


def _apply_units(plan, now, progress):
    rows, known, code_of = plan.ops["rows"], plan.ops["known"], plan.ops["code_of"]
    ids = {code: r.id for code, r in known.items()}
    new = [row for code, row in rows.items() if code not in known]
    # New units get their ids first (parent and path are set once every id is known).
    for chunk in _chunks(new):
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
    for batch in (changed, placed):
        for chunk in _chunks(batch):
            db.session.execute(update(Unit), chunk)
    if progress:
        progress(len(new) + len(changed))


# Staff -----------------------------------------------------------------------------------

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
    for number, row in _ticking(rows, progress):
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
    for column in ("employee_id", "full_name", "email", "unit_code", "category"):
        if not row[column]:
            plan.error(number, column, _("A value is required."))
    _check_limits(plan, number, row)
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


def _apply_staff(plan, progress):
    ops = plan.ops
    # Addresses that change are freed first, so that two people may swap theirs.
    for batch in (ops["release"], ops["update"], ops["deactivate"]):
        for chunk in _chunks(batch):
            db.session.execute(update(User), chunk)
            if progress and batch is not ops["release"]:
                progress(len(chunk))
    for chunk in _chunks(ops["insert"]):
        db.session.execute(insert(User), chunk)
        if progress:
            progress(len(chunk))


# Entry points ----------------------------------------------------------------------------

def plan_table(table, actor=None, deactivate_missing=False, progress=None):
    """Validate a parsed file for `actor` (None: the command line, which may do everything)."""
    if table.kind == "units":
        return plan_units(table, actor, progress)
    return plan_staff(table, actor, deactivate_missing, progress)


def plan_file(kind, source, name, actor=None, deactivate_missing=False, progress=None):
    """Read and validate a units or staff file (bytes or a path) into a plan."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}")
    return plan_table(read_table(source, name, kind), actor, deactivate_missing, progress)


def apply_plan(plan, ip=None, progress=None):
    """Write a valid plan in bulk and audit it once; a plan that changes nothing writes nothing."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be applied")
    if not plan.writes:
        return plan.counts
    db.session.flush()
    if plan.kind == "units":
        _apply_units(plan, utcnow(), progress)
    else:
        _apply_staff(plan, progress)
    record_event(f"import_{plan.kind}", actor=plan.actor, ip=ip, file=plan.file,
                 rows=plan.rows, **plan.counts)
    db.session.flush()
    db.session.expire_all()  # bulk statements bypass the objects already loaded
    return plan.counts
