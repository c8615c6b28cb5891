"""The pure rules of change detection: same value, stale copy, confirmation.

No I/O: every function takes facts (:class:`~crawler.changes.records.FactRecord`) and
settings, and answers a question about them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date, timedelta
from urllib.parse import urlsplit

from crawler.changes.records import FactRecord
from crawler.config.model import ConfirmConfig


def _direction(granularity: str) -> str:
    return granularity if granularity in ("upper", "lower", "range") else "point"


def _close(x: float | None, y: float | None, tolerance: float) -> bool:
    if x is None or y is None:
        return x is y
    if x == y:
        return True
    return abs(x - y) / max(abs(x), abs(y)) <= tolerance


def _overlap(a: FactRecord, b: FactRecord) -> bool:
    inf = float("inf")
    a_low, a_high = a.low or 0.0, inf if a.high is None else a.high
    b_low, b_high = b.low or 0.0, inf if b.high is None else b.high
    return a_low < b_high and b_low < a_high


def _compatible(a: FactRecord, b: FactRecord, tolerance: float) -> bool:
    """Figures of different forms (``a`` the newer): the same news when they overlap and,
    for a new estimate against a known bound, the estimate is near the bound ("about 1,900"
    after "fewer than 2,000"; not "about 300"). A new bound that holds the known estimate
    ("fewer than 5,000" after "about 2,500") is true of it: no news."""
    if not _overlap(a, b):
        return False
    if _direction(a.granularity) in ("upper", "lower") and _direction(b.granularity) == "point":
        return True  # a new, looser bound that holds the known estimate: no news
    point = next((f for f in (a, b) if _direction(f.granularity) == "point"), None)
    bound = next((f for f in (a, b) if _direction(f.granularity) in ("upper", "lower")), None)
    if point is None or bound is None:
        return True  # a range against a figure inside it, or two bounds that overlap
    return _close(point.number, bound.number, 2 * tolerance)


def same_value(a: FactRecord, b: FactRecord, tolerance: float) -> bool:
    """Whether two facts of one kind state the same value (re-wording is not a change).

    Figures of one form (two estimates, two upper bounds, two ranges) are the same
    when they are within the tolerance, so a moved bound is a change. Figures of
    different forms ("about 1,900" and "fewer than 2,000") are the same when their
    intervals overlap: they are compatible statements, not news. Dates compare at the
    granularity both share ("2026" does not contradict "2026-09").
    """
    if a.kind == "timeline":
        shared = min(len(a.value), len(b.value))
        return a.value[:shared] == b.value[:shared]
    if _direction(a.granularity) != _direction(b.granularity):
        return _compatible(a, b, tolerance)
    if a.granularity == "range":
        return _close(a.low, b.low, tolerance) and _close(a.high, b.high, tolerance)
    return _close(a.number, b.number, tolerance)


def repeats(fact: FactRecord, old: FactRecord, tolerance: float) -> bool:
    """Whether a fact restates an older value in the same form (a stale copy)."""
    if fact.kind == "timeline":
        return fact.value == old.value
    return _direction(fact.granularity) == _direction(old.granularity) and same_value(
        fact, old, tolerance)


def finer(a: FactRecord, b: FactRecord) -> bool:
    """A date stated more precisely than another ("2026-09" than "2026")."""
    return a.kind == "timeline" and len(a.value) > len(b.value)


def replaced(fact: FactRecord, before: Sequence[FactRecord]) -> FactRecord:
    """Which fact of the previous version a revised fact replaces.

    The same kind of figure (an upper bound for an upper bound) first, then the
    most similar sentence, then the nearest position in the text.
    """
    return max(before, key=lambda b: (
        _direction(b.granularity) == _direction(fact.granularity),
        round(difflib.SequenceMatcher(None, b.sentence, fact.sentence).ratio(), 2),
        -abs(b.start - fact.start),
    ))


# ---------------------------------------------------------------- confirmation

_WORDS_RE = re.compile(r"[a-z0-9]+")


def _voice_key(fact: FactRecord) -> str:
    """A sentence reduced to its words: syndicated copies of one text share it."""
    return " ".join(_WORDS_RE.findall(fact.sentence.lower()))


def outlet(url: str) -> str:
    """The outlet a report comes from: the domain its URL was registered under.

    ``edition.cnn.com`` and ``www.cnn.com`` are one outlet; so are ``bbc.co.uk`` hosts (a
    two-letter country domain under a short second level). A feed may carry many outlets,
    so the config source is not the outlet.
    """
    host = (urlsplit(url).hostname or url).lower().rstrip(".")
    if host.replace(".", "").isdigit() or ":" in host:
        return host  # an IP address is its own outlet
    labels = host.split(".")
    if len(labels) > 2 and len(labels[-1]) == 2 and len(labels[-2]) <= 3:
        return ".".join(labels[-3:])  # news.bbc.co.uk -> bbc.co.uk
    return ".".join(labels[-2:])


def same_voice(a: FactRecord, b: FactRecord) -> bool:
    """Whether two statements are one voice: one document, one outlet, or one text.

    Reprints and syndicated copies of a wire story repeat its sentence word for word
    under another outlet's name; they are not independent confirmation.
    """
    return a.doc == b.doc or outlet(a.url) == outlet(b.url) or _voice_key(a) == _voice_key(b)


def voices(facts: Sequence[FactRecord]) -> int:
    """How many independent voices state something among ``facts``."""
    distinct: list[FactRecord] = []
    for f in facts:
        if not any(same_voice(f, d) for d in distinct):
            distinct.append(f)
    return len(distinct)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def within(a: FactRecord, b: FactRecord, window: timedelta) -> bool:
    """Whether two reports are within ``window`` of each other, by report date."""
    da, db = _day(a.day), _day(b.day)
    return da is not None and db is not None and abs(da - db) <= window


def implausible_jump(new: FactRecord, current: FactRecord, max_jump: float) -> bool:
    """A count moving by more than ``max_jump`` times (either way) needs corroboration."""
    if new.kind == "timeline" or not new.number or not current.number:
        return False
    ratio = new.number / current.number
    return ratio > max_jump or ratio < 1 / max_jump


def confirmed(statements: Sequence[FactRecord], current: FactRecord | None,
              rule: ConfirmConfig) -> bool:
    """Whether the statements of one new value make it news (the confirmation rule).

    - an official voice — a source marked ``official``, or a sentence attributing the
      figure to officials ("a senior defense official said") — confirms on its own,
      unless the figure jumps by more than ``max_jump`` times from the current one;
    - otherwise ``voices`` independent voices must state it within ``window`` of report
      dates (syndicated copies count once).
    """
    if voices(statements) >= rule.voices:
        return True
    official = any(s.official or s.attributed for s in statements)
    jump = current is not None and implausible_jump(statements[0], current, rule.max_jump)
    return official and not jump
