"""Import every domain's models so that metadata and migrations see all tables."""

from lms.audit.models import AuditEvent
from lms.auth.models import LoginThrottle, User
from lms.courses.models import (
    Course,
    CourseText,
    Module,
    ModuleRead,
    ModuleText,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.org.models import Unit

__all__ = [
    "AuditEvent", "Course", "CourseText", "LoginThrottle", "Module", "ModuleRead", "ModuleText",
    "Programme", "ProgrammeAssignment", "ProgrammeCourse", "Unit", "User",
]
