"""HR pages: the certificate register of a subtree, revocation and re-issue."""

from lms.certificates.views import bp  # noqa: F401
