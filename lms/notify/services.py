"""Sending email: over SMTP when LMS_SMTP_URL is set, else as .eml files in the outbox."""

import smtplib
import ssl
import uuid
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app


def build_message(to, subject, text, html=None, message_id=None):
    """An RFC 5322 message with a plain-text part and an optional HTML part, UTF-8 (names
    in headers as encoded words). Built with the email package's compat32 classes, which
    take half the time of EmailMessage's for the same bytes (it matters for a thousand
    digests)."""
    if html:
        msg = MIMEMultipart("alternative")
        msg.attach(MIMEText(text, "plain", "utf-8"))
        msg.attach(MIMEText(html, "html", "utf-8"))
    else:
        msg = MIMEText(text, "plain", "utf-8")
    name, address = parseaddr(current_app.config["MAIL_FROM"])
    msg["From"] = formataddr((name, address), charset="utf-8")
    msg["To"] = to
    msg["Subject"] = Header(subject, "utf-8")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or make_msgid(domain="civicskills.local")
    return msg


def send_email(to, subject, text, html=None, message_id=None):
    """Send one message now; return its Message-ID."""
    msg = build_message(to, subject, text, html, message_id)
    send_messages([msg])
    return msg["Message-ID"]


def send_messages(messages):
    """Send built messages (any iterable) over one SMTP connection, or to the outbox."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        for msg in messages:
            write_eml(msg)
        return
    with smtp_connection(url) as smtp:
        for msg in messages:
            smtp.send_message(msg)


def write_eml(msg, name=None):
    """Write the message to the instance outbox folder, for set-ups without SMTP (under
    `name`, replacing a file of that name, else a new random one)."""
    outbox = Path(current_app.instance_path) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / (name or f"{uuid.uuid4().hex}.eml")
    partial = path.with_suffix(".part")
    partial.write_bytes(bytes(msg))
    partial.replace(path)  # whole or not at all
    return path


def smtp_connection(url):
    """Open an SMTP connection from smtp://, smtp+starttls:// or smtps:// with optional login."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or "127.0.0.1"
    context = ssl.create_default_context()
    if scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=30, context=context)
    elif scheme in ("smtp", "smtp+starttls"):
        smtp = smtplib.SMTP(host, parts.port or (587 if scheme == "smtp+starttls" else 25),
                            timeout=30)
        if scheme == "smtp+starttls":
            smtp.starttls(context=context)
    else:
        raise ValueError(f"LMS_SMTP_URL: unsupported scheme {scheme!r}")
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp
