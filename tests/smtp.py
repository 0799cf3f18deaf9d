"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the tests: it keeps what it receives,
can refuse chosen recipients for good (550) or for now (451), and can be stopped and
started again on the same port."""

import email
import socket
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Inbox:
    """The server's handler: received messages as (mail from, rcpt tos, parsed message)."""

    def __init__(self):
        self.messages = []
        self.refuse = set()  # addresses refused with 550
        self.defer = set()  # addresses refused with 451 (try again later)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address):
        """The messages received for an address."""
        return [message for _, rcpt, message in self.messages if address in rcpt]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok)


class SmtpServer:
    """A started server; `url` is what LMS_SMTP_URL would hold. stop()/start() keep the
    port and the inbox (a mail server that goes down and comes back)."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     authenticator=_authenticator, auth_require_tls=False)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
