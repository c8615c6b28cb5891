"""Tests for alerts.outbox: exactly-once delivery with a real SQLite store and real servers."""

from __future__ import annotations

import logging
import pickle
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alert_servers import SMTPSink, WebhookSink, free_port

from alerts.channels import Channel, EmailChannel, SlackChannel
from alerts.outbox import DeliveryReport, PendingAlert, RetryPolicy, deliver
from alerts.render import ChangeRecord, make_message_id, sample_change

T0 = datetime(2025, 9, 12, 18, 0, tzinfo=UTC)
POLICY = RetryPolicy()


class SqliteOutbox:
    """A minimal OutboxStore over a real SQLite file, shaped like the archive's alerts table."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(
            """
            CREATE TABLE alerts (
                id INTEGER PRIMARY KEY, change_id INTEGER, channel TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt TEXT, last_error TEXT, sent_at TEXT, message_id TEXT, change BLOB);
            CREATE TABLE attempts (alert_id INTEGER, at TEXT, status TEXT, error TEXT);
            """
        )

    def add(
        self, channel: str, change: ChangeRecord | None = None, next_attempt: Any = None
    ) -> int:
        change = change or sample_change()
        cur = self.db.execute(
            "INSERT INTO alerts (change_id, channel, next_attempt, change) VALUES (?, ?, ?, ?)",
            (
                change.change_id,
                channel,
                next_attempt and next_attempt.isoformat(),
                pickle.dumps(change),
            ),
        )
        alert_id = int(cur.lastrowid or 0)
        mid = make_message_id(alert_id, change)
        self.db.execute("UPDATE alerts SET message_id = ? WHERE id = ?", (mid, alert_id))
        return alert_id

    def due(self, now: datetime, ignore_backoff: bool = False) -> list[PendingAlert]:
        rows = self.db.execute(
            "SELECT * FROM alerts WHERE status = 'pending'"
            " AND (? OR next_attempt IS NULL OR next_attempt <= ?) ORDER BY id",
            (ignore_backoff, now.isoformat()),
        )
        return [
            PendingAlert(
                r["id"], r["channel"], r["attempts"], pickle.loads(r["change"]), r["message_id"]
            )
            for r in rows
        ]

    def claim(self, alert_id: int, now: datetime) -> bool:
        cur = self.db.execute(
            "UPDATE alerts SET status = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND status = 'pending'",
            (alert_id,),
        )
        return cur.rowcount == 1

    def finish(
        self,
        alert_id: int,
        now: datetime,
        *,
        status: str,
        error: str | None,
        next_attempt: datetime | None,
    ) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "UPDATE alerts SET status = ?, last_error = coalesce(?, last_error),"
            " next_attempt = ?, sent_at = CASE WHEN ? = 'sent' THEN ? END WHERE id = ?",
            (
                status,
                error,
                next_attempt and next_attempt.isoformat(),
                status,
                now.isoformat(),
                alert_id,
            ),
        )
        self.db.execute(
            "INSERT INTO attempts VALUES (?, ?, ?, ?)", (alert_id, now.isoformat(), status, error)
        )
        self.db.execute("COMMIT")

    def row(self, alert_id: int) -> sqlite3.Row:
        return self.db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()

    def log(self, alert_id: int) -> list[tuple[str, str | None]]:
        rows = self.db.execute("SELECT status, error FROM attempts WHERE alert_id = ?", (alert_id,))
        return [(r["status"], r["error"]) for r in rows]


class Clock:
    """A settable clock for ``deliver(now=...)``."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def store(tmp_path: Path) -> SqliteOutbox:
    return SqliteOutbox(tmp_path / "archive.db")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def smtp() -> Iterator[SMTPSink]:
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def _email(port: int) -> EmailChannel:
    return EmailChannel("127.0.0.1", port, "plain", "nw@example.org", ["a@example.org"], timeout=5)


def _run(store: SqliteOutbox, channels: dict[str, Channel], clock: Clock, **kw: Any) -> tuple:
    report = deliver(store, channels, kw.pop("policy", POLICY), now=clock, **kw)
    return (report.sent, report.retried, report.failed, report.skipped)


def test_success_marks_sent_exactly_once(store: SqliteOutbox, smtp: SMTPSink, clock: Clock) -> None:
    ids = [store.add("email"), store.add("email")]
    channels: dict[str, Channel] = {"email": _email(smtp.port)}
    assert _run(store, channels, clock) == (2, 0, 0, 0)
    assert _run(store, channels, clock) == (0, 0, 0, 0)
    messages = smtp.wait_for(2)
    assert len(messages) == 2
    for alert_id, msg in zip(ids, messages, strict=True):
        row = store.row(alert_id)
        assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 1, T0.isoformat())
        assert msg["Message-ID"] == row["message_id"]


def test_smtp_down_then_up_backs_off_then_arrives_once(store: SqliteOutbox, clock: Clock) -> None:
    port = free_port()
    channels: dict[str, Channel] = {"email": _email(port)}
    alert_id = store.add("email")
    assert _run(store, channels, clock) == (0, 1, 0, 0)
    row = store.row(alert_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)  # never left in 'sending'
    assert row["next_attempt"] == (T0 + timedelta(seconds=30)).isoformat()
    assert "cannot connect" in row["last_error"]
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
    assert (row["status"], row["attempts"]) == ("sent", 3)
    log = store.log(alert_id)
    assert [s for s, _ in log] == ["pending", "pending", "sent"]
    assert all("ConnectionRefusedError" in (e or "") for _, e in log[:2])


def test_slack_retry_after_sets_next_attempt(
    store: SqliteOutbox, hook: WebhookSink, clock: Clock
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


def test_gives_up_after_n_attempts(store: SqliteOutbox, hook: WebhookSink, clock: Clock) -> None:
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
    store: SqliteOutbox, hook: WebhookSink, clock: Clock
) -> None:
    alert_id = store.add("slack")
    hook.fail_next(1, status=404)
    assert _run(store, {"slack": SlackChannel(hook.url)}, clock) == (0, 0, 1, 0)
    row = store.row(alert_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "PermanentDeliveryError" in row["last_error"]


def test_ignore_backoff_sends_pending_now(
    store: SqliteOutbox, smtp: SMTPSink, clock: Clock
) -> None:
    store.add("email", next_attempt=T0 + timedelta(hours=1))
    channels: dict[str, Channel] = {"email": _email(smtp.port)}
    assert _run(store, channels, clock) == (0, 0, 0, 0)
    assert _run(store, channels, clock, ignore_backoff=True) == (1, 0, 0, 0)
    assert len(smtp.wait_for(1)) == 1


def test_unconfigured_channel_is_skipped_and_logged_once(
    store: SqliteOutbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [store.add("apprise"), store.add("apprise")]
    with caplog.at_level(logging.WARNING, logger="alerts.outbox"):
        assert _run(store, {}, clock) == (0, 0, 0, 2)
    assert [r.getMessage() for r in caplog.records if "not configured" in r.getMessage()] == [
        "2 alert(s) left pending: channel 'apprise' not configured"
    ]
    assert {(store.row(i)["status"], store.row(i)["attempts"]) for i in ids} == {("pending", 0)}


def test_one_channel_failing_does_not_stop_others(
    store: SqliteOutbox, hook: WebhookSink, clock: Clock
) -> None:
    email_id, slack_id = store.add("email"), store.add("slack")
    channels: dict[str, Channel] = {"email": _email(free_port()), "slack": SlackChannel(hook.url)}
    assert _run(store, channels, clock) == (1, 1, 0, 0)
    assert store.row(email_id)["status"] == "pending"
    assert store.row(slack_id)["status"] == "sent"


class _KilledAfterTransmit(SqliteOutbox):
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
    restarted = SqliteOutbox.__new__(SqliteOutbox)
    restarted.db = crashing.db
    assert restarted.row(alert_id)["status"] == "sending"  # the app marks it 'unknown'
    assert _run(restarted, channels, clock, ignore_backoff=True) == (0, 0, 0, 0)
    assert len(smtp.wait_for(1)) == 1


class _ClaimedElsewhere(SqliteOutbox):
    """Another worker claims every alert right after this one listed it as due."""

    def due(self, now: datetime, ignore_backoff: bool = False) -> list[PendingAlert]:
        alerts = super().due(now, ignore_backoff)
        self.db.execute("UPDATE alerts SET status = 'sending' WHERE status = 'pending'")
        return alerts


def test_alert_claimed_elsewhere_is_not_sent(tmp_path: Path, smtp: SMTPSink, clock: Clock) -> None:
    racing = _ClaimedElsewhere(tmp_path / "archive.db")
    racing.add("email")
    report = deliver(racing, {"email": _email(smtp.port)}, POLICY, now=clock)
    assert report == DeliveryReport(sent=0, retried=0, failed=0, skipped=1)
    assert smtp.messages == []
