"""Building cadence emails and handing them to SMTP, one reused connection per sender.

What SMTP lets us know: an error before the message's data is sent, or an explicit
rejection of the data, means the server did not take the message. A connection that
breaks after the data went out leaves it unknown whether the server took it; such a
send is reported as ``uncertain`` and never retried automatically (at most once).
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from cadences.models import MailSender

SMTP_TIMEOUT = 30


@dataclass(frozen=True)
class SenderSettings:
    """A sender as SMTP needs it, read once: a batch holds it across its commits."""

    id: int
    from_name: str
    from_email: str
    postal_address: str
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    starttls: bool
    max_per_hour: int
    max_per_day: int

    @classmethod
    def of(cls, sender: MailSender) -> SenderSettings:
        return cls(**{f: getattr(sender, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Outgoing:
    to: str
    subject: str
    body: str
    message_id: str
    unsubscribe_url: str


def build_message(sender: SenderSettings, outgoing: Outgoing) -> EmailMessage:
    """The message with a visible unsubscribe link, the postal address and RFC 8058 headers."""
    message = EmailMessage()
    message["From"] = formataddr((sender.from_name, sender.from_email))
    message["To"] = outgoing.to
    message["Subject"] = outgoing.subject
    message["Message-ID"] = outgoing.message_id
    message["List-Unsubscribe"] = f"<{outgoing.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    footer = (
        f"\n\n--\n{sender.from_name}\n{sender.postal_address}\n"
        f"Unsubscribe: {outgoing.unsubscribe_url}\n"
    )
    message.set_content(outgoing.body.rstrip() + footer)
    return message


class SendError(Exception):
    """SMTP did not take the message. ``permanent`` marks a hard bounce (5xx for the recipient)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class UncertainSend(Exception):
    """The connection broke after the data was sent: the server may or may not have it."""


class SmtpPool:
    """One open connection per sender for the length of a batch."""

    def __init__(self) -> None:
        self._connections: dict[int, smtplib.SMTP] = {}

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(self, *_exc) -> None:
        for connection in self._connections.values():
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
        self._connections.clear()

    def send(self, sender: SenderSettings, message: EmailMessage) -> None:
        """Send or raise SendError (not taken) or UncertainSend (maybe taken)."""
        try:
            connection = self._connection(sender)
            self._envelope(connection, sender, message)
        except smtplib.SMTPServerDisconnected:
            # A kept connection the server closed while idle: open a new one once.
            self._drop(sender)
            try:
                connection = self._connection(sender)
                self._envelope(connection, sender, message)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop(sender)
                raise _not_taken(exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(sender)
            raise _not_taken(exc) from None
        self._data(connection, sender, message)

    def _connection(self, sender: SenderSettings) -> smtplib.SMTP:
        if sender.id not in self._connections:
            connection = smtplib.SMTP(sender.smtp_host, sender.smtp_port, timeout=SMTP_TIMEOUT)
            connection.ehlo()
            if sender.starttls:
                connection.starttls()
                connection.ehlo()
            if sender.smtp_username:
                connection.login(sender.smtp_username, sender.smtp_password or "")
            self._connections[sender.id] = connection
        return self._connections[sender.id]

    @staticmethod
    def _envelope(connection: smtplib.SMTP, sender: SenderSettings, message: EmailMessage) -> None:
        code, reply = connection.mail(sender.from_email)
        if code != 250:
            connection.rset()
            raise smtplib.SMTPSenderRefused(code, reply, sender.from_email)
        code, reply = connection.rcpt(message["To"])
        if code not in (250, 251):
            connection.rset()
            raise smtplib.SMTPRecipientsRefused({message["To"]: (code, reply)})

    def _data(
        self, connection: smtplib.SMTP, sender: SenderSettings, message: EmailMessage
    ) -> None:
        try:
            code, reply = connection.data(message.as_bytes())
        except smtplib.SMTPDataError as exc:  # an explicit answer: the server refused it
            connection.rset()
            raise SendError(f"{exc.smtp_code} {exc.smtp_error!r}", exc.smtp_code >= 500) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop(sender)
            raise UncertainSend(f"{type(exc).__name__}: {exc}") from None

    def _drop(self, sender: SenderSettings) -> None:
        connection = self._connections.pop(sender.id, None)
        if connection is not None:
            connection.close()


def _not_taken(exc: Exception) -> SendError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return SendError(f"{code} {reply!r}", permanent=code >= 500)
    return SendError(f"{type(exc).__name__}: {exc}"[:500])
