"""Import every domain's models so that metadata and migrations see all tables."""

from lms.audit.models import AuditEvent
from lms.auth.models import LoginThrottle, User
from lms.org.models import Unit

__all__ = ["AuditEvent", "LoginThrottle", "Unit", "User"]
