"""Delivery channels: SMTP email, Slack incoming webhook, Apprise URLs and a local mbox.

Every channel has a ``name`` and ``send(message)``. A failure raises
:class:`DeliveryError` (retryable, optionally with ``retry_after`` seconds) or
:class:`PermanentDeliveryError` (retrying cannot help). A channel that must connect first
(:class:`EmailChannel`) also offers ``connection()``: a context manager that connects,
negotiates TLS and logs in, then yields a sender whose ``send`` only transmits. The outbox
connects before it claims an alert, so "server down" is always unambiguously "not sent".

Secrets (SMTP password, Slack webhook URL, Apprise URLs) never appear in logs, reprs or
error messages.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import mailbox
import smtplib
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.error import URLError

from alerts.render import Message

__all__ = [
    "AppriseChannel",
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "MailboxChannel",
    "PermanentDeliveryError",
    "SlackChannel",
    "build_email",
]

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The message was not delivered; trying again later may succeed."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    """The message was not delivered and retrying cannot help (rejected, bad credentials)."""


class Channel(Protocol):
    """Something that delivers a rendered alert."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise DeliveryError / PermanentDeliveryError."""


def build_email(message: Message, sender: str, to: Sequence[str]) -> EmailMessage:
    """Build the multipart/alternative (text + HTML) email for ``message``."""
    msg = EmailMessage()
    msg["Subject"] = message.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class _SMTPSender:
    """Transmits over an open SMTP connection (see EmailChannel.connection)."""

    def __init__(self, channel: EmailChannel, smtp: smtplib.SMTP) -> None:
        self._channel, self._smtp = channel, smtp

    def send(self, message: Message) -> None:
        """Transmit one message; the connection is already open and authenticated."""
        ch = self._channel
        msg = build_email(message, ch.sender, ch.to)
        try:
            refused = self._smtp.send_message(msg, from_addr=ch.sender, to_addrs=list(ch.to))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            error = PermanentDeliveryError if all(c >= 500 for c in codes) else DeliveryError
            raise error(f"{ch.where}: all recipients refused ({codes})") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            error = PermanentDeliveryError if exc.smtp_code >= 500 else DeliveryError
            raise error(f"{ch.where}: message rejected: {_describe(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{ch.where}: transmission failed: {_describe(exc)}") from exc
        if refused:  # the others got it, so a retry would duplicate: warn instead
            log.warning("%s: some recipients refused: %s", ch.where, sorted(refused))


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class EmailChannel:
    """Email over SMTP (``security``: "plain", "starttls" or "ssl")."""

    def __init__(
        self,
        host: str,
        port: int,
        security: str,
        sender: str,
        to: Sequence[str],
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        *,
        name: str = "email",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("plain", "starttls", "ssl"):
            raise ValueError(f"security must be 'plain', 'starttls' or 'ssl' (got {security!r})")
        if not to:
            raise ValueError("email channel needs at least one recipient")
        self.name, self.host, self.port, self.security = name, host, port, security
        self.sender, self.to, self.user, self.timeout = sender, list(to), user, timeout
        self._password = password
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"EmailChannel(name={self.name!r}, {self.where}, security={self.security!r})"

    @property
    def where(self) -> str:
        """``smtp host:port``, for messages (no credentials)."""
        return f"smtp {self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _open(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            msg = f"{self.where}: login as {self.user!r} rejected ({exc.smtp_code})"
            raise PermanentDeliveryError(msg) from None  # the chained frame holds the password
        except smtplib.SMTPNotSupportedError as exc:
            _quit(smtp)
            raise PermanentDeliveryError(f"{self.where}: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            _quit(smtp)
            raise DeliveryError(f"{self.where}: cannot connect: {_describe(exc)}") from None
        return smtp

    @contextmanager
    def connection(self) -> Iterator[_SMTPSender]:
        """Connect, STARTTLS and log in (DeliveryError if that fails); yield a sender."""
        smtp = self._open()
        try:
            yield _SMTPSender(self, smtp)
        finally:
            _quit(smtp)

    def send(self, message: Message) -> None:
        """Connect, transmit ``message`` and disconnect."""
        with self.connection() as sender:
            sender.send(message)


def _quiet_logger() -> logging.Logger:
    """A detached, disabled logger: slack_sdk logs the webhook URL at debug level."""
    quiet = logging.Logger(f"{__name__}.slack_sdk", logging.CRITICAL + 1)
    quiet.disabled = True
    return quiet


def _retry_after(headers: Mapping[str, object]) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if any."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(str(value)).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class SlackChannel:
    """Slack incoming webhook (the URL is a secret: it is never logged)."""

    def __init__(self, webhook_url: str, timeout: int = 10, *, name: str = "slack") -> None:
        self.name, self.timeout = name, timeout
        self._url = webhook_url

    def __repr__(self) -> str:
        return f"SlackChannel(name={self.name!r})"

    def send(self, message: Message) -> None:
        """POST the Block Kit message; map the answer to success or a delivery error."""
        from slack_sdk.errors import SlackRequestError
        from slack_sdk.webhook import WebhookClient

        # No retry handlers: retrying is the outbox's job, and a hidden retry could duplicate.
        client = WebhookClient(
            self._url, timeout=self.timeout, logger=_quiet_logger(), retry_handlers=[]
        )
        try:
            resp = client.send(
                text=message.slack_text,
                blocks=message.slack_blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackRequestError:
            raise PermanentDeliveryError("slack webhook: URL is not http(s)") from None
        except URLError as exc:  # its text is the reason only, never the URL
            raise DeliveryError(f"slack webhook unreachable: {exc.reason}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DeliveryError(f"slack webhook request failed: {type(exc).__name__}") from None
        status = resp.status_code
        if 200 <= status < 300:
            return
        body = " ".join(str(resp.body or "").split())[:200]
        if status == 429:
            retry_after = _retry_after(resp.headers or {})
            raise DeliveryError(f"slack webhook: rate limited (429) {body}", retry_after)
        if status >= 500:
            raise DeliveryError(f"slack webhook: server error {status} {body}")
        raise PermanentDeliveryError(f"slack webhook: rejected with {status} {body}")


class AppriseChannel:
    """Any Apprise notification URLs (title = subject, body = plain text)."""

    def __init__(self, urls: Sequence[str], *, name: str = "apprise") -> None:
        if not urls:
            raise ValueError("apprise channel needs at least one URL")
        self.name = name
        self._urls = list(urls)

    def __repr__(self) -> str:
        return f"AppriseChannel(name={self.name!r}, urls={len(self._urls)})"

    def send(self, message: Message) -> None:
        """Notify every URL; a failure of any of them raises DeliveryError."""
        import apprise

        notifier = apprise.Apprise(asset=apprise.AppriseAsset(secure_logging=True))
        for i, url in enumerate(self._urls, 1):
            if not notifier.add(url):
                raise PermanentDeliveryError(f"apprise: URL #{i} is not a valid Apprise URL")
        ok = notifier.notify(
            title=message.subject, body=message.text, body_format=apprise.NotifyFormat.TEXT
        )
        if not ok:
            raise DeliveryError(f"apprise: notification failed for some of {len(self._urls)} URLs")


class MailboxChannel:
    """Appends the email (same MIME as EmailChannel) to a local mbox file."""

    def __init__(
        self,
        path: str | Path,
        sender: str = "newswatch@localhost",
        to: Sequence[str] = ("analyst@localhost",),
        *,
        name: str = "mailbox",
    ) -> None:
        self.name, self.path, self.sender, self.to = name, Path(path), sender, list(to)

    def __repr__(self) -> str:
        return f"MailboxChannel(name={self.name!r}, path={str(self.path)!r})"

    def send(self, message: Message) -> None:
        """Append the message under the mbox lock and flush it to disk."""
        msg = build_email(message, self.sender, self.to)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(self.path)
            box.lock()
            try:
                box.add(msg)
                box.flush()
            finally:
                box.unlock()
                box.close()
        except (OSError, mailbox.Error) as exc:
            raise DeliveryError(f"mailbox {self.path}: {_describe(exc)}") from exc
