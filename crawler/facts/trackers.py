"""Assign extracted facts to a story's trackers.

A tracker follows one subject. It claims a fact whose subject (read from the fact's own
sentence: role, actor, place, event) is the one it follows; ``about``/``not_about`` words
and timeline ``cues`` refine that by word distance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import replace
from typing import Protocol

from crawler.facts.model import Fact
from crawler.facts.places import place_matches, place_path
from crawler.facts.sentences import split_sentences


class TrackerLike(Protocol):
    """What :func:`assign_trackers` reads from a tracker; ``crawler.config.model.Tracker`` fits.

    A protocol rather than an import keeps this module independent of the config loader.
    """

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def about(self) -> tuple[str, ...]: ...
    @property
    def not_about(self) -> tuple[str, ...]: ...
    @property
    def cues(self) -> tuple[str, ...]: ...
    @property
    def role(self) -> str | None: ...
    @property
    def actors(self) -> tuple[str, ...]: ...
    @property
    def place(self) -> str | None: ...
    @property
    def within(self) -> bool: ...
    @property
    def events(self) -> tuple[str, ...]: ...


def subject_matches(tracker: TrackerLike, fact: Fact) -> bool:
    """Whether the fact's subject is the one the tracker follows.

    Counts: the tracker's role (a planned level never moves the current one) and one of its
    actors. Dates: one of its events (phase 1's end never moves the final withdrawal).
    Both: its place — exactly, or inside it with ``within`` (a base's figure never moves
    the country's level unless asked).
    """
    if tracker.kind != fact.kind:
        return False
    if fact.kind != "timeline":
        if tracker.role and fact.role != tracker.role:
            return False
        if tracker.actors and fact.actor not in tracker.actors:
            return False
    elif tracker.events and fact.event not in tracker.events:
        return False
    if tracker.place:
        return place_matches(place_path(tracker.place), place_path(fact.place),
                             within=tracker.within)
    return True


def _word_re(words: Sequence[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alts = "|".join(re.escape(w.strip()).replace(r"\ ", r"\s+") for w in words if w.strip())
    return re.compile(rf"(?i)(?<!\w)(?:{alts})(?!\w)") if alts else None


def _stem(word: str) -> str:
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


_EVENT_STEMS = frozenset(
    "end conclud until through begin began start commenc launch clos finish complet expir "
    "withdraw leav depart exit vacat continu run last from".split()
)
_CLAUSE_SPLIT_RE = re.compile(r"[,;:—()]|\s(?:and|but|while|whereas|with)\s")


def _cue_ok(tracker: TrackerLike, fact: Fact, text: str, sent_start: int) -> bool:
    """Does a tracker cue appear in the date's own clause (or its sentence if verbless)?"""
    if not tracker.cues:
        return True
    cues = {_stem(c) for c in tracker.cues}

    def has(stems: list[str], wanted: Set[str]) -> bool:
        return any(st == c or (len(c) >= 6 and st.startswith(c)) for st in stems for c in wanted)

    before = text[sent_start : fact.start]
    pieces = _CLAUSE_SPLIT_RE.split(before)
    clause = pieces[-1] + fact.raw + _CLAUSE_SPLIT_RE.split(text[fact.end : fact.end + 80])[0]
    stems = [_stem(w) for w in re.findall(r"[A-Za-z]+", clause)]
    if has(stems, cues):
        return True
    if has(stems, _EVENT_STEMS - {"until", "through", "from"}):
        return False  # the clause names another event ("begins now and will end in ...")
    whole = [_stem(w) for w in re.findall(r"[A-Za-z]+", before + fact.raw)]
    return has(whole, cues)


_PLACE_TAIL_RE = re.compile(
    r"\s+(?:(?:stationed|based|deployed|remaining|still)\s+)?(?:in|at|inside|across|from)\s+"
    r"(?:the\s+)?(?:[a-z]+\s+){0,2}?(?:[A-Z][\w’'-]*\s?){1,3}"
)


def _about_decision(
    tracker: TrackerLike, fact: Fact, text: str, sents: list[tuple[int, int, int]], idx: int
) -> bool:
    about, not_about = _word_re(tracker.about), _word_re(tracker.not_about)
    if about is None and not_about is None:
        return True
    s_start, s_end, para = sents[idx]
    tail = _PLACE_TAIL_RE.match(text, fact.end, s_end)
    lo, hi = fact.start, (tail.end() if tail else fact.end)

    def nearest(rx: re.Pattern[str] | None, a: int, b: int) -> float:
        if rx is None:
            return float("inf")
        return min(
            (max(lo - m.end(), m.start() - hi, 0) for m in rx.finditer(text, a, b)),
            default=float("inf"),
        )

    d_about, d_not = nearest(about, s_start, s_end), nearest(not_about, s_start, s_end)
    if d_about < float("inf") or d_not < float("inf"):
        return d_about <= d_not if about is not None else d_not == float("inf")
    if about is None:
        return True
    # not in the sentence: the closest earlier sentence of the paragraph that names either
    for j in range(idx - 1, -1, -1):
        a, b, p = sents[j]
        if p != para:
            break
        hit_a = about.search(text, a, b)
        hit_n = not_about.search(text, a, b) if not_about else None
        if hit_a or hit_n:
            return bool(hit_a) and not hit_n
    lede = [x for x in sents[:2] if x[2] == sents[0][2]]
    return any(about.search(text, a, b) for a, b, _ in lede)


def assign_trackers(facts: list[Fact], text: str, trackers: Sequence[TrackerLike]) -> list[Fact]:
    """Return ``facts`` with ``tracker`` set to the first tracker that claims each, else None.

    A tracker claims a fact when the fact's subject is the tracker's
    (:func:`subject_matches`), one of its ``about`` words is near the fact (same sentence,
    else an earlier sentence of the paragraph, else the title/lede) and no ``not_about``
    word is closer; timeline trackers also need one of their ``cues`` in the date's
    clause. Empty ``about`` or ``cues`` match anything.
    """
    sents = split_sentences(text)
    out: list[Fact] = []
    for fact in facts:
        idx = next((i for i, (a, b, _) in enumerate(sents) if a <= fact.start < b), None)
        claimed = None
        if idx is not None:
            for tracker in trackers:
                if not subject_matches(tracker, fact):
                    continue
                if not _about_decision(tracker, fact, text, sents, idx):
                    continue
                if fact.kind == "timeline" and not _cue_ok(tracker, fact, text, sents[idx][0]):
                    continue
                claimed = tracker.name
                break
        out.append(replace(fact, tracker=claimed))
    return out

