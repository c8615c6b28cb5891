"""Terminal output, the one place commands print web text through.

Rich tables on a terminal, plain tab-separated text when piped; either way every piece of
web text passes :func:`cell`, so a page cannot send escape sequences to the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import click

# Control characters (escape sequences, tabs, newlines) from web text must not reach a
# terminal or break a TSV row.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def cell(value: Any) -> str:
    """One table cell as safe single-line text."""
    return "" if value is None else _CONTROL.sub(" ", str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Print rows as a table that fits the terminal, or as TSV when not a TTY."""
    if not sys.stdout.isatty():
        click.echo("\t".join(headers))
        for row in rows:
            click.echo("\t".join(cell(v) for v in row))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False)
    for row in rows:
        t.add_row(*(escape(cell(v)) for v in row))
    Console().print(t)


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


def rich_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
               title: str | None = None) -> None:
    """A rich table whose cells may be rich Text built here; plain values are sanitised."""
    from rich.table import Table
    from rich.text import Text

    t = Table(*headers, title=title)
    for row in rows:
        t.add_row(*(v if isinstance(v, Text) else Text(cell(v)) for v in row))
    console().print(t)


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
