"""Change detection: compare each tracker's new facts with its current value.

Facts are evaluated once, per tracker, in publication order. For every fact:

- the first value a tracker ever gets is its **baseline** (recorded, not alerted);
  so are the changes found in the same pass, and those in reports a source's first
  crawl archived (a first crawl backfills history: even if it was interrupted, and
  whichever source finished first);
- a value the same as the current one (within the tolerance; dates at the
  granularity both share; figures of different forms whose intervals overlap)
  **corroborates** the change that set it; a finer date that agrees with a
  coarser one ("September 2026" after "2026") is a **refinement** (not alerted);
- a value that repeats an older value of the tracker, or comes from a report
  published before the current value's report, is a **conflict** (a stale copy):
  recorded once per value, alerted only when ``changes.alert_conflicts`` is set;
- any other value is a **change**, or a **revision** when it comes from a new
  version of an article whose previous version stated another value (then the
  change carries a word diff of the edited passage).

Vague figures ("hundreds") and relative ones ("20%") never move a tracker: they
cannot contradict a stated figure. Each fact's outcome — the change row, its
alert rows (one per channel) and the fact's ``evaluated`` mark — is written in
one transaction, so a crash never loses a change nor alerts one twice.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from crawler.archive.store import Archive, iso
from crawler.changes.textdiff import changed_passage, word_diff
from crawler.config.model import Config, Tracker

log = logging.getLogger(__name__)

# change types that set a tracker's value; a refinement is a finer statement of the
# same value ("by September 2026" after "in 2026"): recorded, never alerted
ACCEPTED = ("baseline", "change", "revision", "refinement")
ALERTED = ("change", "revision")
NOT_COMPARABLE = ("vague", "relative")


@dataclass(frozen=True)
class Detected:
    """One change row written by :func:`detect_changes`."""

    id: int
    tracker: str
    type: str
    old_display: str | None
    new_display: str
    alerts: int


def _direction(granularity: str) -> str:
    return granularity if granularity in ("upper", "lower", "range") else "point"


def same_value(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> bool:
    """Whether two facts of one kind state the same value (re-wording is not a change).

    Figures of one form (two estimates, two upper bounds, two ranges) are the same
    when they are within the tolerance, so a moved bound is a change. Figures of
    different forms ("about 1,900" and "fewer than 2,000") are the same when their
    intervals overlap: they are compatible statements, not news.
    """
    if a["kind"] == "timeline":
        va, vb = a["value"], b["value"]
        shared = min(len(va), len(vb))  # "2026" vs "2026-09": compare the year only
        return bool(va[:shared] == vb[:shared])
    if _direction(a["granularity"]) != _direction(b["granularity"]):
        return _compatible(a, b, tolerance)
    if a["granularity"] == "range":
        return _close(a["low"], b["low"], tolerance) and _close(a["high"], b["high"], tolerance)
    return _close(a["number"], b["number"], tolerance)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    inf = float("inf")
    a_low, a_high = a["low"] or 0.0, inf if a["high"] is None else a["high"]
    b_low, b_high = b["low"] or 0.0, inf if b["high"] is None else b["high"]
    return bool(a_low < b_high and b_low < a_high)


def _compatible(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> bool:
    """Figures of different forms: the same news when they overlap and, for an estimate
    against a bound, the estimate is near the bound ("about 1,900" and "fewer than
    2,000"; not "about 300")."""
    if not _overlap(a, b):
        return False
    point = next((f for f in (a, b) if _direction(f["granularity"]) == "point"), None)
    bound = next((f for f in (a, b) if _direction(f["granularity"]) in ("upper", "lower")), None)
    if point is None or bound is None:
        return True  # a range against a figure inside it, or two bounds that overlap
    return _close(point["number"], bound["number"], 2 * tolerance)


def _repeats(fact: dict[str, Any], old: dict[str, Any], tolerance: float) -> bool:
    """Whether a fact restates an older value in the same form (a stale copy)."""
    if fact["kind"] == "timeline":
        return bool(fact["value"] == old["value"])
    return _direction(fact["granularity"]) == _direction(old["granularity"]) and same_value(
        fact, old, tolerance)


def _finer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """A date stated more precisely than another ("2026-09" than "2026")."""
    return a["kind"] == "timeline" and len(a["value"]) > len(b["value"])


def _close(x: float | None, y: float | None, tolerance: float) -> bool:
    if x is None or y is None:
        return x is y
    if x == y:
        return True
    return abs(x - y) / max(abs(x), abs(y)) <= tolerance


FACT_SQL = """
SELECT f.*, coalesce(f.published, substr(v.fetched_at, 1, 10)) AS day,
       v.document_id AS doc, d.url, d.title AS doc_title, d.source
FROM facts f JOIN versions v ON v.id = f.version_id JOIN documents d ON d.id = v.document_id
"""


class Detector:
    """Evaluates unevaluated facts against the trackers' current values."""

    def __init__(self, archive: Archive, config: Config):
        self.archive = archive
        self.db = archive.db
        self.config = config
        self.trackers: dict[str, Tracker] = config.trackers
        self.channels = config.alerts.channels
        self.backfill: set[str] = set()  # trackers getting their first value in this pass
        self._texts: dict[int, str] = {}

    def run(self) -> list[Detected]:
        # Untracked facts have nothing to compare with: mark them in one go.
        with self.archive.write():
            self.db.execute(
                "UPDATE facts SET evaluated = 1 WHERE evaluated = 0 AND tracker IS NULL"
            )
        pending = list(self.db.query(
            FACT_SQL + " WHERE f.evaluated = 0 ORDER BY day, f.version_id, f.start, f.id"
        ))
        # Trackers without a value yet are being backfilled: a first crawl of feeds
        # holding months of reports records their history, it does not alert it.
        self.backfill = {name for name in self.trackers if self._current(name) is None}
        detected = []
        for fact in pending:
            found = self._evaluate(fact)
            if found:
                detected.append(found)
        if detected:
            log.info("detected %d change(s)", sum(d.type in ALERTED for d in detected))
        return detected

    # -------------------------------------------------------------- queries

    def _current(self, tracker: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        row = self.db.execute(
            f"SELECT id, new_fact_id FROM changes WHERE tracker = ? AND type IN {ACCEPTED} "
            "ORDER BY id DESC LIMIT 1",
            [tracker],
        ).fetchone()
        if row is None:
            return None
        change = {"id": row[0]}
        fact = next(self.db.query(FACT_SQL + " WHERE f.id = ?", [row[1]]))
        return change, fact

    def _older_values(self, tracker: str, cur: dict[str, Any]) -> list[dict[str, Any]]:
        """Values the tracker had before, and stale ones reported before the current one."""
        accepted = self.db.query(
            FACT_SQL + " WHERE f.id IN (SELECT new_fact_id FROM changes WHERE tracker = ? "
            f"AND type IN {ACCEPTED}) AND f.id != ?",
            [tracker, cur["id"]],
        )
        stale = self.db.query(
            FACT_SQL + " WHERE f.id IN (SELECT new_fact_id FROM changes WHERE tracker = ? "
            "AND type = 'conflict') AND coalesce(f.published, substr(v.fetched_at, 1, 10)) <= ?",
            [tracker, cur["day"]],
        )
        return [*accepted, *stale]

    def _previous_version_facts(self, fact: dict[str, Any]) -> list[dict[str, Any]]:
        """The same tracker's facts in the document's version before this fact's version."""
        prev = self.db.execute(
            "SELECT max(id) FROM versions WHERE document_id = ? AND id < ?",
            [fact["doc"], fact["version_id"]],
        ).fetchone()[0]
        if prev is None:
            return []
        return list(self.db.query(
            FACT_SQL + " WHERE f.version_id = ? AND f.tracker = ?", [prev, fact["tracker"]]
        ))

    # -------------------------------------------------------------- evaluation

    def _evaluate(self, fact: dict[str, Any]) -> Detected | None:
        tracker = self.trackers.get(fact["tracker"])
        if tracker is None or fact["granularity"] in NOT_COMPARABLE:
            self._mark(fact)
            return None
        tolerance = (
            tracker.tolerance if tracker.tolerance is not None else self.config.changes.tolerance
        )
        if self._followed_in_sentence(fact):
            # "from about 2,500 to fewer than 2,000": the first figure is where it came
            # from; the last one is the news.
            self._mark(fact)
            return None
        current = self._current(tracker.name)
        if current is None:
            return self._record(fact, tracker, "baseline", None)
        change, cur = current
        before = self._previous_version_facts(fact)
        revising = self.config.changes.revisions and bool(before)
        if (revising and cur["doc"] == fact["doc"] and cur["version_id"] < fact["version_id"]
                and not self._version_states(fact, cur, tolerance, include_self=True)):
            # The article that set the current value was edited and no longer states it.
            return self._record(fact, tracker, "revision", cur)
        if any(same_value(fact, b, tolerance) for b in before):
            self._mark(fact)  # unchanged in this revision: evaluated with the earlier version
            return None
        if same_value(fact, cur, tolerance):
            if _finer(fact, cur) and fact["day"] >= cur["day"]:
                return self._record(fact, tracker, "refinement", cur)
            self._corroborate(change["id"], fact, cur)
            return None
        # A stale copy: an older report (but an edit of an older article is news), or a
        # restatement of a value the current one replaced (not one it merely refined).
        stale = (not before and fact["day"] < cur["day"]) or any(
            _repeats(fact, old, tolerance) and not same_value(old, cur, tolerance)
            for old in self._older_values(tracker.name, cur)
        )
        if stale:
            earlier = self._conflict_with(tracker.name, fact, tolerance)
            if earlier is not None:  # the same stale value again: one conflict, more copies
                self._corroborate(earlier, fact, cur)
                return None
            return self._record(fact, tracker, "conflict", cur)
        if revising:
            return self._record(fact, tracker, "revision", _replaced(fact, before))
        return self._record(fact, tracker, "change", cur)

    def _followed_in_sentence(self, fact: dict[str, Any]) -> bool:
        """Whether the same sentence moves this tracker on to a later figure ("from X to Y")."""
        for other in self.db.query(
            "SELECT start FROM facts WHERE version_id = ? AND tracker = ? AND sentence = ? "
            "AND start > ? ORDER BY start LIMIT 1",
            [fact["version_id"], fact["tracker"], fact["sentence"], fact["start"]],
        ):
            text = self._version_text(fact["version_id"])[fact["end"]:other["start"]]
            return bool(re.search(r"\bto\b", text)) and len(text) < 80
        return False

    def _from_first_run(self, fact: dict[str, Any]) -> bool:
        """Whether the fact's report was archived by its source's first crawl (history)."""
        row = self.db.execute(
            "SELECT d.first_run, (SELECT min(id) FROM runs r WHERE r.source = d.source) "
            "FROM documents d WHERE d.id = ?", [fact["doc"]],
        ).fetchone()
        return bool(row and row[0] is not None and row[0] == row[1])

    def _version_text(self, version_id: int) -> str:
        """A version's text, read once per pass (versions never change)."""
        if version_id not in self._texts:
            row = self.db.execute("SELECT text FROM versions WHERE id = ?",
                                  [version_id]).fetchone()
            self._texts[version_id] = str(row[0]) if row else ""
        return self._texts[version_id]

    def _conflict_with(self, tracker: str, fact: dict[str, Any], tolerance: float) -> int | None:
        """A conflict already recorded for this value since the current value was set."""
        rows = self.db.query(
            "SELECT c.id, f.kind, f.value, f.granularity, f.number, f.low, f.high "
            "FROM changes c JOIN facts f ON f.id = c.new_fact_id WHERE c.tracker = ? "
            "AND c.type = 'conflict' AND c.id > (SELECT max(id) FROM changes "
            "WHERE tracker = ? AND type IN ('baseline', 'change', 'revision'))",
            [tracker, tracker],
        )
        return next((r["id"] for r in rows if _repeats(fact, r, tolerance)), None)

    def _version_states(self, fact: dict[str, Any], cur: dict[str, Any], tolerance: float,
                        include_self: bool = False) -> bool:
        """Whether the fact's version states the current value (in another fact)."""
        return any(
            same_value(other, cur, tolerance)
            for other in self.db.query(
                FACT_SQL + " WHERE f.version_id = ? AND f.tracker = ? AND f.id != ?",
                [fact["version_id"], fact["tracker"], -1 if include_self else fact["id"]],
            )
        )

    def _mark(self, fact: dict[str, Any]) -> None:
        with self.archive.write():
            self.db.table("facts").update(fact["id"], {"evaluated": 1})

    def _corroborate(self, change_id: int, fact: dict[str, Any], cur: dict[str, Any]) -> None:
        with self.archive.write():
            if fact["doc"] != cur["doc"]:
                self.db.table("corroborations").insert(
                    {"change_id": change_id, "fact_id": fact["id"]}, ignore=True
                )
            self.db.table("facts").update(fact["id"], {"evaluated": 1})

    def _record(
        self, fact: dict[str, Any], tracker: Tracker, type_: str, old: dict[str, Any] | None
    ) -> Detected:
        diff = None
        if type_ == "revision" and old is not None:
            diff = json.dumps(self._diff(old, fact))
        alerted = type_ in ALERTED or (type_ == "conflict" and self.config.changes.alert_conflicts)
        if tracker.name in self.backfill or self._from_first_run(fact):
            alerted = False
        now = iso()
        with self.archive.write():
            change_id = self.archive.add("changes", {
                "story": fact["story"],
                "tracker": tracker.name,
                "kind": tracker.kind,
                "type": type_,
                "old_value": old["value"] if old else None,
                "new_value": fact["value"],
                "old_display": old["display"] if old else None,
                "new_display": fact["display"],
                "old_fact_id": old["id"] if old else None,
                "new_fact_id": fact["id"],
                "detected_at": now,
                "diff": diff,
            })
            channels = self.channels if alerted else []
            for channel in channels:
                self.db.table("alerts").insert({
                    "change_id": change_id, "channel": channel, "status": "pending",
                    "attempts": 0, "next_attempt": now, "created": now,
                })
            self.db.table("facts").update(fact["id"], {"evaluated": 1})
        log.log(
            logging.INFO if type_ != "baseline" else logging.DEBUG,
            "%s %s: %s -> %s (%s)", tracker.name, type_, old["display"] if old else "-",
            fact["display"], fact["url"],
        )
        return Detected(change_id, tracker.name, type_, old["display"] if old else None,
                        fact["display"], len(channels))

    def _diff(self, old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
        ops = word_diff(self._version_text(old["version_id"]),
                        self._version_text(new["version_id"]))
        return changed_passage(ops)


def _replaced(fact: dict[str, Any], before: list[dict[str, Any]]) -> dict[str, Any]:
    """Which fact of the previous version a revised fact replaces.

    The same kind of figure (an upper bound for an upper bound) first, then the
    most similar sentence, then the nearest position in the text.
    """
    return max(before, key=lambda b: (
        _direction(b["granularity"]) == _direction(fact["granularity"]),
        round(difflib.SequenceMatcher(None, b["sentence"], fact["sentence"]).ratio(), 2),
        -abs(b["start"] - fact["start"]),
    ))


def detect_changes(archive: Archive, config: Config) -> list[Detected]:
    """Evaluate every fact not yet evaluated; returns the change rows written."""
    return Detector(archive, config).run()
