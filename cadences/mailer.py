"""Building cadence emails and handing them to SMTP, one reused connection per sender.

What SMTP lets us know: an error before the message's data is sent, or an explicit
rejection of the data, means the server did not take the message. A connection that
breaks after the data went out leaves it unknown whether the server took it; such a
send is reported as ``uncertain`` and never retried automatically (at most once).
"""

from __future__ import annotations

import binascii
import smtplib
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate

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


def build_message(sender: SenderSettings, outgoing: Outgoing) -> bytes:
    """The message with a visible unsubscribe link, the postal address and RFC 8058 headers.

    Written out directly: ``EmailMessage`` parses every header it is given back into a
    tree and took most of the runner's time per email; here a plain ASCII text is sent
    as it is and anything else as UTF-8 in quoted-printable (RFC 2047 for headers).
    """
    footer = (
        f"\n\n--\n{sender.from_name}\n{sender.postal_address}\n"
        f"Unsubscribe: {outgoing.unsubscribe_url}\n"
    )
    text = (outgoing.body.rstrip() + footer).replace("\r", "").replace("\n", "\r\n")
    if text.isascii() and max(map(len, text.split("\r\n"))) <= MAX_LINE:
        encoding, payload = "7bit", text
    else:  # b2a_qp keeps the CRLF line ends it is given and breaks long lines with them
        encoding = "quoted-printable"
        payload = binascii.b2a_qp(text.encode("utf-8")).decode("ascii")
    headers = (
        ("From", formataddr((_one_line(sender.from_name), sender.from_email), "utf-8")),
        ("To", outgoing.to),
        ("Subject", _header_text(outgoing.subject)),
        ("Date", formatdate()),
        ("Message-ID", outgoing.message_id),
        ("List-Unsubscribe", f"<{outgoing.unsubscribe_url}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", encoding),
    )
    head = "\r\n".join(f"{name}: {value}" for name, value in headers)
    return f"{head}\r\n\r\n{payload}".encode("ascii")


# SMTP allows 998 characters a line; longer (or non-ASCII) text goes quoted-printable.
MAX_LINE = 900


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _header_text(value: str) -> str:
    value = _one_line(value)
    if value.isascii() and len(value) < 200:
        return value
    return Header(value, "utf-8", header_name="Subject").encode()


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

    def send(self, sender: SenderSettings, recipient: str, message: bytes) -> None:
        """Send or raise SendError (not taken) or UncertainSend (maybe taken)."""
        try:
            connection = self._connection(sender)
            self._envelope(connection, sender, recipient)
        except smtplib.SMTPServerDisconnected:
            # A kept connection the server closed while idle: open a new one once.
            self._drop(sender)
            try:
                connection = self._connection(sender)
                self._envelope(connection, sender, recipient)
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
    def _envelope(connection: smtplib.SMTP, sender: SenderSettings, recipient: str) -> None:
        # Bare addresses, so the commands are written directly: smtplib's mail() and
        # rcpt() parse each address as if it could carry a display name.
        if not _bare_address(sender.from_email) or not _bare_address(recipient):
            raise SendError(f"not a plain address: {recipient!r}", permanent=True)
        code, reply = connection.docmd("mail", f"FROM:<{sender.from_email}>")
        if code != 250:
            connection.rset()
            raise smtplib.SMTPSenderRefused(code, reply, sender.from_email)
        code, reply = connection.docmd("rcpt", f"TO:<{recipient}>")
        if code not in (250, 251):
            connection.rset()
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})

    def _data(self, connection: smtplib.SMTP, sender: SenderSettings, message: bytes) -> None:
        try:
            connection.data(message)
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


def _bare_address(address: str) -> bool:
    return "@" in address and not any(c in address for c in "<>\r\n \t")


def _not_taken(exc: Exception) -> SendError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return SendError(f"{code} {reply!r}", permanent=code >= 500)
    return SendError(f"{type(exc).__name__}: {exc}"[:500])
