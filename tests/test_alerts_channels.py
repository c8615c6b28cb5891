"""Tests for alerts.channels against real local SMTP and HTTP servers."""

from __future__ import annotations

import logging
import mailbox
from pathlib import Path

import pytest
from alert_servers import (
    SMTPSink,
    WebhookSink,
    client_context,
    free_port,
    make_cert,
    server_context,
)
from support.changes import sample_change

from alerts.channels import (
    AppriseChannel,
    DeliveryError,
    EmailChannel,
    MailboxChannel,
    PermanentDeliveryError,
    SlackChannel,
)
from alerts.render import Message, make_message_id, render

SECRET = "hunter2-secret"


@pytest.fixture
def message() -> Message:
    change = sample_change()
    return render(change, make_message_id(42, change))






@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


def _email(port: int, security: str = "plain", **kw: object) -> EmailChannel:
    return EmailChannel(
        "127.0.0.1", port, security, "newswatch@example.org", ["analyst@example.org"], **kw
    )  # type: ignore[arg-type]


def _check_mime(msg: object, message: Message) -> None:
    assert msg["Message-ID"] == message.message_id  # type: ignore[index]
    assert msg["Subject"] == message.subject  # type: ignore[index]
    assert msg.get_content_type() == "multipart/alternative"  # type: ignore[attr-defined]
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}  # type: ignore[attr-defined]
    assert parts["text/plain"].strip() == message.text.strip()
    assert parts["text/html"].strip() == message.html.strip()


def test_email_plain_multipart(smtp: SMTPSink, message: Message) -> None:
    _email(smtp.port).send(message)
    (msg,) = smtp.wait_for(1)
    _check_mime(msg, message)
    assert smtp.envelopes[0].mail_from == "newswatch@example.org"
    assert smtp.envelopes[0].rcpt_tos == ["analyst@example.org"]


def test_email_connection_sends_several(smtp: SMTPSink, message: Message) -> None:
    with _email(smtp.port).connection() as conn:
        conn.send(message)
        conn.send(message)
    assert len(smtp.wait_for(2)) == 2


def test_email_starttls_with_login(
    cert: tuple[Path, Path], message: Message, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = server_context(*cert)
    with SMTPSink(tls_context=ctx, credentials=("alerts", SECRET)) as sink:
        channel = _email(
            sink.port,
            "starttls",
            user="alerts",
            password=SECRET,
            ssl_context=client_context(cert[0]),
        )
        channel.send(message)
        _check_mime(sink.wait_for(1)[0], message)
        assert sink.logins == ["alerts"]
        bad = _email(
            sink.port,
            "starttls",
            user="alerts",
            password="wrong",
            ssl_context=client_context(cert[0]),
        )
        with pytest.raises(PermanentDeliveryError) as err:
            bad.send(message)
    assert "wrong" not in str(err.value) and SECRET not in repr(channel)
    assert SECRET not in caplog.text


def test_email_implicit_tls(cert: tuple[Path, Path], message: Message) -> None:
    with SMTPSink(ssl_context=server_context(*cert)) as sink:
        _email(sink.port, "ssl", ssl_context=client_context(cert[0])).send(message)
        _check_mime(sink.wait_for(1)[0], message)


def test_email_untrusted_certificate_is_not_sent(cert: tuple[Path, Path], message: Message) -> None:
    with SMTPSink(tls_context=server_context(*cert)) as sink:
        with pytest.raises(DeliveryError, match="cannot connect"):
            _email(sink.port, "starttls").send(message)  # default CAs do not trust it
        assert sink.messages == []


def test_email_server_down_is_delivery_error(message: Message) -> None:
    channel = _email(free_port(), timeout=5)
    with pytest.raises(DeliveryError, match="cannot connect"):
        with channel.connection():
            pass  # pragma: no cover
    with pytest.raises(DeliveryError):
        channel.send(message)


def test_slack_posts_blocks(hook: WebhookSink, message: Message) -> None:
    SlackChannel(hook.url).send(message)
    (req,) = hook.wait_for(1)
    assert req.path == WebhookSink.path
    assert req.headers["Content-Type"].startswith("application/json")
    assert req.json["blocks"] == message.slack_blocks
    assert req.json["text"] == message.slack_text
    assert req.json["unfurl_links"] is False


def test_slack_server_error_is_retryable(hook: WebhookSink, message: Message) -> None:
    hook.fail_next(1, status=500)
    with pytest.raises(DeliveryError) as err:
        SlackChannel(hook.url).send(message)
    assert not isinstance(err.value, PermanentDeliveryError)
    assert len(hook.requests) == 1  # no hidden retries inside the channel


def test_slack_rate_limit_carries_retry_after(hook: WebhookSink, message: Message) -> None:
    hook.fail_next(1, status=429, retry_after=7)
    with pytest.raises(DeliveryError) as err:
        SlackChannel(hook.url).send(message)
    assert err.value.retry_after == 7


def test_slack_not_found_is_permanent(
    hook: WebhookSink, message: Message, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.fail_next(1, status=404)
    with pytest.raises(PermanentDeliveryError) as err:
        SlackChannel(hook.url).send(message)
    assert "404" in str(err.value)
    assert "secret-token" not in str(err.value) + caplog.text


def test_slack_unreachable_hides_url(message: Message, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{free_port()}/services/T/B/secret-token"
    with pytest.raises(DeliveryError) as err:
        SlackChannel(url, timeout=5).send(message)
    assert "secret-token" not in str(err.value) + caplog.text + repr(SlackChannel(url))


def test_apprise_json_url(hook: WebhookSink, message: Message) -> None:
    url = f"json://127.0.0.1:{hook.port}/hook"
    AppriseChannel([url]).send(message)
    (req,) = hook.wait_for(1)
    assert req.json["title"] == message.subject
    assert req.json["message"] == message.text.strip()
    hook.fail_next(1, status=500)
    with pytest.raises(DeliveryError):
        AppriseChannel([url]).send(message)


def test_apprise_invalid_url_is_permanent(message: Message) -> None:
    with pytest.raises(PermanentDeliveryError, match="URL #1"):
        AppriseChannel(["nosuchscheme://token@x"]).send(message)


def test_mailbox_appends_readable_mbox(tmp_path: Path, message: Message) -> None:
    path = tmp_path / "alerts" / "newswatch.mbox"
    channel = MailboxChannel(path)
    channel.send(message)
    channel.send(message)
    box = mailbox.mbox(path)
    try:
        messages = list(box)
        assert len(messages) == 2
        assert messages[0]["Message-ID"] == message.message_id
        assert messages[0].get_content_type() == "multipart/alternative"
        plain = messages[0].get_payload()[0].get_payload(decode=True).decode()
        assert "New value: <2,000" in plain
    finally:
        box.close()
