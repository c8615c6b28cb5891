"""Persistent, exactly-once delivery of alerts with retry and exponential backoff.

Alert rows live in the application's archive; this module sees them only through
:class:`OutboxStore`. For each channel, :func:`deliver` does, per alert:

1. connect/prepare the channel (``channel.connection()`` when it has one). If that fails
   the server certainly got nothing: the alert is claimed and at once finished as
   ``pending`` with backoff, so the attempt is counted and nothing is left ``sending``;
2. ``store.claim`` - pending -> ``sending``, attempts + 1, committed *before* transmitting;
3. transmit;
4. ``store.finish`` - ``sent``; or ``pending`` with the next attempt time after a retryable
   error; or ``failed`` after a permanent error or the last allowed attempt.

Every attempt's error is recorded (exception text, never secrets). One channel failing
never stops the others; an alert whose channel is not configured stays pending and is
counted as skipped.

The ambiguous case: a process killed between transmitting (3) and recording it (4) leaves
the row in ``sending``. The message may or may not have gone out, so it is NOT resent
automatically: the application turns such rows into ``unknown`` at its next start and
shows them to the user. Delivery is therefore exactly-once whenever the outcome is known,
and at-most-once for the one ambiguous window, which is kept to the transmission itself.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from alerts.channels import Channel, DeliveryError, PermanentDeliveryError
from alerts.render import ChangeRecord, Message, render
from alerts.status import AlertStatus

__all__ = [
    "DeliveryReport",
    "OutboxStore",
    "PendingAlert",
    "RetryPolicy",
    "deliver",
    "utcnow",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingAlert:
    """One undelivered alert row: a change (or an already rendered digest) for one channel."""

    id: int
    channel: str
    attempts: int
    change: ChangeRecord | None
    message_id: str
    message: Message | None = None  # a digest, rendered by the application


class OutboxStore(Protocol):
    """The application's persistence of alert rows (see the module docstring)."""

    def due(self, now: datetime, ignore_backoff: bool = False) -> list[PendingAlert]:
        """Pending alerts whose next attempt is due (all pending ones if ignore_backoff)."""

    def claim(self, alert_id: int, now: datetime) -> bool:
        """Atomically pending -> sending, attempts += 1, committed; False if not pending."""

    def finish(
        self,
        alert_id: int,
        now: datetime,
        *,
        status: AlertStatus,
        error: str | None,
        next_attempt: datetime | None,
    ) -> None:
        """Record the attempt's outcome: sent, pending (retry) or failed."""


@dataclass(frozen=True)
class RetryPolicy:
    """Give up after ``attempts``; wait base * 2**(attempts - 1), at most ``max``."""

    attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    max: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait after the ``attempts``-th failed attempt; a larger Retry-After wins."""
        wait = min(self.base * 2 ** max(attempts - 1, 0), self.max)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


@dataclass
class DeliveryReport:
    """What one :func:`deliver` pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class _Sender(Protocol):
    def send(self, message: Message) -> None: ...


def deliver(
    store: OutboxStore,
    channels: Mapping[str, Channel],
    policy: RetryPolicy,
    now: Callable[[], datetime] = utcnow,
    ignore_backoff: bool = False,
) -> DeliveryReport:
    """Deliver every due alert once; return counts of sent, retried, failed and skipped."""
    report = DeliveryReport()
    by_channel: dict[str, list[PendingAlert]] = defaultdict(list)
    for alert in store.due(now(), ignore_backoff=ignore_backoff):
        by_channel[alert.channel].append(alert)
    for name, alerts in by_channel.items():
        channel = channels.get(name)
        if channel is None:
            log.warning("%d alert(s) left pending: channel %r not configured", len(alerts), name)
            report.skipped += len(alerts)
            continue
        _deliver_channel(store, channel, alerts, policy, now, report)
    log.info(
        "alerts: %d sent, %d to retry, %d failed, %d skipped",
        report.sent,
        report.retried,
        report.failed,
        report.skipped,
    )
    return report


def _open(channel: Channel) -> AbstractContextManager[_Sender]:
    connection = getattr(channel, "connection", None)
    if connection is None:
        return nullcontext(channel)
    return cast(AbstractContextManager[_Sender], connection())


def _deliver_channel(
    store: OutboxStore,
    channel: Channel,
    alerts: list[PendingAlert],
    policy: RetryPolicy,
    now: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    queue = list(alerts)
    while queue:
        stack = ExitStack()
        try:
            sender = stack.enter_context(_open(channel))
        except Exception as exc:  # whatever it is, nothing was transmitted
            if not isinstance(exc, DeliveryError | PermanentDeliveryError):
                log.exception("channel %r: unexpected error while connecting", channel.name)
            log.warning("channel %r unavailable: %s", channel.name, exc)
            for alert in queue:
                if store.claim(alert.id, now()):
                    _failed(store, alert, exc, policy, now, report)
                else:
                    report.skipped += 1
            return
        with stack:
            # After a failed transmission the connection may be broken: reconnect.
            while queue and _attempt(store, sender, queue.pop(0), policy, now, report):
                pass


def _attempt(
    store: OutboxStore,
    sender: _Sender,
    alert: PendingAlert,
    policy: RetryPolicy,
    now: Callable[[], datetime],
    report: DeliveryReport,
) -> bool:
    """Claim, transmit and record one alert; False if the transmission failed."""
    if not store.claim(alert.id, now()):
        log.info("alert %d already claimed elsewhere", alert.id)
        report.skipped += 1
        return True
    try:
        if alert.message is not None:
            sender.send(alert.message)
        else:
            assert alert.change is not None, f"alert {alert.id} has neither change nor message"
            sender.send(render(alert.change, alert.message_id))
    except Exception as exc:  # any failure is recorded on the row
        if not isinstance(exc, DeliveryError | PermanentDeliveryError):
            log.exception("alert %d: unexpected error from channel %r", alert.id, alert.channel)
        _failed(store, alert, exc, policy, now, report)
        return False
    store.finish(alert.id, now(), status=AlertStatus.SENT, error=None, next_attempt=None)
    what = f"change {alert.change.change_id}" if alert.change else "digest"
    log.info("alert %d sent via %r (%s)", alert.id, alert.channel, what)
    report.sent += 1
    return True


def _failed(
    store: OutboxStore,
    alert: PendingAlert,
    exc: Exception,
    policy: RetryPolicy,
    now: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    """Finish a claimed alert after a failed attempt: retry later or give up."""
    attempts = alert.attempts + 1  # claim() counted this attempt
    error = f"{type(exc).__name__}: {exc}"
    at = now()
    if isinstance(exc, PermanentDeliveryError) or attempts >= policy.attempts:
        store.finish(alert.id, at, status=AlertStatus.FAILED, error=error, next_attempt=None)
        log.error(
            "alert %d via %r gave up (attempt %d): %s", alert.id, alert.channel, attempts, error
        )
        report.failed += 1
        return
    retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
    next_attempt = at + policy.delay(attempts, retry_after)
    store.finish(alert.id, at, status=AlertStatus.PENDING, error=error,
                 next_attempt=next_attempt)
    log.warning("alert %d via %r: attempt %d failed: %s", alert.id, alert.channel, attempts, error)
    report.retried += 1
