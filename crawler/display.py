"""Terminal output: rich tables on a terminal, plain tab-separated text when piped."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Print rows as a table that fits the terminal, or as TSV when not a TTY."""
    if not sys.stdout.isatty():
        click.echo("\t".join(headers))
        for row in rows:
            click.echo("\t".join("" if v is None else str(v).replace("\n", " ") for v in row))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False)
    for row in rows:
        t.add_row(*("" if v is None else escape(str(v)) for v in row))
    Console().print(t)
