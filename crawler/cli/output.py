"""Terminal output, the one place commands print web text through.

Rich tables on a terminal, plain tab-separated text when piped; either way every piece of
web text passes :func:`cell`, so a page cannot send escape sequences to the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

# Control characters (escape sequences, tabs, newlines) from web text must not reach a
# terminal or break a TSV row.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def cell(value: Any) -> str:
    """One table cell as safe single-line text."""
    return "" if value is None else _CONTROL.sub(" ", str(value))


@dataclass(frozen=True)
class Column:
    """How a column behaves on a terminal that is too narrow for the whole table.

    ``drop``: columns are left out in this order (1 first, then 2, ...) until the table
    fits; 0 never (an id that ``show`` accepts). ``wrap``: the column (a sentence) takes
    the width left and wraps over lines instead of being cut, down to ``min_width``.
    ``max_width``: longer values are cut with an ellipsis. Piped output shows every column
    in full, as TSV.
    """

    header: str
    drop: int = 0
    wrap: bool = False
    max_width: int | None = None
    min_width: int = 24  # a wrapped column's narrowest


def table(headers: Sequence[str | Column], rows: Sequence[Sequence[Any]],
          title: str | None = None) -> None:
    """Print rows as a table that fits the terminal, or as TSV when not a TTY.

    Cells may be rich ``Text`` built by the output layer (e.g. highlighted hits); any
    other value is sanitised with :func:`cell`.
    """
    columns = [h if isinstance(h, Column) else Column(h) for h in headers]
    if not is_terminal():
        click.echo("\t".join(c.header for c in columns))
        for row in rows:
            click.echo("\t".join(cell(v) for v in row))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    texts = [[v if isinstance(v, Text) else Text(cell(v)) for v in row] for row in rows]
    kept = fit_columns(columns, texts, out.width)
    widths = column_widths(columns, texts, kept, out.width)
    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              header_style="bold")
    for i in kept:
        c = columns[i]
        if c.wrap:
            t.add_column(c.header, overflow="fold", width=widths[i])
        else:
            t.add_column(c.header, no_wrap=True, overflow="ellipsis", width=widths[i])
    for row in texts:
        t.add_row(*(row[i] for i in kept))
    out.print(t)


def _widest(columns: Sequence[Column], rows: Sequence[Sequence[Any]], i: int) -> int:
    from rich.cells import cell_len

    return max([cell_len(columns[i].header)] + [
        v.cell_len if hasattr(v, "cell_len") else cell_len(str(v)) for v in
        (row[i] for row in rows)])


def _narrowest(columns: Sequence[Column], rows: Sequence[Sequence[Any]], i: int) -> int:
    c, wide = columns[i], _widest(columns, rows, i)
    if c.wrap:
        return min(wide, c.min_width)
    return min(wide, c.max_width) if c.max_width else wide


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int
                ) -> list[int]:
    """The indexes of the columns to show in ``width`` terminal cells (in their order)."""
    kept = list(range(len(columns)))
    widths = {i: _narrowest(columns, rows, i) for i in kept}
    droppable = sorted((c.drop, -i) for i, c in enumerate(columns) if c.drop)
    # between two columns: a cell of padding either side and one of separator
    while sum(widths[i] for i in kept) + 3 * (len(kept) - 1) > width and droppable:
        _, minus_i = droppable.pop(0)
        kept.remove(-minus_i)
    return kept


def column_widths(columns: Sequence[Column], rows: Sequence[Sequence[Any]],
                  kept: Sequence[int], width: int) -> dict[int, int]:
    """Each kept column's width: its content's (cut at ``max_width``); the wrapped columns
    share what is left, the narrowest content first."""
    widths = {i: _narrowest(columns, rows, i) for i in kept if not columns[i].wrap}
    left = width - sum(widths.values()) - 3 * (len(kept) - 1)
    wrapped = sorted((i for i in kept if columns[i].wrap),
                     key=lambda i: _widest(columns, rows, i))
    least = {i: _narrowest(columns, rows, i) for i in wrapped}
    extra = left - sum(least.values())
    for n, i in enumerate(wrapped):
        add = min(_widest(columns, rows, i) - least[i], max(0, extra) // (len(wrapped) - n))
        widths[i] = least[i] + add
        extra -= add
    return widths


def console() -> Any:
    """A rich console that does not guess highlighting in web text."""
    from rich.console import Console

    return Console(highlight=False)


def highlighted(snippet: str, start: str, end: str) -> Any:
    """A rich Text of a search snippet, the hits (between ``start`` and ``end``) in bold."""
    from rich.text import Text

    text = Text()
    for i, piece in enumerate(re.split(f"[{re.escape(start)}{re.escape(end)}]", snippet)):
        text.append(cell(piece), style="bold yellow" if i % 2 else "")
    return text


def rich_diff(ops: Sequence[tuple[str, str]]) -> Any:
    """A word diff as rich Text: deletions struck through in red, insertions in green."""
    from rich.text import Text

    text = Text()
    for op, piece in ops:
        style = {"delete": "red strike", "insert": "green bold"}.get(op, "")
        text.append(_CONTROL_KEEP_LINES.sub("", piece), style=style)
    return text


# A diff keeps its line breaks; every other control character goes.
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]+")


def is_terminal() -> bool:
    """Whether standard output is a terminal (tables) rather than a pipe (TSV)."""
    return sys.stdout.isatty()
