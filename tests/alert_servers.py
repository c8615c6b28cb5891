"""Real local servers for tests that deliver alerts: an SMTP sink and a Slack webhook.

Both bind 127.0.0.1, start before returning (no sleeps), record what they receive and are
context managers; ``smtp_sink``/``webhook_sink`` are ready-made pytest fixtures::

    with SMTPSink() as smtp:              # aiosmtpd Controller on a free port
        EmailChannel(smtp.host, smtp.port, "plain", ...).send(message)
        smtp.messages[0]["Message-ID"]    # email.message.EmailMessage, parsed

    with WebhookSink() as hook:           # stands in for https://hooks.slack.com/services/...
        hook.fail_next(2, status=429, retry_after=7)
        SlackChannel(hook.url).send(message)
        hook.requests[0].json["blocks"]

``make_cert(tmp_path)`` writes a self-signed certificate for 127.0.0.1/localhost so the
SMTP sink can speak STARTTLS (``tls_context=``) or implicit TLS (``ssl_context=``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import logging
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_cert(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed EC certificate for 127.0.0.1 and localhost; return (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context for the sink."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context(cert: Path) -> ssl.SSLContext:
    """A verifying client context that trusts only ``cert``."""
    return ssl.create_default_context(cafile=str(cert))


class SMTPSink:
    """An aiosmtpd SMTP server on 127.0.0.1 that keeps every message it accepts."""

    host = "127.0.0.1"

    def __init__(
        self,
        port: int = 0,
        *,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """``tls_context`` offers STARTTLS, ``ssl_context`` is implicit TLS, ``credentials``
        (user, password) makes AUTH required; port 0 picks a free port."""
        self.port = port
        self.envelopes: list[Envelope] = []
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self._tls, self._ssl, self._credentials = tls_context, ssl_context, credentials
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> SMTPSink:
        """Start listening; returns once the server answers."""
        self.port = self.port or free_port()
        kwargs: dict[str, Any] = {}
        if self._tls:
            kwargs["tls_context"] = self._tls
        if self._credentials:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=bool(self._tls or self._ssl),
            )
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            ssl_context=self._ssl,
            server_hostname="newswatch-test",
            ready_timeout=10,
            **kwargs,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server (the recorded messages stay)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 5) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived (AssertionError on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            return list(self.messages)

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._credentials == (
            data.login.decode(),
            data.password.decode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        """aiosmtpd hook: record the envelope and the parsed message."""
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")  # wire CRLF -> \n
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self._cond:
            self.envelopes.append(envelope)
            self.messages.append(parsed)  # type: ignore[arg-type]
            self._cond.notify_all()
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the webhook sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _WebhookHandler(BaseHTTPRequestHandler):
    sink: WebhookSink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, retry_after = self.sink._record(
            RecordedRequest("POST", self.path, dict(self.headers.items()), body)
        )
        reply = {200: b"ok", 429: b"rate_limited", 404: b"no_service"}.get(status, b"error")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(reply)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("webhook sink answered %s", code)  # not the path: it holds the "secret"


class WebhookSink:
    """A local HTTP server standing in for a Slack incoming webhook (or any JSON hook)."""

    path = "/services/T000TEST/B000TEST/secret-token"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._failures: deque[tuple[int, float | None]] = deque()
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSink:
        """Bind 127.0.0.1 on a free port and serve in a thread (ready on return)."""
        handler = type("Handler", (_WebhookHandler,), {"sink": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The webhook URL to configure (a fake secret path on the local server)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def fail_next(self, n: int, status: int = 500, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and a Retry-After header if set)."""
        with self._cond:
            self._failures.extend([(status, retry_after)] * n)

    def wait_for(self, count: int, timeout: float = 5) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived (AssertionError on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)

    def _record(self, request: RecordedRequest) -> tuple[int, float | None]:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            return self._failures.popleft() if self._failures else (200, None)

class HangingWebhookSink(WebhookSink):
    """A webhook that records each request, then never answers until it stops: a channel
    that hangs (the client's own timeout is what ends the request)."""

    def __init__(self) -> None:
        super().__init__()
        self._released = threading.Event()

    def stop(self) -> None:
        """Release the held requests, then shut the server down."""
        self._released.set()
        super().stop()

    def _record(self, request: RecordedRequest) -> tuple[int, float | None]:
        answer = super()._record(request)
        self._released.wait()
        return answer
