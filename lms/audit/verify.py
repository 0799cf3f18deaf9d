"""Checking the audit trail: every entry in seq order, in batches (constant memory)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from lms.audit.chain import FIELDS, GENESIS, entry_hash
from lms.audit.models import AuditChain, AuditEvent
from lms.extensions import db

BATCH = 2000
_EVENTS = AuditEvent.__table__  # plain rows, not ORM objects: a million of them go by
_COLUMNS = (_EVENTS.c.id, *(_EVENTS.c[name] for name in FIELDS), _EVENTS.c.prev_hash,
            _EVENTS.c.hash)


@dataclass(frozen=True)
class Break:
    """The first entry where the chain breaks, and how (`kind`: edited, deleted, inserted,
    head); id, at and action are those of the entry, when there is one."""

    kind: str
    seq: int | None
    message: str
    id: int | None = None
    at: datetime | None = None
    action: str | None = None


@dataclass(frozen=True)
class Verdict:
    entries: int
    last_hash: str
    broken: Break | None = None

    @property
    def intact(self):
        return self.broken is None


def verify_trail(batch=BATCH):
    """Walk the chain up to the head as read first (events committed meanwhile come after
    it), recomputing each hash and checking seq continuity and each link; then the head
    against the last entry, entries beyond the head and entries outside the chain."""
    head = db.session.execute(select(AuditChain.seq, AuditChain.last_hash)
                              .where(AuditChain.id == 1)).one_or_none()
    top = head.seq if head else db.session.scalar(select(func.max(_EVENTS.c.seq))) or 0
    expected, prev, last = 1, GENESIS, None
    while True:
        after = [_EVENTS.c.seq > last.seq] if last else []
        rows = db.session.execute(
            select(*_COLUMNS).where(_EVENTS.c.seq.is_not(None), _EVENTS.c.seq <= top, *after)
            .order_by(_EVENTS.c.seq).limit(batch)).all()
        for row in rows:
            broken = _check(row, expected, prev)
            if broken:
                return Verdict(expected - 1, prev, broken)
            expected, prev, last = expected + 1, row.hash, row
        if len(rows) < batch:
            break
    count = expected - 1
    broken = _check_head(head, last) or _beyond_head(top) or _outside_chain()
    return Verdict(count, prev, broken)


def _check(row, expected, prev):
    def found(kind, message):
        return Break(kind, row.seq, message, row.id, row.at, row.action)

    if row.seq > expected:
        missing = f"{expected}" if row.seq == expected + 1 else f"{expected}–{row.seq - 1}"
        return found("deleted", f"deleted before it: entries {missing} are missing")
    if row.seq < expected:
        return found("inserted", "inserted: its seq is out of place")
    if entry_hash(row, row.prev_hash) != row.hash:
        return found("edited", "edited: its fields do not match its hash")
    if row.prev_hash != prev:
        return found("inserted", "inserted or replaced: it is not chained to the entry "
                                 "before it")
    return None


def _check_head(head, last):
    """The head must name the last entry walked: its seq and its hash."""
    if last is None and head is None:
        return None
    if head is None:
        return Break("head", None, "head mismatch: the chain head is missing")
    if last is None and head.seq == 0 and head.last_hash == GENESIS:
        return None
    if last is None or last.seq < head.seq:
        first = last.seq + 1 if last else 1
        span = f"{first}" if first == head.seq else f"{first}–{head.seq}"
        return Break("deleted", first, f"head mismatch: the last entries ({span}) were "
                                       "deleted")
    if last.hash != head.last_hash:
        return Break("head", last.seq, "head mismatch: the head holds another hash for the "
                                       "last entry", last.id, last.at, last.action)
    return None


def _beyond_head(top):
    """Entries numbered after the head. Read after them, a head that moved covers those
    committed meanwhile; any still beyond it were inserted."""
    highest = db.session.scalar(select(func.max(_EVENTS.c.seq)))
    if highest is None or highest <= top:
        return None
    now = db.session.scalar(select(AuditChain.seq).where(AuditChain.id == 1)) or 0
    if highest <= now:
        return None
    row = db.session.execute(select(*_COLUMNS).where(_EVENTS.c.seq > now)
                             .order_by(_EVENTS.c.seq).limit(1)).one()
    return Break("inserted", row.seq, "inserted: after the chain head", row.id, row.at,
                 row.action)


def _outside_chain():
    """A committed event always has its seq: one without was written around the chain."""
    row = db.session.execute(select(*_COLUMNS).where(_EVENTS.c.seq.is_(None))
                             .order_by(_EVENTS.c.id).limit(1)).one_or_none()
    if row is None:
        return None
    return Break("inserted", None, "inserted: outside the chain (no seq)", row.id, row.at,
                 row.action)
