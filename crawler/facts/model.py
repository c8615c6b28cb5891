"""What a fact is: a figure or a date with its subject, as plain frozen data.

A fact is ``(kind, value, qualifier, raw span, sentence)`` plus its subject read from the
sentence's grammar (role, actor, place, event, tense; see :mod:`crawler.facts.subjects`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crawler.facts.vocabulary import APPROX as _APPROX
from crawler.facts.vocabulary import INCLUSIVE as _INCLUSIVE


class Kind(StrEnum):
    """What a fact states."""

    TROOPS = "troops"  # personnel figures
    MEMBERS = "members"  # coalition members / contributing nations
    TIMELINE = "timeline"  # dates a withdrawal, mission or presence starts or ends


KINDS = tuple(k.value for k in Kind)
_MONTH_ABBR = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class Role(StrEnum):
    """What a count is in its sentence."""

    CURRENT = "current"  # the level now (or the level a drawdown under way brings it to)
    PLANNED = "planned"  # a target level for a later date
    HISTORICAL = "historical"  # a level at an earlier time
    MOVED = "moved"  # a flow (troops sent or withdrawn), never a level
    RELATIVE = "relative"  # a change ("20 percent", "500 more than"), never a level


class Actor(StrEnum):
    """Whose personnel or members a count is."""

    US = "us"
    COALITION = "coalition"
    OTHER = "other"  # other nations' troops
    MILITANTS = "militants"
    UNKNOWN = "unknown"


class Event(StrEnum):
    """What a date is the date of."""

    START = "start"  # a withdrawal, a phase or a mission begins
    PHASE_END = "phase-end"  # the end of a first phase / the mission in the main territory
    FINAL = "final"  # the end of the remaining presence / last phase / final withdrawal
    ELSEWHERE = "elsewhere"  # a mission continuing elsewhere (support to another country)
    END = "end"  # an end no phase is named for ("the mission will end by ...")
    NONE = ""  # not a timeline fact


class Tense(StrEnum):
    PAST = "past"
    PRESENT = "present"
    FUTURE = "future"


@dataclass(frozen=True)
class Fact:
    """One statement of a troop figure, a member count or a mission date."""

    kind: str
    value: str
    low: float | None
    high: float | None
    number: float | None
    granularity: str
    qualifier: str
    raw: str
    start: int
    end: int
    sentence: str
    tracker: str | None = None
    # the subject, read from the sentence (crawler.facts.subjects)
    role: str = ""  # a Role for counts; "" for dates
    actor: str = ""  # an Actor
    place: str = ""  # a place key ("iraq/kurdistan/erbil"); "" when unknown
    event: str = ""  # an Event for dates
    tense: str = ""  # a Tense
    attributed: bool = False  # the sentence attributes the figure to officials

    @property
    def low_open(self) -> bool:
        """True when ``low`` itself is excluded ("more than 80" means > 80)."""
        return self.granularity == "lower" and self.qualifier not in _INCLUSIVE

    @property
    def high_open(self) -> bool:
        """True when ``high`` itself is excluded ("fewer than 2,000" means < 2000)."""
        return self.granularity == "upper" and self.qualifier not in _INCLUSIVE

    def display(self) -> str:
        """Short human form for alert subjects: "~2,500", "<2,000", "Sep 2025"."""
        if self.kind == "timeline":
            parts = self.value.split("-")
            if len(parts) == 1:
                return parts[0]
            month = _MONTH_ABBR[int(parts[1]) - 1]
            return (
                f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"
            )
        if self.granularity == "vague":
            return self.value
        if self.granularity == "range":
            return f"{_fmt(self.low)}–{_fmt(self.high)}"
        if self.granularity == "relative":
            return ("~" if self.qualifier in _APPROX else "") + self.value
        figure = _fmt(self.number)
        if self.granularity == "approx":
            return "~" + figure
        if self.granularity == "upper":
            return ("<" if self.high_open else "≤") + figure
        if self.granularity == "lower":
            return (">" if self.low_open else "≥") + figure
        return figure


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def _norm(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


