"""Alert delivery: channels built from the config, the archive's outbox, ``alerts.deliver``.

``alerts/`` is a leaf library that knows nothing of the archive; the outbox store over the
`alerts` table lives in :mod:`crawler.archive.outbox`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from alerts.channels import AppriseChannel, Channel, EmailChannel, MailboxChannel, SlackChannel
from alerts.digest import make_digest_message_id, render_digest
from alerts.outbox import DeliveryReport, RetryPolicy, deliver
from alerts.render import Message
from crawler.archive.outbox import ArchiveOutbox
from crawler.archive.store import Archive, iso
from crawler.config.model import AlertsConfig, Config

log = logging.getLogger(__name__)

def build_channels(alerts: AlertsConfig) -> dict[str, Channel]:
    """The configured channels by name: email, slack, apprise, mailbox."""
    channels: dict[str, Channel] = {}
    if alerts.email:
        e = alerts.email
        channels["email"] = EmailChannel(e.host, e.port, e.security, e.sender, e.to,
                                         user=e.user, password=e.password, timeout=e.timeout)
    if alerts.slack_webhook_url:
        channels["slack"] = SlackChannel(alerts.slack_webhook_url)
    if alerts.apprise:
        channels["apprise"] = AppriseChannel(alerts.apprise)
    if alerts.mailbox:
        channels["mailbox"] = MailboxChannel(alerts.mailbox)
    return channels


def retry_policy(alerts: AlertsConfig) -> RetryPolicy:
    return RetryPolicy(attempts=alerts.retry.attempts, base=alerts.retry.base,
                       max=alerts.retry.max)


def tracker_titles(config: Config) -> dict[str, str]:
    """Each tracker's display title, by name (what alerts call it)."""
    return {name: t.title for name, t in config.trackers.items()}


def deliver_alerts(archive: Archive, config: Config, ignore_backoff: bool = False,
                   ) -> DeliveryReport:
    """Deliver every due alert through the configured channels."""
    outbox = _outbox(archive, config)
    return deliver(outbox, build_channels(config.alerts), retry_policy(config.alerts),
                   ignore_backoff=ignore_backoff)


def _outbox(archive: Archive, config: Config) -> ArchiveOutbox:
    tz = config.alerts.digest.timezone if config.alerts.digest else "UTC"
    return ArchiveOutbox(archive, tracker_titles(config), timezone=tz)


def _digest_start(outbox: ArchiveOutbox) -> str:
    """A digest covers what happened since the last one (or since the archive began)."""
    return outbox.last_digest_end() or iso(datetime(1970, 1, 1, tzinfo=UTC))


def queue_digest(archive: Archive, config: Config, now: datetime | None = None) -> int | None:
    """Queue the digest of everything since the last one, one row per channel (the
    service's digest job); None when nothing happened since."""
    outbox = _outbox(archive, config)
    end = now or datetime.now(UTC)
    digest_id = outbox.queue_digest(_digest_start(outbox), iso(end),
                                    config.alerts.channels)
    if digest_id is not None:
        log.info("digest %d queued for %d channel(s)", digest_id, len(config.alerts.channels))
    return digest_id


def preview_digest(archive: Archive, config: Config) -> Message:
    """The digest the next period would send if it ended now (nothing is queued)."""
    outbox = _outbox(archive, config)
    digest = outbox.digest_between(_digest_start(outbox), iso(datetime.now(UTC)))
    return render_digest(digest, make_digest_message_id(0, digest))
