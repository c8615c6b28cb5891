"""Alert delivery: channels built from the config, the archive's outbox, ``alerts.deliver``.

``alerts/`` is a leaf library that knows nothing of the archive; the outbox store over the
`alerts` table lives in :mod:`crawler.archive.outbox`.
"""

from __future__ import annotations

import logging

from alerts.channels import AppriseChannel, Channel, EmailChannel, MailboxChannel, SlackChannel
from alerts.outbox import DeliveryReport, RetryPolicy, deliver
from crawler.archive.outbox import ArchiveOutbox
from crawler.archive.store import Archive
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
    outbox = ArchiveOutbox(archive, tracker_titles(config))
    return deliver(outbox, build_channels(config.alerts), retry_policy(config.alerts),
                   ignore_backoff=ignore_backoff)
