"""The audit log of privileged actions, kept as a hash chain (lms.audit.chain)."""

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import JSON, ForeignKey, String, bindparam, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship
from sqlalchemy.orm.attributes import set_committed_value

from lms.audit.chain import FIELDS, GENESIS, entry_hash
from lms.extensions import db
from lms.org.models import utcnow
from lms.sql import upsert_for

_PENDING = "audit_events_to_chain"  # session.info flag: this transaction added events


class AuditEvent(db.Model):
    """Who did what to which object, when (UTC) and from where; `seq` is its place in the
    chain and `hash` covers its fields and the hash before it (set when it is committed)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    actor = relationship("User")


class AuditChain(db.Model):
    """The head of the chain, one row (id 1): the last seq given and that entry's hash. Its
    UPDATE serialises the writers of events (PostgreSQL's row lock, SQLite's write lock)."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


# Events are chained when their transaction commits, not when they are flushed: the head's
# lock is then taken last and held only for the commit. Taken at the first flush, it would be
# held while the action goes on writing, and two actions each holding a row the other needs
# next (the head, a person's row) would deadlock.

@event.listens_for(AuditEvent, "before_insert")
def _note_pending(mapper, connection, target):
    object_session(target).info[_PENDING] = True


@event.listens_for(Session, "before_commit")
def _chain_pending(session):
    if session.in_nested_transaction():
        return  # a savepoint: the outermost commit chains
    session.flush()
    if session.info.pop(_PENDING, False):
        link_new_events(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session, previous_transaction):
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def link_new_events(session):
    """Give each event of this transaction not yet chained (in id order, which is the order
    they were added) the next seq, the hash before it and its own hash; move the head."""
    events, head = AuditEvent.__table__, AuditChain.__table__
    pending = session.execute(
        select(events.c.id, *(events.c[name] for name in FIELDS if name != "seq"))
        .where(events.c.seq.is_(None)).order_by(events.c.id)).all()
    if not pending:
        return
    take = (update(head).where(head.c.id == 1).values(seq=head.c.seq + len(pending))
            .returning(head.c.seq, head.c.last_hash))
    taken = session.execute(take).one_or_none()
    if taken is None:
        _create_head(session)
        taken = session.execute(take).one()
    seq, prev = taken.seq - len(pending), taken.last_hash
    changes = []
    for row in pending:
        seq += 1
        digest = entry_hash(SimpleNamespace(**row._mapping, seq=seq), prev)
        changes.append({"event_id": row.id, "new_seq": seq, "new_prev": prev,
                        "new_hash": digest})
        _show_in_session(session, row.id, seq, prev, digest)
        prev = digest
    session.execute(update(events).where(events.c.id == bindparam("event_id"))
                    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"),
                            hash=bindparam("new_hash")), changes)
    session.execute(update(head).where(head.c.id == 1).values(last_hash=prev))


def _create_head(session):
    """The head row, where a database was created without it (create_all): after the last
    chained event, if any. Two transactions doing it at once create one."""
    events, head = AuditEvent.__table__, AuditChain.__table__
    last = session.execute(select(events.c.seq, events.c.hash).where(events.c.seq.is_not(None))
                           .order_by(events.c.seq.desc()).limit(1)).one_or_none()
    insert = upsert_for(session.get_bind().dialect.name, head).values(
        id=1, seq=last.seq if last else 0, last_hash=last.hash if last else GENESIS)
    session.execute(insert.on_conflict_do_nothing(index_elements=[head.c.id]))


def _show_in_session(session, event_id, seq, prev, digest):
    """The chain fields on the event object, if this session holds it."""
    event_ = session.identity_map.get(session.identity_key(AuditEvent, event_id))
    if event_ is not None:
        set_committed_value(event_, "seq", seq)
        set_committed_value(event_, "prev_hash", prev)
        set_committed_value(event_, "hash", digest)
