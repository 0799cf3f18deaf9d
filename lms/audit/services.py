"""Recording privileged actions, and finding them again (the admin page and its export)."""

import json
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.extensions import db
from lms.i18n import app_zone, local_midnight
from lms.text import fold

BATCH = 1000
NEWEST_FIRST = (AuditEvent.seq.desc().nulls_first(), AuditEvent.id.desc())


def record_event(action, *, actor=None, obj=None, object_type=None, object_id=None,
                 ip=None, **detail):
    """Add an audit event to the current transaction (it is committed, and chained, with the
    action)."""
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id or str(obj.id)
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        ip=ip,
        detail=detail,
    )
    db.session.add(event)
    return event


def detail_json(detail):
    """An event's detail as readable JSON (Vietnamese as such), keys sorted."""
    return json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""


def event_conditions(*, actor="", action="", object_type="", object_id="", ip="", since=None,
                     until=None):
    """SQL conditions for the events matching every filter given: the actor's name, employee
    ID or email (any case, with or without diacritics), exact action, object and address,
    and local dates from `since` to `until` included."""
    conditions = []
    words = fold(actor).split()[:5]
    if words:
        actors = select(User.id).where(*(User.search_text.contains(word, autoescape=True)
                                         for word in words))
        conditions.append(AuditEvent.actor_id.in_(actors))
    for column, value in ((AuditEvent.action, action), (AuditEvent.object_type, object_type),
                          (AuditEvent.object_id, object_id), (AuditEvent.ip, ip)):
        if value:
            conditions.append(column == value)
    if since:
        conditions.append(AuditEvent.at >= local_midnight(since))
    if until:
        conditions.append(AuditEvent.at < local_midnight(until + timedelta(days=1)))
    return conditions


def events_page(filters, page, per_page):
    """One page of the matching events, newest first, with their actors."""
    query = (select(AuditEvent).options(joinedload(AuditEvent.actor))
             .where(*event_conditions(**filters)).order_by(*NEWEST_FIRST))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def export_rows(filters, action_labels, leave_out=None):
    """(seq, local time, actor's employee ID, actor's name, action, its label, object type,
    object ID, address, detail as JSON, hash) of the matching events but `leave_out` (the
    export's own event), newest first, read in batches."""
    query = (select(AuditEvent.seq, AuditEvent.at, User.employee_id, User.full_name,
                    AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id,
                    AuditEvent.ip, AuditEvent.detail, AuditEvent.hash)
             .outerjoin(User, User.id == AuditEvent.actor_id)
             .where(*event_conditions(**filters), AuditEvent.id != leave_out)
             .order_by(*NEWEST_FIRST).execution_options(yield_per=BATCH))
    zone = app_zone()
    for seq, at, employee_id, name, action, object_type, object_id, ip, detail, digest \
            in db.session.execute(query):
        local = at.replace(tzinfo=UTC).astimezone(zone)
        yield (seq, local.strftime("%Y-%m-%d %H:%M:%S"), employee_id, name, action,
               str(action_labels.get(action, action)), object_type, object_id, ip,
               detail_json(detail), digest)
