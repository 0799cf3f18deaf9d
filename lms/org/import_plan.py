"""What a roster import would change, and the helpers the units and staff imports share."""

from dataclasses import dataclass, field

from lms.extensions import db
from lms.org.csvfile import RowError
from lms.org.csvfile import lazy_message as _

LIMITS = {"code": 64, "name": 255, "parent_code": 64, "head_employee_id": 64,
          "employee_id": 64, "full_name": 255, "email": 254, "unit_code": 64}
SAMPLE_SIZE = 50
CHUNK = 5000


@dataclass
class Change:
    """One sampled change of a plan, with its fields as (column, before, after)."""

    key: str
    label: str
    fields: list = field(default_factory=list)  # (column, before, after)


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


def check_values(plan, number, row, required):
    """Report the `required` columns left empty and the values longer than their column."""
    for column in required:
        if not row[column]:
            plan.error(number, column, _("A value is required."))
    for column, value in row.items():
        limit = LIMITS.get(column)
        if limit and value and len(value) > limit:
            plan.error(number, column, _("Longer than %(n)d characters.", n=limit))


def ticking(items, progress, step=1000):
    """Yield items, reporting progress every `step` of them."""
    done = 0
    for done, item in enumerate(items, start=1):
        yield item
        if progress and done % step == 0:
            progress(step)
    if progress and done % step:
        progress(done % step)


def chunks(items):
    """Consecutive slices of at most CHUNK items."""
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def write_in_chunks(statement, rows, progress=None):
    """Run a bulk (executemany) statement over `rows`, reporting progress per chunk."""
    for chunk in chunks(rows):
        db.session.execute(statement, chunk)
        if progress:
            progress(len(chunk))
