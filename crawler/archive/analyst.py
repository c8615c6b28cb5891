"""Reads for an analyst: each tracker's current value and how sure we are, its timeline,
and the names (sources, stories, trackers) the archive knows.

A tracker's current value is what change detection decided, not the latest report: the
newest confirmed `changes` row of a type that sets a value (baseline, change, revision,
refinement). Stale copies (conflicts) and changes waiting for confirmation are listed
beside it and never replace it.

The functions take anything with ``execute(sql, params)`` returning a cursor — a
``sqlite_utils.Database`` or a plain ``sqlite3.Connection`` (Datasette hands its
connections to :func:`tracker_timeline` for the browse page).
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Protocol

from crawler.archive.changes import FACT_SQL, STATUS_SQL
from crawler.changes.records import ACCEPTED, SETS_VALUE, ChangeStatus, ChangeType, FactRecord
from crawler.changes.rules import outlet, voices

#: change types whose (confirmed) rows set a tracker's value
VALUE_TYPES = tuple(t.value for t in ACCEPTED)
#: change types that replace the value (a refinement only states it more precisely)


class Executes(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor: ...


def _dicts(db: Executes, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor]


# ====================================================================== names


def archive_names(db: Executes) -> dict[str, list[str]]:
    """The sources, stories and trackers the archive holds rows of (sorted)."""
    def column(sql: str) -> list[str]:
        return sorted({str(r[0]) for r in db.execute(sql) if r[0]})

    return {
        "source": column("SELECT name FROM sources UNION SELECT DISTINCT source FROM documents"),
        "story": column("SELECT DISTINCT story FROM facts UNION SELECT DISTINCT story FROM "
                        "changes UNION SELECT DISTINCT j.value FROM documents d, "
                        "json_each(coalesce(d.stories, '[]')) j"),
        "tracker": column("SELECT DISTINCT tracker FROM facts UNION "
                          "SELECT DISTINCT tracker FROM changes"),
    }


# ====================================================================== timeline


@dataclass
class Statement:
    """One fact of a tracker: a source stating a value in a report."""

    fact_id: int
    document_id: int
    version_id: int
    published: str  # the report's date (YYYY-MM-DD), else the day it was fetched
    display: str
    value: str
    y: float | None  # where the value sits on a chart (a count, or a date's day number)
    source: str
    outlet: str  # the host the report comes from
    official: bool  # from an official source
    attributed: bool  # the sentence attributes the figure to officials
    url: str
    title: str | None
    sentence: str
    current_text: bool  # still in its document's current text (not revised away)
    change_id: int | None  # the change row this fact made or corroborates
    change_type: str | None  # that row's type
    made_change: bool  # this fact is that row's new fact (not a corroboration)
    #: value (states the value set by a confirmed change), stale (repeats an older value:
    #: a conflict), pending (a change not confirmed yet), none (no change row: the first
    #: figure of "from X to Y", an unchanged repeat in a revised text, not evaluated)
    status: str


@dataclass
class Step:
    """A value the tracker took: from ``since`` until the next step."""

    change_id: int
    type: str
    display: str
    value: str
    y: float | None
    since: str  # the report date of the value's first statement (an edit: when seen)
    fact_id: int | None
    old_display: str | None
    detected_at: str | None


@dataclass
class Held:
    """A value beside the current one: a change waiting for confirmation or a stale copy."""

    change_id: int
    type: str
    display: str
    since: str
    reports: int
    voices: int
    outlets: list[str]


@dataclass
class Timeline:
    """A tracker's statements, the values it took, its current value and what waits."""

    tracker: str
    kind: str | None
    story: str | None = None
    statements: list[Statement] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pending: list[Held] = field(default_factory=list)
    conflicts: list[Held] = field(default_factory=list)  # open: since the value was set
    voices: int = 0  # independent voices stating the current value
    outlets: list[str] = field(default_factory=list)
    official: str = "no"  # yes (an official source), attributed (to officials), or no
    last_report: str | None = None

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def summary(self) -> dict[str, Any]:
        """The tracker's state as one JSON-ready object (``newswatch trackers --json``)."""
        cur = self.current
        return {
            "tracker": self.tracker, "story": self.story, "kind": self.kind,
            "value": cur.display if cur else None, "raw_value": cur.value if cur else None,
            "since": cur.since if cur else None, "set_by": cur.type if cur else None,
            "change_id": cur.change_id if cur else None,
            "sources": self.voices, "outlets": self.outlets, "official": self.official,
            "pending": [asdict(h) for h in self.pending],
            "conflicts": [asdict(h) for h in self.conflicts],
            "statements": len(self.statements), "last_report": self.last_report,
        }


def plot_value(kind: str | None, value: str, number: float | None, low: float | None,
               high: float | None) -> float | None:
    """A fact's position on a value axis: the figure, or a date's day number."""
    if kind == "timeline":
        parts = (value or "").split("-")
        try:
            year = int(parts[0])
            month = int(parts[1]) if len(parts) > 1 else 1
            day = int(parts[2]) if len(parts) > 2 else 1
            return float(date(year, month, day).toordinal())
        except (ValueError, IndexError):
            return None
    for candidate in (number, high, low):
        if candidate is not None:
            return float(candidate)
    return None


def tracker_timeline(db: Executes, tracker: str) -> Timeline:
    """Everything the tracker's page, chart and summary show, read in a few queries."""
    changes = _dicts(db, f"SELECT id, type, {STATUS_SQL} AS status, new_fact_id, "
                         "new_value, new_display, old_display, detected_at, kind, story "
                         "FROM changes c "
                         "WHERE tracker = ? AND kind != 'text' ORDER BY id", [tracker])
    records = {r["id"]: FactRecord.from_row(r) for r in _dicts(
        db, f"SELECT * FROM ({FACT_SQL} WHERE f.tracker = ?) "
            "ORDER BY day, version_id, start, id", [tracker])}
    extra = {r["id"]: r for r in _dicts(
        db, "SELECT f.id, d.title, d.current_version = f.version_id AS current_text, "
            "substr(v.fetched_at, 1, 10) AS fetched FROM facts f "
            "JOIN documents d ON d.id = f.document_id JOIN versions v ON v.id = f.version_id "
            "WHERE f.tracker = ?", [tracker])}
    links: dict[int, list[int]] = {}  # change id -> its facts (new fact first)
    owner: dict[int, tuple[int, bool]] = {}  # fact id -> (change id, made it)
    for c in changes:
        if c["new_fact_id"] is not None:
            links.setdefault(c["id"], []).append(c["new_fact_id"])
            owner.setdefault(c["new_fact_id"], (c["id"], True))
    for change_id, fact_id in db.execute(
            "SELECT k.change_id, k.fact_id FROM corroborations k JOIN changes c "
            "ON c.id = k.change_id WHERE c.tracker = ? ORDER BY k.change_id, k.fact_id",
            [tracker]):
        links.setdefault(change_id, []).append(fact_id)
        owner.setdefault(fact_id, (change_id, False))
    by_id = {c["id"]: c for c in changes}
    kind = changes[0]["kind"] if changes else next(
        (rec.kind for rec in records.values()), None)

    story = changes[0]["story"] if changes else next(
        (rec.story for rec in records.values()), None)
    timeline = Timeline(tracker, kind, story)
    for fact_id, rec in records.items():
        change_id, made = owner.get(fact_id, (None, False))
        change = by_id.get(change_id) if change_id is not None else None
        timeline.statements.append(Statement(
            fact_id=fact_id, document_id=rec.doc, version_id=rec.version_id,
            published=rec.day, display=rec.display, value=rec.value,
            y=plot_value(rec.kind, rec.value, rec.number, rec.low, rec.high),
            source=rec.source, outlet=outlet(rec.url), official=rec.official,
            attributed=rec.attributed, url=rec.url, title=extra[fact_id]["title"],
            sentence=rec.sentence, current_text=bool(extra[fact_id]["current_text"]),
            change_id=change_id, change_type=change["type"] if change else None,
            made_change=made, status=_status(change)))
    timeline.last_report = max((s.published for s in timeline.statements), default=None)

    last_set = 0  # the newest confirmed change that replaced the value
    for c in changes:
        if c["type"] not in VALUE_TYPES or c["status"] != ChangeStatus.CONFIRMED.value:
            continue
        fact = records.get(c["new_fact_id"])
        since = fact.day if fact else str(c["detected_at"] or "")[:10]
        if fact and c["type"] == ChangeType.REVISION.value:
            since = max(since, extra[fact.id]["fetched"] or since)  # when the edit was seen
        if timeline.steps:
            since = max(since, timeline.steps[-1].since)
        timeline.steps.append(Step(
            change_id=c["id"], type=c["type"], display=c["new_display"], value=c["new_value"],
            y=plot_value(kind, c["new_value"], fact.number if fact else None,
                         fact.low if fact else None, fact.high if fact else None),
            since=since, fact_id=c["new_fact_id"], old_display=c["old_display"],
            detected_at=c["detected_at"]))
        if c["type"] in SETS_VALUE:
            last_set = c["id"]

    cur = timeline.current
    if cur is not None:
        stating = [records[f] for f in links.get(cur.change_id, []) if f in records]
        timeline.voices = voices(stating)
        timeline.outlets = sorted({outlet(s.url) for s in stating})
        timeline.official = ("yes" if any(s.official for s in stating) else
                             "attributed" if any(s.attributed for s in stating) else "no")
    for c in changes:
        held = c["type"] == ChangeType.CHANGE.value and \
            c["status"] == ChangeStatus.UNCONFIRMED.value
        if not (held or c["type"] == ChangeType.CONFLICT.value) or c["id"] < last_set:
            continue
        stating = [records[f] for f in links.get(c["id"], []) if f in records]
        (timeline.pending if held else timeline.conflicts).append(Held(
            change_id=c["id"], type=c["type"], display=c["new_display"],
            since=min((s.day for s in stating), default=str(c["detected_at"] or "")[:10]),
            reports=len(stating), voices=voices(stating),
            outlets=sorted({outlet(s.url) for s in stating})))
    return timeline


def _status(change: dict[str, Any] | None) -> str:
    if change is None:
        return "none"
    if change["type"] == ChangeType.CONFLICT.value:
        return "stale"
    if change["status"] == ChangeStatus.UNCONFIRMED.value:
        return "pending"
    return "value" if change["type"] in VALUE_TYPES else "none"


def timeline_trackers(db: Executes) -> list[str]:
    """Trackers with facts or value changes in the archive (not watched pages)."""
    return sorted({str(r[0]) for r in db.execute(
        "SELECT DISTINCT tracker FROM facts WHERE tracker IS NOT NULL UNION "
        "SELECT DISTINCT tracker FROM changes WHERE kind != 'text' AND tracker IS NOT NULL")})
