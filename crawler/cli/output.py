"""Terminal output: rich tables on a terminal, plain tab-separated text when piped."""

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
