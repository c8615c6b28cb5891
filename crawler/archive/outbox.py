"""The `alerts` table as the outbox store that ``alerts.outbox.deliver`` works on."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from alerts.digest import Digest, DigestItem, make_digest_message_id, render_digest
from alerts.outbox import PendingAlert
from alerts.render import ChangeRecord, Report, make_message_id
from alerts.status import AlertStatus
from crawler.archive.changes import STATUS_SQL
from crawler.archive.store import Archive, iso
from crawler.changes.records import ChangeType

log = logging.getLogger(__name__)

_REPORT_SQL = """
SELECT f.display, f.sentence, f.published, d.source, d.title, d.url
FROM facts f JOIN documents d ON d.id = f.document_id WHERE f.id = ?
"""



class ArchiveOutbox:
    """The `alerts` table as an :class:`~alerts.outbox.OutboxStore`."""

    def __init__(self, archive: Archive, titles: dict[str, str] | None = None,
                 timezone: str = "UTC"):
        self.archive = archive
        self.db = archive.db
        self.titles = titles or {}
        self.timezone = timezone  # how digests show their period

    def _report(self, fact_id: int | None) -> Report | None:
        if fact_id is None:
            return None
        row = self.db.execute(_REPORT_SQL, [fact_id]).fetchone()
        if row is None:
            return None
        display, sentence, published, source, title, url = row
        return Report(value=display, sentence=sentence, source=source, title=title or url,
                      url=url, published=published)

    def _page(self, change: dict[str, Any], diff: tuple[tuple[str, ...], ...]) -> Report | None:
        """The new version of a watched page, as the report of a text revision."""
        row = self.db.execute("SELECT source, title, url, published FROM documents "
                              "WHERE id = ?", [change["document_id"]]).fetchone()
        if row is None:
            return None
        source, title, url, published = row
        changed = " ".join(text for op, text in diff if op == "insert")
        return Report(value=change["new_display"], sentence=changed, source=source,
                      title=title or url, url=url, published=published)

    def change_record(self, change_id: int) -> ChangeRecord:
        """Everything an alert about one change shows, as plain data."""
        c = self.db.table("changes").get(change_id)
        corroborating = [
            r for r in (
                self._report(row[0]) for row in self.db.execute(
                    "SELECT fact_id FROM corroborations WHERE change_id = ? ORDER BY fact_id",
                    [change_id])
            ) if r is not None
        ]
        diff = tuple(tuple(op) for op in json.loads(c["diff"])) if c["diff"] else ()
        new = self._report(c["new_fact_id"]) if c["new_fact_id"] else self._page(c, diff)
        assert new is not None, f"change {change_id} has no new fact"
        title = self.titles.get(c["tracker"], c["tracker"])
        if c["kind"] == "text":
            title = f"{new.title} ({c['tracker']})"
        return ChangeRecord(
            change_id=change_id,
            story=c["story"] or "",
            tracker=c["tracker"],
            tracker_title=title,
            kind=c["kind"],
            type=c["type"],
            old=self._report(c["old_fact_id"]),
            new=new,
            corroborating=tuple(corroborating),
            diff=diff,
            detected_at=c["detected_at"],
        )

    def due(self, now: datetime, ignore_backoff: bool = False) -> list[PendingAlert]:
        sql = ("SELECT id, change_id, channel, attempts, digest_id FROM alerts "
               "WHERE status = ?")
        params: list[Any] = [AlertStatus.PENDING]
        if not ignore_backoff:
            sql += " AND next_attempt <= ?"
            params.append(iso(now))
        pending = []
        # One row per channel: each change and digest is read once, whatever the channels.
        digests: dict[int, Digest] = {}
        changes: dict[int, ChangeRecord] = {}
        for alert_id, change_id, channel, attempts, digest_id in self.db.execute(
                sql + " ORDER BY id", params).fetchall():
            if digest_id is not None:
                if digest_id not in digests:
                    digests[digest_id] = self.digest(digest_id)
                digest = digests[digest_id]
                message_id = make_digest_message_id(alert_id, digest)
                pending.append(PendingAlert(alert_id, channel, attempts, None, message_id,
                                            render_digest(digest, message_id)))
                continue
            if change_id not in changes:
                changes[change_id] = self.change_record(change_id)
            change = changes[change_id]
            pending.append(PendingAlert(alert_id, channel, attempts, change,
                                        make_message_id(alert_id, change)))
        return pending

    # ------------------------------------------------------------ digests

    def last_digest_end(self) -> str | None:
        row = self.db.execute("SELECT max(end) FROM digests").fetchone()
        return row[0] if row else None

    def digest_items(self, start: str, end: str) -> list[DigestItem]:
        """What happened in (start, end]: changes confirmed, revisions, changes recorded
        and still unconfirmed, conflicts; each with its evidence."""
        rows = self.db.execute(
            f"SELECT c.type, {STATUS_SQL}, c.tracker, "
            "c.kind, c.old_display, "
            "c.new_display, f.sentence, d.source, coalesce(d.title, d.url), d.url, "
            "coalesce(f.published, d.published), "
            "(SELECT count(*) FROM corroborations k WHERE k.change_id = c.id) "
            "FROM changes c LEFT JOIN facts f ON f.id = c.new_fact_id "
            "LEFT JOIN documents d ON d.id = coalesce(f.document_id, c.document_id) "
            "WHERE c.type NOT IN (?, ?) "
            "AND coalesce(c.confirmed_at, c.detected_at) > ? "
            "AND coalesce(c.confirmed_at, c.detected_at) <= ? ORDER BY c.id",
            [ChangeType.BASELINE, ChangeType.REFINEMENT, start, end]).fetchall()
        items = []
        for (type_, status, tracker, kind, old, new, sentence, source, title, url, published,
             corroborations) in rows:
            section = "unconfirmed" if status == "unconfirmed" else type_
            name = self.titles.get(tracker, tracker)
            if kind == "text":
                name = f"{title} ({tracker})"
            items.append(DigestItem(section, name, old, new, sentence or "", source or "",
                                    title or "", url or "", published, corroborations))
        return items

    def digest(self, digest_id: int) -> Digest:
        start, end = self.db.execute("SELECT start, end FROM digests WHERE id = ?",
                                     [digest_id]).fetchone()
        return self.digest_between(start, end)

    def digest_between(self, start: str, end: str) -> Digest:
        """The digest of what happened in (start, end]."""
        return Digest(start, end, self.timezone, tuple(self.digest_items(start, end)))

    def queue_digest(self, start: str, end: str, channels: list[str]) -> int | None:
        """Record the digest of (start, end] and one outbox row per channel, at most once
        per period end (a restart re-running the job queues nothing twice). None when
        nothing happened in the period."""
        if not self.digest_items(start, end):
            return None
        now = iso()
        with self.archive.write():
            self.db.execute("INSERT OR IGNORE INTO digests (start, end, created) "
                            "VALUES (?, ?, ?)", [start, end, now])
            digest_id = self.db.execute("SELECT id FROM digests WHERE end = ?",
                                        [end]).fetchone()[0]
            for channel in channels:
                self.db.execute(
                    "INSERT OR IGNORE INTO alerts (digest_id, channel, status, attempts, "
                    "next_attempt, created) VALUES (?, ?, ?, 0, ?, ?)",
                    [digest_id, channel, AlertStatus.PENDING, now, now])
        return int(digest_id)

    def claim(self, alert_id: int, now: datetime) -> bool:
        with self.archive.write():
            cursor = self.db.execute(
                "UPDATE alerts SET status = ?, attempts = attempts + 1 "
                "WHERE id = ? AND status = ?",
                [AlertStatus.SENDING, alert_id, AlertStatus.PENDING],
            )
            return cursor.rowcount == 1

    def finish(self, alert_id: int, now: datetime, *, status: AlertStatus, error: str | None,
               next_attempt: datetime | None) -> None:
        with self.archive.write():
            self.db.table("alerts").update(alert_id, {
                "status": status,
                "last_error": error,
                "next_attempt": iso(next_attempt) if next_attempt else None,
                "sent_at": iso(now) if status == AlertStatus.SENT else None,
            })

    def requeue(self, statuses: list[AlertStatus]) -> int:
        """Make alerts with these statuses pending again, with a fresh attempt count."""
        marks = ", ".join("?" for _ in statuses)
        with self.archive.write():
            cursor = self.db.execute(
                f"UPDATE alerts SET status = ?, attempts = 0, next_attempt = ? "
                f"WHERE status IN ({marks})", [AlertStatus.PENDING, iso(), *statuses])
        return cursor.rowcount

    def recover(self) -> int:
        """Mark alerts left 'sending' by a killed process as 'unknown' (never resent)."""
        with self.archive.write():
            cursor = self.db.execute(
                "UPDATE alerts SET status = ?, last_error = "
                "'interrupted while sending: it may or may not have been delivered' "
                "WHERE status = ?", [AlertStatus.UNKNOWN, AlertStatus.SENDING]
            )
        if cursor.rowcount:
            log.warning("%d alert(s) were interrupted while sending; marked 'unknown', "
                        "not resent (see `newswatch status`)", cursor.rowcount)
        return cursor.rowcount
