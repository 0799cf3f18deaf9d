"""The audit trail's hash chain: how one entry is hashed. Each entry's hash covers its own
fields and the hash of the entry before it, so that editing, deleting or inserting an entry
breaks the chain from that entry on (`lms audit verify`)."""

import hashlib
import json
from datetime import UTC, datetime

GENESIS = "0" * 64  # the prev_hash of the first entry
FIELDS = ("seq", "at", "actor_id", "action", "object_type", "object_id", "ip", "detail")


def utc_text(moment: datetime) -> str:
    """A stored time as fixed-width ISO 8601 in UTC: 2026-11-24T03:15:09.000123Z."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def canonical(entry, prev_hash: str) -> bytes:
    """The bytes hashed for an entry (anything with FIELDS as attributes, e.g. a row as read
    back from the database): JSON with sorted keys, no whitespace, ASCII only."""
    fields = {name: getattr(entry, name) for name in FIELDS}
    fields["at"] = utc_text(fields["at"])
    fields["prev_hash"] = prev_hash
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def entry_hash(entry, prev_hash: str) -> str:
    """SHA-256 (hex) of the entry's canonical form, chained to the hash before it."""
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()
