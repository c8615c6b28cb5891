"""The place gazetteer: a hierarchy of places (country ⊃ region ⊃ city or base).

A place is a path, most general first: ``("iraq",)``, ``("iraq", "kurdistan")``,
``("iraq", "kurdistan", "erbil")``. Each path has the regex alternatives that name it in
text. The shipped hierarchy covers the region the bundled story is about; trackers name a
place by any of its names ("Iraq", "Kurdistan Region", "Erbil") or by its path
("iraq/kurdistan").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: canonical place path (most general first) -> alternatives naming it, lower-case regex
#: fragments (text is matched lower-cased); deeper paths first
PLACES: dict[tuple[str, ...], str] = {
    ("iraq", "federal"): r"federal iraq",
    ("iraq", "kurdistan", "erbil"): r"erbil|arbil|irbil|hareer|harir",
    ("iraq", "kurdistan"): r"iraqi kurdistan|kurdistan(?: region)?|autonomous kurdish region"
    r"|kurdish (?:autonomous )?region|kri",
    ("iraq", "ain-al-asad"): r"a[iy]n al[- ]asad|al[- ]asad|anbar",
    ("iraq", "baghdad"): r"baghdad|victory base(?: complex)?|camp victory|green zone|union iii"
    r"|biap",
    ("iraq",): r"iraq",  # the trailing \b keeps "Iraqi" (officials, forces) out
    ("syria",): r"syria|al-tanf|tanf",
    ("centcom",): r"centcom|central command|the middle east|the region",
}

_NAME_RES = {path: re.compile(rf"(?i)(?:{alts})") for path, alts in PLACES.items()}


def place_key(path: tuple[str, ...]) -> str:
    """How a place is stored: ``"iraq/kurdistan/erbil"`` ("" when unknown)."""
    return "/".join(path)


def place_path(key: str | None) -> tuple[str, ...]:
    """The inverse of :func:`place_key`."""
    return tuple(key.split("/")) if key else ()


def resolve_place(name: str) -> tuple[str, ...] | None:
    """The path of a place named in config ("Erbil", "Kurdistan Region", "iraq/kurdistan")."""
    text = name.strip()
    path = place_path(text.lower())
    if path in PLACES:
        return path
    for candidate, rx in _NAME_RES.items():
        if rx.fullmatch(text) or candidate[-1] == text.lower():
            return candidate
    return None


def place_of_words(words: Iterable[str]) -> str | None:
    """The most general known place among ``words`` (a round-1 tracker's ``about``)."""
    paths = [p for p in (resolve_place(w) for w in words) if p is not None]
    return place_key(min(paths, key=len)) if paths else None


def place_matches(tracker_place: tuple[str, ...], fact_place: tuple[str, ...], *,
                  within: bool) -> bool:
    """Whether a fact about ``fact_place`` may update a tracker of ``tracker_place``.

    Levels follow one place exactly: a figure for one base or region does not move the
    country's level, nor the reverse. With ``within`` a tracker also takes places inside
    its own (a date for a base in the country belongs to the country's timeline). An
    unknown place never matches a tracker that names one: without evidence the alert
    would be a guess.
    """
    if not tracker_place:
        return True
    if not fact_place:
        return False
    if not within:
        return fact_place == tracker_place
    return fact_place[: len(tracker_place)] == tracker_place
