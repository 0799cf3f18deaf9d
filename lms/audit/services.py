"""Recording privileged actions."""

from lms.audit.models import AuditEvent
from lms.extensions import db


def record_event(action, *, actor=None, obj=None, object_type=None, object_id=None,
                 ip=None, **detail):
    """Add an audit event to the current transaction (it is committed with the action)."""
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
