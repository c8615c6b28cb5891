"""Numbers as news text writes them: "2,500", "2.5k", "2 500", "two thousand five hundred".

Used by the fact extractor (``crawler/facts.py``): the patterns that find number
mentions, vague counts ("hundreds", "dozens") and :func:`parse_number`.
"""

from __future__ import annotations

import re

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "dozen"], key=len, reverse=True))
_WORD_NUM = (
    rf"(?:a\s+(?=(?:hundred|thousand|dozen)\b))?(?:{_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_WORD}))*"
)
_DIGIT_NUM = (
    r"(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,])|\d+(?:\.\d+)?)"
    r"(?:\s?(?:[kK]|thousand|million)(?![A-Za-z]))?"
)
NUM_RE = re.compile(
    rf"\b(?<![\w$£€.,/])(?<![A-Za-z]-)(?:{_DIGIT_NUM}|(?i:\b{_WORD_NUM}\b))"
    r"(?![\w/]|[.,]\d|-(?!strong|member|nation|country|state)[A-Za-z])"
)
VAGUE_RE = re.compile(
    r"(?i)\b(?:(?P<tens>tens\s+of\s+thousands)|(?P<pl>hundreds|thousands|dozens)|"
    r"(?:several|a\s+few|some)\s+(?P<sg>hundred|thousand|dozen))(?:\s+of)?\b"
)
VAGUE_RANGE = {
    "dozens": (24.0, 99.0),
    "hundreds": (200.0, 999.0),
    "thousands": (2000.0, 9999.0),
    "tens of thousands": (20000.0, 99999.0),
}


def parse_number(text: str) -> float | None:
    """Parse "2,500", "2500", "2 500", "2.5k", "two thousand five hundred" to a number."""
    s = text.strip().lower().replace("\u00a0", " ").replace("\u202f", " ")
    m = re.fullmatch(r"(\d[\d, ]*(?:\.\d+)?)\s?(k|thousand|million)?", s)
    if m:
        digits = m.group(1)
        if "," in digits and not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):
            return None
        if " " in digits and not re.fullmatch(r"\d{1,3}(?: \d{3})+", digits):
            return None
        value = float(digits.replace(",", "").replace(" ", ""))
        scale = {"k": 1000, "thousand": 1000, "million": 1_000_000}.get(m.group(2) or "", 1)
        return value * scale
    words = [w for w in re.split(r"[\s-]+", s) if w and w != "and"]
    if not words:
        return None
    total = current = 0
    last = ""
    for w in words:
        if w == "a" and last == "":
            current, last = 1, "unit"
        elif w in _UNITS:
            if last in ("unit", "teen") or (last == "tens" and _UNITS[w] >= 10):
                return None
            current += _UNITS[w]
            last = "teen" if _UNITS[w] >= 10 else "unit"
        elif w in _TENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += _TENS[w]
            last = "tens"
        elif w == "dozen":
            current, last = max(current, 1) * 12, "scale"
        elif w == "hundred":
            if current >= 100:
                return None
            current, last = max(current, 1) * 100, "scale"
        elif w in _SCALES:
            total += max(current, 1) * _SCALES[w]
            current, last = 0, "scale"
        else:
            return None
    return float(total + current)
