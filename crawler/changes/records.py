"""Typed records the change rules work on: a stored fact, change types and statuses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeType(StrEnum):
    """What a row of `changes` records."""

    BASELINE = "baseline"  # a tracker's first value (never alerted)
    CHANGE = "change"  # a new value
    REVISION = "revision"  # an edit of an archived document (tracked fact or watched page)
    REFINEMENT = "refinement"  # a finer statement of the same date (not alerted)
    CONFLICT = "conflict"  # a report repeating an older value (a stale copy)


class ChangeStatus(StrEnum):
    """Whether a change is news yet (see :func:`crawler.changes.rules.confirmed`)."""

    CONFIRMED = "confirmed"
    UNCONFIRMED = "unconfirmed"


#: change types that set a tracker's value
ACCEPTED = (ChangeType.BASELINE, ChangeType.CHANGE, ChangeType.REVISION, ChangeType.REFINEMENT)
#: change types that replace a tracker's value (refinements make it finer instead)
SETS_VALUE = (ChangeType.BASELINE, ChangeType.CHANGE, ChangeType.REVISION)
#: change types that alert (conflicts only when configured)
ALERTED = (ChangeType.CHANGE, ChangeType.REVISION)
#: figure forms that never move a tracker: they cannot contradict a stated figure
NOT_COMPARABLE = ("vague", "relative")
#: the kind of a change that is a revision of a watched page's text (no tracker)
TEXT_KIND = "text"


@dataclass(frozen=True)
class FactRecord:
    """A stored fact with what the change rules need of its report."""

    id: int
    version_id: int
    doc: int
    story: str | None
    tracker: str | None
    kind: str
    value: str
    display: str
    number: float | None
    low: float | None
    high: float | None
    granularity: str
    start: int
    end: int
    sentence: str
    day: str  # the report's date (YYYY-MM-DD), else the day it was fetched
    url: str
    source: str
    official: bool  # from a source marked official
    attributed: bool  # the sentence attributes the figure to officials
    history: bool  # archived by its source's first crawl: recorded, never alerted

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FactRecord:
        return cls(
            id=row["id"], version_id=row["version_id"], doc=row["doc"], story=row["story"],
            tracker=row["tracker"], kind=row["kind"], value=row["value"],
            display=row["display"], number=row["number"], low=row["low"], high=row["high"],
            granularity=row["granularity"], start=row["start"], end=row["end"],
            sentence=row["sentence"] or "", day=row["day"] or "", url=row["url"],
            source=row["source"], official=bool(row["official"]),
            attributed=bool(row["attributed"]), history=bool(row["history"]),
        )
