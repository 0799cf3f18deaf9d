"""The outbox: queue an email once (a row keyed by kind, period and recipient), then send
the due rows over one SMTP connection, safely when several senders run.

A sender *claims* due rows in one short transaction (on PostgreSQL the candidates are locked
with SKIP LOCKED, so two senders take different rows; SQLite serialises writers), then sends
them one by one, committing each outcome: sent; failed for good (a 5xx answer: the row keeps
the server's words and an admin can resend it); or back to pending with a back-off (a 4xx
answer, a dead or vanished server). A row claimed by a sender that crashed before recording
the outcome is claimed again once its lease ran out. No row is ever deleted. Every message
carries a Message-ID derived from its row, so a receiver can recognise a repeat.
"""

import secrets
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formatdate

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from lms.audit.services import record_event
from lms.auth.models import User
from lms.extensions import db
from lms.notify.models import OutboxMessage
from lms.notify.services import build_message, smtp_connection, write_eml
from lms.org.models import utcnow
from lms.sql import begin_write, upsert

LEASE = timedelta(minutes=10)  # a claim older than this belongs to a sender that died
MAX_ATTEMPTS = 12  # transient failures retried over about a day, then failed (resendable)
BATCH = 200


def enqueue(kind, period, user, subject, text, html=None, *, unit=None, lang="vi"):
    """Queue one rendered email to `user` unless (kind, period, user) is queued already;
    True when a row was inserted. Does not commit."""
    return bool(_insert(kind, period, user.id, user.email,
                        unit.id if unit is not None else None, subject, text, html, lang))


def _insert(kind, period, user_id, email, unit_id, subject, text, html, lang):
    table = OutboxMessage.__table__
    now = utcnow()
    result = db.session.execute(upsert(table).values(
        kind=kind, period=period, recipient=f"user:{user_id}", user_id=user_id,
        unit_id=unit_id, to_address=email, lang=lang, subject=subject, text_body=text,
        html_body=html, status="pending", attempts=0, next_attempt_at=now, created_at=now,
    ).on_conflict_do_nothing(index_elements=[table.c.kind, table.c.period, table.c.recipient])
        .returning(table.c.id))
    return int(result.first() is not None)  # (rowcount is not reliable here on psycopg)


@dataclass
class Message:
    """A rendered email waiting to be queued (see enqueue_all)."""

    kind: str
    period: str
    user: object
    subject: str
    text: str
    html: str | None = None
    unit: object = None
    lang: str = "vi"


def enqueue_all(messages, also=None):
    """Queue rendered messages in one short write transaction of their own, after
    committing what the caller read (so that two jobs running at once on SQLite cannot
    fail halfway), with `also()` (e.g. marking what was emailed about) in the same
    transaction; returns how many rows were new. Commits."""
    messages = list(messages)
    keys = [(m.user.id, m.user.email, m.unit.id if m.unit is not None else None)
            for m in messages]
    db.session.commit()
    begin_write()
    inserted = 0
    for message, (user_id, email, unit_id) in zip(messages, keys, strict=True):
        inserted += _insert(message.kind, message.period, user_id, email, unit_id,
                            message.subject, message.text, message.html, message.lang)
    if also is not None:
        also()
    db.session.commit()
    return inserted


def queued(kind, period):
    """Ids of the users who already have a (kind, period) message, whatever its status."""
    return set(db.session.scalars(select(OutboxMessage.user_id).where(
        OutboxMessage.kind == kind, OutboxMessage.period == period,
        OutboxMessage.user_id.is_not(None))))


def message_id(row):
    """The Message-ID of a row: the same on every attempt."""
    sender = current_app.config.get("MAIL_FROM") or ""
    domain = sender.rsplit("@", 1)[-1].strip("> ") if "@" in sender else "civicskills.local"
    return f"<outbox.{row.id}.{row.kind}.{row.period}@{domain}>"


def build(row):
    """The email of a row, as stored (ValueError when it cannot be an email)."""
    if any(ch in row.to_address for ch in "\r\n\x00"):
        raise ValueError("a line break in the address")
    msg = build_message(row.to_address, row.subject, row.text_body, row.html_body,
                        message_id=message_id(row))
    msg["Auto-Submitted"] = "auto-generated"
    msg.replace_header("Date", formatdate(localtime=False))
    if row.lang:
        msg["Content-Language"] = row.lang
    return msg


@dataclass
class SendResult:
    sent: int = 0
    retried: int = 0  # back to pending, to be tried again later
    failed: int = 0
    cancelled: int = 0
    errors: list = field(default_factory=list)  # (row id, error) of failures and retries

    @property
    def handled(self):
        return self.sent + self.retried + self.failed + self.cancelled


def claim(limit=BATCH, now=None):
    """Take up to `limit` due rows for this sender (pending and due, or claimed by a sender
    whose lease ran out), in the current transaction; returns them in id order."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    due = (select(OutboxMessage.id)
           .where(or_(and_(OutboxMessage.status == "pending",
                           OutboxMessage.next_attempt_at <= now),
                      and_(OutboxMessage.status == "sending",
                           OutboxMessage.claimed_at < now - LEASE)))
           .order_by(OutboxMessage.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(status="sending", claimed_at=now, claim_token=token,
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.claim_token == token)
                              .order_by(OutboxMessage.id)).all()


def send_due(limit=BATCH, now=None):
    """Claim the due rows and send them (over SMTP when LMS_SMTP_URL is set, else as .eml
    files in the instance outbox); returns what happened. Each step is a short transaction
    of its own, and none is open while the mail server is talked to."""
    db.session.commit()
    begin_write()
    result, outgoing = SendResult(), []
    rows = claim(limit, now)
    recipients = _recipients(rows)
    for row in rows:
        reason = _unwanted(row, recipients.get(row.user_id))
        if reason:
            _cancel(row, reason)
            result.cancelled += 1
            continue
        try:
            outgoing.append((row.id, row.attempts, build(row)))
        except ValueError as exc:  # e.g. a line break in an address: never sendable
            row.status, row.claim_token = "failed", None
            row.last_error = f"cannot be built: {exc}"[:500]
            result.failed += 1
            result.errors.append((row.id, row.last_error))
    db.session.commit()
    if not outgoing:
        return result
    url = current_app.config.get("SMTP_URL")
    if not url:
        for row_id, attempts, msg in outgoing:
            write_eml(msg, name=f"{row_id:08d}.eml")
            _record(row_id, attempts, result)
        return result
    try:
        smtp = smtp_connection(url)
    except (OSError, smtplib.SMTPException) as exc:
        for row_id, attempts, _msg in outgoing:
            _record(row_id, attempts, result, exc)
        return result
    with smtp:
        for position, (row_id, attempts, msg) in enumerate(outgoing):
            try:
                smtp.send_message(msg)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                _record(row_id, attempts, result, exc)  # an answer about this message
            except OSError as exc:  # (SMTPException is one) the connection is gone: all wait
                for rest, rest_attempts, _msg in outgoing[position:]:
                    _record(rest, rest_attempts, result, exc)
                break
            else:
                _record(row_id, attempts, result)
    return result


def _record(row_id, attempts, result, exc=None):
    """Keep the outcome of one message at once (a crash repeats one message at most): sent,
    failed for good (a 5xx answer), or pending again with a back-off (`attempts`: its
    attempts so far, this one included). One UPDATE in a short transaction."""
    now = utcnow()
    if exc is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
        result.sent += 1
    else:
        error = _describe(exc)
        result.errors.append((row_id, error))
        if 500 <= _code(exc) < 600:
            values = {"status": "failed", "last_error": error}
            result.failed += 1
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "failed",
                      "last_error": f"gave up after {attempts} attempts: {error}"}
            result.failed += 1
        else:
            values = {"status": "pending", "last_error": error,
                      "next_attempt_at": now + backoff(attempts)}
            result.retried += 1
    begin_write()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                       .values(claim_token=None, **values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _code(exc):
    """The SMTP reply code of a failure (0: no answer, the server is unreachable)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return min((code for code, _ in exc.recipients.values()), default=550)
    return getattr(exc, "smtp_code", 0)


def _recipients(rows):
    """{user id: (active, role, unit id)} of the rows' recipients, as they are now: one
    query for the batch."""
    ids = {row.user_id for row in rows if row.user_id is not None}
    if not ids:
        return {}
    return {user_id: (active, role, unit_id) for user_id, active, role, unit_id in
            db.session.execute(select(User.id, User.active, User.role, User.unit_id)
                               .where(User.id.in_(ids)))}


def _unwanted(row, user):
    """Why the row should not go out any more, given its recipient's (active, role, unit id)
    now (None: it should)."""
    if user is None or not user[0]:
        return "recipient no longer active"
    if row.kind == "digest" and (user[1] != "head" or user[2] != row.unit_id):
        return "recipient no longer heads this unit"
    return None


def _cancel(row, reason):
    row.status, row.claim_token, row.last_error = "cancelled", None, reason


def backoff(attempts):
    """The wait before the next attempt: 1, 2, 4 ... minutes, at most 4 hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 240))


def _describe(exc):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {_text(message)}"
                         for address, (code, message) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _text(message):
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def resend(actor, row, ip=None):
    """Put a failed or cancelled message back in the queue, now; audit-logged."""
    if row.status not in ("failed", "cancelled"):
        return False
    record_event("email_resent", actor=actor, object_type="email", object_id=str(row.id),
                 ip=ip, kind=row.kind, period=row.period, to=row.to_address,
                 error=row.last_error)
    row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
    row.claim_token = None
    return True


def status_counts():
    """{status: number of messages}."""
    return dict(db.session.execute(select(OutboxMessage.status, func.count())
                                   .group_by(OutboxMessage.status)).all())
