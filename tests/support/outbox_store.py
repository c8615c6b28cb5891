"""The archive's real outbox store, filled with alerts through the real change detector.

The `alerts` outbox contract (tests/test_alerts_outbox.py) runs against this: the store
the product uses (``crawler.archive.outbox.ArchiveOutbox``), over a real SQLite archive,
whose alert rows come from real changes detected in stored reports.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.archive.outbox import ArchiveOutbox
from crawler.archive.store import Archive
from crawler.changes.detector import detect_changes
from crawler.config.model import AlertsConfig, EmailConfig, parse_config
from crawler.extraction.analysis import fact_rows, matching_stories
from crawler.extraction.records import AnalyzedReport

CONFIG = """sources: [{name: wire, type: feed, url: 'http://wire.example/feed'}]
stories:
  - name: us-iraq
    match: {all: [Iraq]}
    trackers: [{name: us-troops-iraq, label: US troops in Iraq, kind: troops, place: Iraq}]
"""
# every channel name the detector can queue, configured (the addresses are never used)
ALL_CHANNELS = AlertsConfig(
    email=EmailConfig("127.0.0.1", 25, "plain", "nw@example.org", ("a@example.org",)),
    slack_webhook_url="https://hooks.example/unused", apprise=("json://localhost/",),
    mailbox="unused.mbox")


class ArchiveAlerts(ArchiveOutbox):
    """ArchiveOutbox plus what a test needs: make an alert, read its row."""

    def __init__(self, path: Path) -> None:
        base = parse_config(CONFIG, path.parent / "config.yaml", environ={})
        self.config = replace(base, archive=path)
        super().__init__(Archive.open(path), {"us-troops-iraq": "US troops in Iraq"})
        self._reports = 0
        self._store_report(2500)
        assert not detect_changes(self.archive, self._with([]))[0].alerts  # the baseline

    def _with(self, channels: list[str]) -> Any:
        """The config with only these alert channels (the detector queues one row each)."""
        a = ALL_CHANNELS
        alerts = AlertsConfig(email=a.email if "email" in channels else None,
                              slack_webhook_url=a.slack_webhook_url if "slack" in channels
                              else None,
                              apprise=a.apprise if "apprise" in channels else (),
                              mailbox=a.mailbox if "mailbox" in channels else None)
        return replace(self.config, alerts=alerts)

    def _store_report(self, troops: int) -> None:
        self._reports += 1
        text = (f"The United States has about {troops:,} troops in Iraq, a senior defense "
                f"official said.")
        day = f"2025-01-{self._reports:02d}"
        stories = matching_stories(None, text, self.config.stories)
        self.archive.store(AnalyzedReport(
            url=f"https://wire.example/{self._reports}", source="wire", title="US troops",
            text=text, published=day, stories=tuple(s.name for s in stories),
            facts=tuple(fact_rows(text, day, stories))))

    def add(self, channel: str, next_attempt: datetime | None = None) -> int:
        """A new official figure: one confirmed change, one alert row for ``channel``."""
        self._store_report(2500 - 300 * self._reports)
        (change,) = [d for d in detect_changes(self.archive, self._with([channel]))
                     if d.alerts]
        alert_id = self.db.execute("SELECT id FROM alerts WHERE change_id = ?",
                                   [change.id]).fetchone()[0]
        if next_attempt is not None:  # a retry already scheduled for later
            with self.archive.write():
                self.db.execute("UPDATE alerts SET next_attempt = ? WHERE id = ?",
                                [next_attempt.isoformat(), alert_id])
        return int(alert_id)

    def row(self, alert_id: int) -> sqlite3.Row:
        conn = sqlite3.connect(self.archive.path)  # type: ignore[arg-type]
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        finally:
            conn.close()
