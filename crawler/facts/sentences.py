"""Split article text into sentences that never cross a block (title, byline, paragraph)."""

from __future__ import annotations

import re

_ABBREV = set(
    "mr mrs ms dr gen lt col maj capt sgt adm gov sen rep rev st jr sr prof no vs inc corp co "
    "ltd jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur fri sat sun "
    "approx est fig al mt ft".split()
)
# a sentence may begin with a capital or a digit ("2,500 troops remain.")
_BOUNDARY_RE = re.compile(r"[.!?]+[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[tuple[int, int, int]]:
    """Split text into sentences: ``(start, end, paragraph_index)`` offsets into ``text``.

    Paragraphs are separated by newlines. A period after a known abbreviation ("Gen.",
    "Sept.") or an initialism ("U.S.", "D.C.") does not end a sentence.
    """
    out: list[tuple[int, int, int]] = []
    for para_idx, para in enumerate(re.finditer(r"[^\n]+", text)):
        p_start = para.start()
        chunk = para.group()
        cur = 0
        for m in _BOUNDARY_RE.finditer(chunk):
            if chunk[m.start()] == ".":
                word = re.search(r"(\S*)$", chunk[: m.start()]).group(1)  # type: ignore[union-attr]
                bare = word.lstrip("(\"“'").lower()
                if bare in _ABBREV or re.fullmatch(r"(?:[a-z]\.)*[a-z]", bare):
                    continue
            _add_span(out, chunk, p_start, cur, m.end(), para_idx)
            cur = m.end()
        _add_span(out, chunk, p_start, cur, len(chunk), para_idx)
    return out


def _add_span(
    out: list[tuple[int, int, int]], chunk: str, base: int, a: int, b: int, para: int
) -> None:
    seg = chunk[a:b]
    stripped = seg.strip()
    if stripped:
        lead = len(seg) - len(seg.lstrip())
        out.append((base + a + lead, base + a + lead + len(stripped), para))


