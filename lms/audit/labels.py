"""Human labels for audit actions and object types (the stored values stay codes)."""

from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    "login": _l("Signed in"),
    "login_failed": _l("Failed sign-in"),
    "password_activate": _l("Activated the account"),
    "password_reset": _l("Reset the password"),
    "password_changed": _l("Changed the password"),
    "account_link_sent": _l("Sent an activation or reset link"),
    "invitations_sent": _l("Sent activation links to a unit"),
    "role_changed": _l("Changed a role"),
    "user_deactivated": _l("Deactivated an account"),
    "user_reactivated": _l("Reactivated an account"),
    "import_units": _l("Imported units"),
    "import_staff": _l("Imported staff"),
    "admin_created": _l("Created an administrator"),
    "demo_loaded": _l("Loaded the demo organisation"),
    "content_synced": _l("Synced the course content"),
    "programme_assigned": _l("Assigned a programme"),
    "programme_deadline_changed": _l("Changed a programme deadline"),
    "programme_unassigned": _l("Removed a programme assignment"),
    "quiz_regraded": _l("Regraded a quiz"),
    "certificate_revoked": _l("Revoked a certificate"),
    "certificate_reissued": _l("Re-issued a certificate"),
    "certificate_renewed": _l("Renewed a certificate after a refresher"),
    "certificate_key_rotated": _l("Rotated the certificate signing key"),
    "refresher_invitations_sent": _l("Sent refresher invitations"),
    "snapshot_recorded": _l("Recorded the weekly progress snapshot"),
    "api_token_created": _l("Created an API token"),
    "api_token_revoked": _l("Revoked an API token"),
    "report_exported": _l("Exported a report listing staff"),
    "email_resent": _l("Put a failed email back in the outbox"),
}
OBJECT_LABELS = {"users": _l("Person"), "units": _l("Unit"), "content": _l("Course content"),
                 "quiz_banks": _l("Question bank"), "certificates": _l("Certificate"),
                 "api_tokens": _l("API token"), "snapshots": _l("Progress snapshot"),
                 "email": _l("Email")}
