"""The archive side of change detection: the reads and writes the detector makes.

Every outcome of one fact — its change row, the change's alert rows (one per channel),
corroborations and the fact's ``evaluated`` mark — is written in one transaction, so a
crash never loses a change nor alerts one twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.status import AlertStatus
from crawler.archive.store import Archive, RunStatus, iso
from crawler.changes.records import (
    ACCEPTED,
    SETS_VALUE,
    TEXT_KIND,
    ChangeStatus,
    ChangeType,
    FactRecord,
)

# SQL from the enums' values (fixed words, never input).
_ACCEPTED_SQL = ", ".join(f"'{t.value}'" for t in ACCEPTED)
_SETS_VALUE_SQL = ", ".join(f"'{t.value}'" for t in SETS_VALUE)
#: a change's status (``c``); NULL in rows older than confirmation: confirmed
STATUS_SQL = f"coalesce(c.status, '{ChangeStatus.CONFIRMED.value}')"
_CONFIRMED_SQL = f"{STATUS_SQL} = '{ChangeStatus.CONFIRMED.value}'"

# The last run of a source's first crawl: its first run that finished (a failed or
# interrupted first run is not the end of the first crawl). Versions fetched up to it are
# history. Used with `d` the document, `v` the version.
_FINISHED_SQL = ", ".join(f"'{s.value}'" for s in (RunStatus.OK, RunStatus.PARTIAL))
_FIRST_CRAWL_END = ("(SELECT min(id) FROM runs r WHERE r.source = d.source "
                    f"AND r.status IN ({_FINISHED_SQL}))")

# A fact with what the rules need of its report. `history`: the version was fetched by its
# source's first crawl — up to the first run that finished (a failed or interrupted first
# run is not the end of the first crawl); older rows without a run: the document came with
# the first run and this is its first version.
FACT_SQL = f"""
SELECT f.*, coalesce(f.published, substr(v.fetched_at, 1, 10)) AS day,
       v.document_id AS doc, d.url, d.source, coalesce(d.official, 0) AS official,
       CASE WHEN v.run_id IS NOT NULL
            THEN v.run_id <= {_FIRST_CRAWL_END}
            ELSE d.first_run IS NOT NULL
                 AND d.first_run = (SELECT min(id) FROM runs r WHERE r.source = d.source)
                 AND v.id = (SELECT min(id) FROM versions w WHERE w.document_id = d.id)
       END AS history
FROM facts f JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
"""


@dataclass(frozen=True)
class Pending:
    """An unconfirmed change and every statement of its value so far."""

    change_id: int
    statements: list[FactRecord]


@dataclass(frozen=True)
class PageRevision:
    """A new version of a watched page, with the version it replaces."""

    document_id: int
    version_id: int
    previous_id: int
    source: str
    history: bool


class ChangeStore:
    """Facts, changes, corroborations and alert rows, as the detector needs them."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self.db = archive.db
        self._texts: dict[int, str] = {}

    def _facts(self, where: str, params: Sequence[Any]) -> list[FactRecord]:
        return [FactRecord.from_row(r) for r in self.db.query(f"{FACT_SQL} WHERE {where}",
                                                              list(params))]

    # -------------------------------------------------------------- reads

    def mark_untracked(self) -> None:
        """Untracked facts have nothing to compare with: mark them in one go."""
        with self.archive.write():
            self.db.execute("UPDATE facts SET evaluated = 1 WHERE evaluated = 0 "
                            "AND tracker IS NULL")

    def unevaluated(self) -> list[FactRecord]:
        """Facts waiting for evaluation, in publication order."""
        return self._facts("f.evaluated = 0 ORDER BY day, f.version_id, f.start, f.id", [])

    def current(self, tracker: str) -> tuple[int, FactRecord] | None:
        """The change that set the tracker's value (confirmed), and its fact."""
        row = self.db.execute(
            f"SELECT c.id, c.new_fact_id FROM changes c WHERE c.tracker = ? "
            f"AND c.type IN ({_ACCEPTED_SQL}) AND {_CONFIRMED_SQL} ORDER BY c.id DESC LIMIT 1",
            [tracker]).fetchone()
        if row is None:
            return None
        return row[0], self._facts("f.id = ?", [row[1]])[0]

    def older_values(self, tracker: str, current: FactRecord) -> list[FactRecord]:
        """Values the tracker had before the current one (confirmed, accepted values only:
        a late report of a value the tracker never had is not an older value of it)."""
        return self._facts(
            f"f.id IN (SELECT new_fact_id FROM changes c WHERE c.tracker = ? "
            f"AND c.type IN ({_ACCEPTED_SQL}) AND {_CONFIRMED_SQL}) AND f.id != ?",
            [tracker, current.id])

    def base(self, tracker: str) -> int:
        """The id of the change that set the tracker's value, refinements aside (they make
        a value finer, they do not replace it): pending changes after it still wait."""
        row = self.db.execute(
            f"SELECT max(c.id) FROM changes c WHERE c.tracker = ? AND c.type IN "
            f"({_SETS_VALUE_SQL}) AND {_CONFIRMED_SQL}", [tracker]).fetchone()
        return int(row[0] or 0)

    def backfill_until(self, tracker: str) -> int | None:
        """Facts of versions up to this id are the tracker's history (see Detector)."""
        row = self.db.execute(
            "SELECT backfill_until FROM changes WHERE tracker = ? AND type = ? "
            "ORDER BY id LIMIT 1", [tracker, ChangeType.BASELINE]).fetchone()
        return None if row is None else int(row[0] or 0)

    def pending(self, tracker: str, since_change: int) -> list[Pending]:
        """Unconfirmed changes recorded after ``since_change`` (see :meth:`base`)."""
        out = []
        for change_id, fact_id in self.db.execute(
                "SELECT id, new_fact_id FROM changes WHERE tracker = ? AND type = ? "
                "AND status = ? AND id > ? ORDER BY id",
                [tracker, ChangeType.CHANGE, ChangeStatus.UNCONFIRMED, since_change]
                ).fetchall():
            statements = self._facts(
                "f.id = ? OR f.id IN (SELECT fact_id FROM corroborations WHERE change_id = ?) "
                "ORDER BY day, f.id", [fact_id, change_id])
            out.append(Pending(change_id, statements))
        return out

    def previous_version_facts(self, fact: FactRecord) -> list[FactRecord]:
        """The same tracker's facts in the document's version before this fact's version."""
        prev = self.db.execute("SELECT max(id) FROM versions WHERE document_id = ? AND id < ?",
                               [fact.doc, fact.version_id]).fetchone()[0]
        if prev is None:
            return []
        return self._facts("f.version_id = ? AND f.tracker = ?", [prev, fact.tracker])

    def version_facts(self, fact: FactRecord) -> list[FactRecord]:
        """The other facts of the same tracker in the same version."""
        return self._facts("f.version_id = ? AND f.tracker = ? AND f.id != ?",
                           [fact.version_id, fact.tracker, fact.id])

    def next_in_sentence(self, fact: FactRecord) -> int | None:
        """Where the next fact of the same tracker in the same sentence starts, if any."""
        row = self.db.execute(
            "SELECT start FROM facts WHERE version_id = ? AND tracker = ? AND sentence = ? "
            "AND start > ? ORDER BY start LIMIT 1",
            [fact.version_id, fact.tracker, fact.sentence, fact.start]).fetchone()
        return None if row is None else int(row[0])

    def conflict_with(self, tracker: str) -> Iterator[tuple[int, FactRecord]]:
        """Conflicts recorded since the tracker's current value was set, with their facts."""
        for change_id, fact_id in self.db.execute(
                "SELECT id, new_fact_id FROM changes WHERE tracker = ? AND type = ? "
                "AND id > (SELECT max(id) FROM changes c WHERE c.tracker = ? "
                f"AND c.type IN ({_SETS_VALUE_SQL}) AND {_CONFIRMED_SQL})",
                [tracker, ChangeType.CONFLICT, tracker]).fetchall():
            yield change_id, self._facts("f.id = ?", [fact_id])[0]

    def version_text(self, version_id: int) -> str:
        """A version's text, read once per detector (versions never change)."""
        if version_id not in self._texts:
            row = self.db.execute("SELECT text FROM versions WHERE id = ?",
                                  [version_id]).fetchone()
            self._texts[version_id] = str(row[0]) if row else ""
        return self._texts[version_id]

    def page_revisions(self, sources: Sequence[str]) -> list[PageRevision]:
        """New versions of documents of these (page) sources not yet reported."""
        if not sources:
            return []
        marks = ", ".join("?" for _ in sources)
        rows = self.db.execute(
            f"SELECT v.document_id, v.id, (SELECT max(id) FROM versions w "
            f"WHERE w.document_id = v.document_id AND w.id < v.id), d.source, "
            f"coalesce(v.run_id <= {_FIRST_CRAWL_END}, 0) "
            f"FROM versions v JOIN documents d ON d.id = v.document_id "
            f"WHERE d.source IN ({marks}) AND v.id > (SELECT min(id) FROM versions w "
            f"WHERE w.document_id = v.document_id) AND NOT EXISTS (SELECT 1 FROM changes c "
            f"WHERE c.kind = '{TEXT_KIND}' AND c.document_id = v.document_id "
            f"AND c.new_value = CAST(v.id AS TEXT)) AND NOT EXISTS (SELECT 1 FROM changes c "
            f"JOIN facts f ON f.id = c.new_fact_id WHERE f.version_id = v.id "
            f"AND c.type = '{ChangeType.REVISION.value}') ORDER BY v.id", list(sources)
        ).fetchall()
        return [PageRevision(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    # -------------------------------------------------------------- writes

    def mark(self, fact: FactRecord) -> None:
        with self.archive.write():
            self.db.table("facts").update(fact.id, {"evaluated": 1})

    def corroborate(self, change_id: int, fact: FactRecord, other: FactRecord) -> None:
        """Link a fact to a change it restates (unless it is the same document)."""
        with self.archive.write():
            if fact.doc != other.doc:
                self.db.table("corroborations").insert(
                    {"change_id": change_id, "fact_id": fact.id}, ignore=True)
            self.db.table("facts").update(fact.id, {"evaluated": 1})

    def record(self, row: dict[str, Any], channels: Sequence[str],
               fact: FactRecord | None) -> int:
        """Write a change row and its alert rows, and mark its fact evaluated."""
        now = iso()
        with self.archive.write():
            confirmed = row.get("status") == ChangeStatus.CONFIRMED.value
            change_id = self.archive.add("changes", {**row, "detected_at": now,
                                                     "confirmed_at": now if confirmed else None})
            self._queue(change_id, channels, now)
            if fact is not None:
                self.db.table("facts").update(fact.id, {"evaluated": 1})
        return change_id

    def confirm(self, change_id: int, fact: FactRecord, current: FactRecord,
                channels: Sequence[str]) -> None:
        """A pending change is confirmed by ``fact``: corroborate, confirm, queue alerts.

        The change is from the tracker's value now (``current``), whatever value it was
        recorded against.
        """
        now = iso()
        with self.archive.write():
            self.db.table("corroborations").insert({"change_id": change_id, "fact_id": fact.id},
                                                   ignore=True)
            self.db.table("changes").update(change_id, {
                "status": ChangeStatus.CONFIRMED.value, "confirmed_at": now,
                "old_value": current.value, "old_display": current.display,
                "old_fact_id": current.id})
            self._queue(change_id, channels, now)
            self.db.table("facts").update(fact.id, {"evaluated": 1})

    def _queue(self, change_id: int, channels: Sequence[str], now: str) -> None:
        for channel in channels:
            self.db.table("alerts").insert({
                "change_id": change_id, "channel": channel, "status": AlertStatus.PENDING,
                "attempts": 0, "next_attempt": now, "created": now,
            })


def diff_json(ops: Sequence[tuple[str, str]]) -> str:
    """How a word diff is stored in `changes.diff`."""
    return json.dumps([list(op) for op in ops])


