"""The delivery status of an alert row, as the outbox records it (see ``outbox``).

Its own small module: the application's `status` command reads these without loading
the channels (SMTP, TLS) that delivery needs.
"""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    """Where an alert is in its delivery."""

    PENDING = "pending"  # to send: new, or waiting to retry
    SENDING = "sending"  # claimed and being transmitted
    SENT = "sent"
    FAILED = "failed"  # gave up: a permanent error or the last allowed attempt
    UNKNOWN = "unknown"  # a process stopped while sending it: maybe delivered, never resent
