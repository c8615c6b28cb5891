"""What an analyst asks of the archive: `newswatch trackers` and `newswatch report --html`.

Each tracker's current value is the one change detection confirmed (not the latest
report), with when it took it, how many independent sources state it, whether an
official voice does, and what waits beside it: unconfirmed changes and stale copies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.cli import output
from crawler.cli.main import State, cli, emit_json, json_option, library_errors, pass_state
from crawler.cli.names import open_checked
from crawler.cli.output import Column, table

if TYPE_CHECKING:  # imported when a command runs: other commands start without them
    from crawler.archive.analyst import Timeline


def load_timelines(state: State, story: str | None, tracker: str | None) -> list[Timeline]:
    """The timelines of the configured trackers (config order), then of trackers only the
    archive knows; only ``story``'s or only ``tracker`` when given (names checked)."""
    from crawler.archive.analyst import timeline_trackers, tracker_timeline
    config = state.config
    archive = open_checked(config, story=story, tracker=tracker)
    try:
        names = [t.name for s in config.stories if story in (None, s.name) for t in s.trackers]
        names += [n for n in timeline_trackers(archive.db) if n not in config.trackers]
        timelines = [tracker_timeline(archive.db, n) for n in names if tracker in (None, n)]
    finally:
        archive.close()
    configured = config.trackers
    return [t for t in timelines
            if story is None or t.story == story or t.tracker in configured]


def _held(items: list[Any], noun: str) -> str:
    return "; ".join(f"{h.display} ({h.voices} {noun}{'s' if h.voices != 1 else ''}, "
                     f"since {h.since})" for h in items)


@cli.command()
@click.option("--story", help="Only this story's trackers.")
@click.option("--tracker", help="Only this tracker.")
@json_option
@pass_state
@library_errors
def trackers(state: State, story: str | None, tracker: str | None, as_json: bool) -> None:
    """Each tracker's current value, since when, and how sure we are.

    The value is the one change detection confirmed. SOURCES counts independent voices
    stating it (syndicated copies count once); OFFICIAL says whether an official source
    states it (yes) or a sentence attributes it to officials (attributed). PENDING lists
    changes waiting for confirmation, CONFLICTS stale copies of older values since it.
    """
    timelines = load_timelines(state, story, tracker)
    labels = {name: t.title for name, t in state.config.trackers.items()}
    if as_json:
        emit_json({**t.summary(), "label": labels.get(t.tracker, t.tracker)}
                  for t in timelines)
        return
    if not timelines:
        click.echo("no trackers configured or archived", err=True)
        return
    rows = []
    for t in timelines:
        cur = t.current
        rows.append([t.tracker, labels.get(t.tracker, t.tracker),
                     cur.display if cur else "(no value yet)", cur.since if cur else "",
                     t.voices if cur else "", t.official if cur else "",
                     _held(t.pending, "source"), _held(t.conflicts, "source")])
    if not output.is_terminal():
        table(["tracker", "label", "value", "since", "sources", "official", "pending",
               "conflicts"], rows)
        return
    # value, since and how sure first; what waits beside it as room allows
    table([Column("tracker"), Column("label", drop=1, max_width=30), Column("value"),
           Column("since", drop=5), Column("sources", drop=6), Column("official", drop=4),
           Column("pending", drop=3, wrap=True, min_width=16),
           Column("conflicts", drop=2, wrap=True, min_width=16)], rows)


@cli.command()
@click.option("--html", "html_file", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
              help="Write one self-contained HTML file (charts inline, no network; - for "
                   "stdout).")
@click.option("--story", help="Only this story's trackers.")
@click.option("--tracker", help="Only this tracker.")
@pass_state
@library_errors
def report(state: State, html_file: Path, story: str | None, tracker: str | None) -> None:
    """Write the trackers' report: current values, timeline charts, the evidence.

    One HTML file with no external resources (charts are inline SVG), to attach to an
    email: per tracker its current value and how sure we are, a chart of every source's
    statements over time with the value as a step line, changes and stale copies marked,
    and the statements with their sentences and links.
    """
    from crawler.report import report_html

    timelines = load_timelines(state, story, tracker)
    labels = {name: t.title for name, t in state.config.trackers.items()}
    page = report_html(timelines, labels, archive=state.config.archive.name)
    if str(html_file) == "-":
        click.echo(page, nl=False)
        return
    html_file.write_text(page, encoding="utf-8")
    click.echo(f"wrote {html_file} ({len(timelines)} tracker"
               f"{'s' if len(timelines) != 1 else ''})", err=True)
