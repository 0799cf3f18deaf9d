"""audit: the hash chain (seq, prev_hash, hash on every event; the head in audit_chain),
existing events chained in id order

Revision ID: a1c4e9b2d7f0
Revises: dd83e64f1310
Create Date: 2026-11-24 09:00:00

"""
import hashlib
import json
from datetime import UTC

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c4e9b2d7f0'
down_revision = 'dd83e64f1310'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
BATCH = 2000
FIELDS = ("seq", "at", "actor_id", "action", "object_type", "object_id", "ip", "detail")

events = sa.table(
    "audit_events", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
    sa.column("at", sa.DateTime), sa.column("actor_id", sa.Integer),
    sa.column("action", sa.String), sa.column("object_type", sa.String),
    sa.column("object_id", sa.String), sa.column("ip", sa.String),
    sa.column("detail", sa.JSON), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String))
chain = sa.table("audit_chain", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
                 sa.column("last_hash", sa.String))


def entry_hash(fields, prev_hash):
    """lms.audit.chain.entry_hash as of this revision (a migration must not change when the
    code does)."""
    fields = dict(fields)
    at = fields["at"]
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    fields["at"] = at.isoformat(timespec="microseconds") + "Z"
    fields["prev_hash"] = prev_hash
    text = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(text).hexdigest()


def upgrade():
    op.create_table('audit_chain',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_events_seq'), ['seq'])
    seq, prev = _chain_existing_events(op.get_bind())
    op.bulk_insert(chain, [{"id": 1, "seq": seq, "last_hash": prev}])


def _chain_existing_events(connection):
    """Every event in id order, in batches: its seq, the hash before it and its own hash."""
    columns = [events.c.id] + [events.c[name] for name in FIELDS if name != "seq"]
    change = (events.update().where(events.c.id == sa.bindparam("event_id"))
              .values(seq=sa.bindparam("new_seq"), prev_hash=sa.bindparam("new_prev"),
                      hash=sa.bindparam("new_hash")))
    seq, prev, last_id = 0, GENESIS, 0
    while True:
        rows = connection.execute(sa.select(*columns).where(events.c.id > last_id)
                                  .order_by(events.c.id).limit(BATCH)).all()
        if not rows:
            return seq, prev
        changes = []
        for row in rows:
            seq += 1
            fields = {name: getattr(row, name) for name in FIELDS if name != "seq"}
            digest = entry_hash({**fields, "seq": seq}, prev)
            changes.append({"event_id": row.id, "new_seq": seq, "new_prev": prev,
                            "new_hash": digest})
            prev, last_id = digest, row.id
        connection.execute(change, changes)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_events_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')

    op.drop_table('audit_chain')
