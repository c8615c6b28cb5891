"""The alerts outbox contract: exactly-once delivery, run against the archive's real store.

``deliver`` (alerts/outbox.py) works on the store the product uses
(crawler.archive.outbox.ArchiveOutbox) over a real SQLite archive whose alerts come from
real detected changes (tests/support/outbox_store.py), with real SMTP and webhook servers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alert_servers import SMTPSink, WebhookSink, free_port
from support.outbox_store import ArchiveAlerts

from alerts.channels import Channel, EmailChannel, SlackChannel
from alerts.outbox import DeliveryReport, PendingAlert, RetryPolicy, deliver
from alerts.render import make_message_id
from crawler.archive.outbox import ArchiveOutbox

T0 = datetime(2030, 9, 12, 18, 0, tzinfo=UTC)  # after the alerts were queued (now)
POLICY = RetryPolicy()


class Clock:
    """A settable clock for ``deliver(now=...)``."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArchiveAlerts]:
    s = ArchiveAlerts(tmp_path / "archive.db")
    yield s
    s.archive.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()






def _email(port: int) -> EmailChannel:
    return EmailChannel("127.0.0.1", port, "plain", "nw@example.org", ["a@example.org"], timeout=5)


def _run(store: ArchiveOutbox, channels: dict[str, Channel], clock: Clock, **kw: Any) -> tuple:
    report = deliver(store, channels, kw.pop("policy", POLICY), now=clock, **kw)
    return (report.sent, report.retried, report.failed, report.skipped)


def test_success_marks_sent_exactly_once(store: ArchiveAlerts, smtp: SMTPSink,
                                        clock: Clock) -> None:
    ids = [store.add("email"), store.add("email")]
    channels: dict[str, Channel] = {"email": _email(smtp.port)}
    assert _run(store, channels, clock) == (2, 0, 0, 0)
    assert _run(store, channels, clock) == (0, 0, 0, 0)
    messages = smtp.wait_for(2)
    assert len(messages) == 2
    for alert_id, msg in zip(ids, messages, strict=True):
        row = store.row(alert_id)
        assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 1, T0.isoformat())
        change = store.change_record(row["change_id"])
        assert msg["Message-ID"] == make_message_id(alert_id, change)


def test_smtp_down_then_up_backs_off_then_arrives_once(store: ArchiveAlerts, clock: Clock) -> None:
    port = free_port()
    channels: dict[str, Channel] = {"email": _email(port)}
    alert_id = store.add("email")
    assert _run(store, channels, clock) == (0, 1, 0, 0)
    row = store.row(alert_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)  # never left in 'sending'
    assert row["next_attempt"] == (T0 + timedelta(seconds=30)).isoformat()
    assert "cannot connect" in row["last_error"] and "ConnectionRefusedError" in row["last_error"]
    clock.advance(seconds=10)
    assert _run(store, channels, clock) == (0, 0, 0, 0)  # not due yet
    clock.advance(seconds=20)
    assert _run(store, channels, clock) == (0, 1, 0, 0)  # second failure: 60 s
    assert store.row(alert_id)["next_attempt"] == (clock.t + timedelta(seconds=60)).isoformat()
    with SMTPSink(port=port) as sink:
        clock.advance(seconds=60)
        assert _run(store, channels, clock) == (1, 0, 0, 0)
        clock.advance(hours=2)
        assert _run(store, channels, clock) == (0, 0, 0, 0)
        assert len(sink.wait_for(1)) == 1
    row = store.row(alert_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)


def test_slack_retry_after_sets_next_attempt(
    store: ArchiveAlerts, hook: WebhookSink, clock: Clock
) -> None:
    channels: dict[str, Channel] = {"slack": SlackChannel(hook.url)}
    alert_id = store.add("slack")
    hook.fail_next(1, status=429, retry_after=120)
    assert _run(store, channels, clock) == (0, 1, 0, 0)
    assert store.row(alert_id)["next_attempt"] == (T0 + timedelta(seconds=120)).isoformat()
    clock.advance(seconds=120)
    assert _run(store, channels, clock) == (1, 0, 0, 0)
    assert len(hook.requests) == 2


def test_retry_policy_delays() -> None:
    assert [POLICY.delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert POLICY.delay(1, retry_after=7) == timedelta(seconds=30)  # backoff is larger
    assert POLICY.delay(20) == timedelta(hours=1)  # capped
    assert POLICY.delay(20, retry_after=7200) == timedelta(hours=2)  # server knows best


def test_gives_up_after_n_attempts(store: ArchiveAlerts, hook: WebhookSink, clock: Clock) -> None:
    channels: dict[str, Channel] = {"slack": SlackChannel(hook.url)}
    alert_id = store.add("slack")
    hook.fail_next(10, status=500)
    policy = RetryPolicy(attempts=3)
    results = [_run(store, channels, clock, policy=policy, ignore_backoff=True) for _ in range(4)]
    assert results == [(0, 1, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 0)]
    row = store.row(alert_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "server error 500" in row["last_error"] and "secret-token" not in row["last_error"]
    assert len(hook.requests) == 3


def test_permanent_error_fails_at_once(
    store: ArchiveAlerts, hook: WebhookSink, clock: Clock
) -> None:
    alert_id = store.add("slack")
    hook.fail_next(1, status=404)
    assert _run(store, {"slack": SlackChannel(hook.url)}, clock) == (0, 0, 1, 0)
    row = store.row(alert_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "PermanentDeliveryError" in row["last_error"]


def test_ignore_backoff_sends_pending_now(
    store: ArchiveAlerts, smtp: SMTPSink, clock: Clock
) -> None:
    store.add("email", next_attempt=T0 + timedelta(hours=1))
    channels: dict[str, Channel] = {"email": _email(smtp.port)}
    assert _run(store, channels, clock) == (0, 0, 0, 0)
    assert _run(store, channels, clock, ignore_backoff=True) == (1, 0, 0, 0)
    assert len(smtp.wait_for(1)) == 1


def test_unconfigured_channel_is_skipped_and_logged_once(
    store: ArchiveAlerts, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [store.add("apprise"), store.add("apprise")]
    with caplog.at_level(logging.WARNING, logger="alerts.outbox"):
        assert _run(store, {}, clock) == (0, 0, 0, 2)
    assert [r.getMessage() for r in caplog.records if "not configured" in r.getMessage()] == [
        "2 alert(s) left pending: channel 'apprise' not configured"
    ]
    assert {(store.row(i)["status"], store.row(i)["attempts"]) for i in ids} == {("pending", 0)}


def test_one_channel_failing_does_not_stop_others(
    store: ArchiveAlerts, hook: WebhookSink, clock: Clock
) -> None:
    email_id, slack_id = store.add("email"), store.add("slack")
    channels: dict[str, Channel] = {"email": _email(free_port()), "slack": SlackChannel(hook.url)}
    assert _run(store, channels, clock) == (1, 1, 0, 0)
    assert store.row(email_id)["status"] == "pending"
    assert store.row(slack_id)["status"] == "sent"


class _KilledAfterTransmit(ArchiveAlerts):
    """Simulates a process killed between transmitting and recording 'sent'."""

    def finish(self, alert_id: int, now: datetime, **kw: Any) -> None:
        if kw["status"] == "sent":
            raise KeyboardInterrupt("killed")
        super().finish(alert_id, now, **kw)


def test_killed_after_transmit_is_left_sending_and_not_resent(
    tmp_path: Path, smtp: SMTPSink, clock: Clock
) -> None:
    crashing = _KilledAfterTransmit(tmp_path / "archive.db")
    alert_id = crashing.add("email")
    channels: dict[str, Channel] = {"email": _email(smtp.port)}
    with pytest.raises(KeyboardInterrupt):
        deliver(crashing, channels, POLICY, now=clock)
    assert crashing.row(alert_id)["status"] == "sending"
    restarted = ArchiveOutbox(crashing.archive)  # what the next start does
    assert restarted.recover() == 1
    assert crashing.row(alert_id)["status"] == "unknown"  # shown by status, never resent
    assert _run(restarted, channels, clock, ignore_backoff=True) == (0, 0, 0, 0)
    assert len(smtp.wait_for(1)) == 1


class _ClaimedElsewhere(ArchiveAlerts):
    """Another worker claims every alert right after this one listed it as due."""

    def due(self, now: datetime, ignore_backoff: bool = False) -> list[PendingAlert]:
        alerts = super().due(now, ignore_backoff)
        with self.archive.write():
            self.db.execute("UPDATE alerts SET status = 'sending' WHERE status = 'pending'")
        return alerts


def test_alert_claimed_elsewhere_is_not_sent(tmp_path: Path, smtp: SMTPSink, clock: Clock) -> None:
    racing = _ClaimedElsewhere(tmp_path / "archive.db")
    racing.add("email")
    report = deliver(racing, {"email": _email(smtp.port)}, POLICY, now=clock)
    assert report == DeliveryReport(sent=0, retried=0, failed=0, skipped=1)
    assert smtp.messages == []
