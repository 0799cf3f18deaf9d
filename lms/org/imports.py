"""Importing the units tree and the staff roster from CSV: read, plan (validate), apply.

A plan is computed from one snapshot query per table and written with bulk executemany
statements, so its cost does not grow with per-row queries. Services flush, never commit.
The parts: `csvfile` reads a file, `import_plan` holds the plan, `import_units` and
`import_staff` check and write each kind.
"""

from lms.audit.services import record_event
from lms.extensions import db
from lms.org.csvfile import KINDS, content_problem, read_table
from lms.org.import_staff import apply_staff, plan_staff
from lms.org.import_units import apply_units, plan_units
from lms.org.models import utcnow

__all__ = ["KINDS", "apply_plan", "content_problem", "plan_file", "plan_table", "read_table"]


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
        apply_units(plan, utcnow(), progress)
    else:
        apply_staff(plan, progress)
    record_event(f"import_{plan.kind}", actor=plan.actor, ip=ip, file=plan.file,
                 rows=plan.rows, **plan.counts)
    db.session.flush()
    db.session.expire_all()  # bulk statements bypass the objects already loaded
    return plan.counts
