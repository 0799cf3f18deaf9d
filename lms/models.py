"""Import every domain's models so that metadata and migrations see all tables."""

from lms.api.models import ApiToken
from lms.audit.models import AuditEvent
from lms.auth.models import LoginThrottle, RecoveryCode, User
from lms.certificates.models import Certificate, CertificateCounter
from lms.courses.models import (
    ContentState,
    Course,
    CourseCompletion,
    CourseText,
    Module,
    ModuleRead,
    ModuleText,
    Programme,
    ProgrammeAssignment,
    ProgrammeCourse,
)
from lms.notify.models import OutboxMessage
from lms.org.models import Unit
from lms.quizzes.models import QuizAnswer, QuizAttempt, QuizBank, QuizQuestion
from lms.ratelimit import RateLimit
from lms.reports.models import ProgrammeProgress, UnitFigures, UnitSnapshot

__all__ = [
    "ApiToken", "AuditEvent", "Certificate", "CertificateCounter", "ContentState", "Course",
    "CourseCompletion", "CourseText", "LoginThrottle", "Module", "ModuleRead", "ModuleText",
    "OutboxMessage", "Programme", "ProgrammeAssignment", "ProgrammeCourse", "QuizAnswer",
    "QuizAttempt", "ProgrammeProgress", "QuizBank", "QuizQuestion", "RecoveryCode", "Unit",
    "UnitFigures", "UnitSnapshot", "User", "RateLimit",
]
