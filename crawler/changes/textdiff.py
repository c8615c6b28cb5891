"""Word-level diffs of two texts (article revisions), with whitespace kept.

``word_diff`` returns ops ``(op, text)`` with op "equal", "insert" or "delete";
joining the equal and insert texts gives the new text back, joining the equal
and delete texts gives the old one. ``changed_passage`` trims long unchanged
runs so only the changed passages and a little context remain (for `show
--diff` and the evidence in revision alerts).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

Op = tuple[str, str]

_TOKEN_RE = re.compile(r"\s+|\S+")
ELLIPSIS = "…"


def tokens(text: str) -> list[str]:
    """Split ``text`` into alternating runs of non-space (words) and whitespace."""
    return _TOKEN_RE.findall(text)


def word_diff(old: str, new: str) -> list[Op]:
    """The word-level edit from ``old`` to ``new`` as ("equal"|"insert"|"delete", text) ops.

    Within each changed stretch the deletion comes before the insertion, adjacent ops
    of one kind are merged, and a bare space between two changes is folded into them,
    so "a b c" -> "x y z" is one deletion and one insertion, not five pieces.
    """
    a, b = tokens(old), tokens(new)
    # autojunk would treat frequent tokens (spaces, "the") in long texts as junk
    # and produce needlessly large diffs.
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    raw: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            raw.append(("equal", "".join(b[j1:j2])))
            continue
        if tag in ("delete", "replace"):
            raw.append(("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            raw.append(("insert", "".join(b[j1:j2])))
    ops: list[Op] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for i, (op, text) in enumerate(raw):
        between_changes = 0 < i < len(raw) - 1 and raw[i + 1][0] != "equal"
        if op == "equal" and not (between_changes and text.isspace() and (deleted or inserted)):
            _flush(ops, deleted, inserted)
            ops.append((op, text))
        elif op == "equal":  # a lone space between two changes belongs to both sides
            deleted.append(text)
            inserted.append(text)
        elif op == "delete":
            deleted.append(text)
        else:
            inserted.append(text)
    _flush(ops, deleted, inserted)
    return ops


def _flush(ops: list[Op], deleted: list[str], inserted: list[str]) -> None:
    if deleted:
        ops.append(("delete", "".join(deleted)))
    if inserted:
        ops.append(("insert", "".join(inserted)))
    deleted.clear()
    inserted.clear()


def apply_ops(ops: list[Op], side: str = "new") -> str:
    """The new (``side="new"``) or old (``side="old"``) text an op list describes."""
    skip = "delete" if side == "new" else "insert"
    return "".join(text for op, text in ops if op != skip)


def changed_passage(ops: list[Op], context_words: int = 12) -> list[Op]:
    """``ops`` with unchanged runs cut to ``context_words`` words around each change.

    A cut is marked with "…". Returns [] when nothing changed. The result is for
    display; it no longer reconstructs the texts.
    """
    if all(op == "equal" for op, _ in ops):
        return []
    n = context_words
    out: list[Op] = []
    for i, (op, text) in enumerate(ops):
        if op != "equal":
            out.append((op, text))
            continue
        words = text.split()
        first, last = i == 0, i == len(ops) - 1
        if first and len(words) > n:
            text = f"{ELLIPSIS} {_tail(text, n)}" if n else ""
        elif last and len(words) > n:
            text = f"{_head(text, n)} {ELLIPSIS}" if n else ""
        elif not first and not last and len(words) > 2 * n:
            text = f"{_head(text, n)} {ELLIPSIS} {_tail(text, n)}" if n else f" {ELLIPSIS} "
        if text:
            out.append(("equal", text))
    return out


def _head(text: str, n: int) -> str:
    """The first ``n`` words of ``text`` with the whitespace before and between them."""
    m = re.match(rf"\s*(?:\S+\s+){{{n - 1}}}\S+", text)
    return m.group(0) if m else text


def _tail(text: str, n: int) -> str:
    """The last ``n`` words of ``text`` with the whitespace between and after them."""
    m = re.search(rf"\S+(?:\s+\S+){{{n - 1}}}\s*$", text)
    return m.group(0) if m else text


def render_plain(ops: list[Op]) -> str:
    """Ops as text with deletions as [-old-] and insertions as {+new+} (wdiff style)."""
    parts = []
    for op, text in ops:
        if op == "delete":
            parts.append(f"[-{text}-]")
        elif op == "insert":
            parts.append(f"{{+{text}+}}")
        else:
            parts.append(text)
    return "".join(parts)
