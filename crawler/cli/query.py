"""Query commands over the archive: search, facts, show, changes, sql, export, browse.

The SQL lives in ``crawler/queries.py``; these commands open the archive
read-only and only format what it returns.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import click

from crawler.archive.queries import (
    CHANGE_TYPES,
    HIT_END,
    HIT_START,
    TABLES,
    SearchSyntaxError,
    document_versions,
    export_rows,
    find_document,
    list_changes,
    list_facts,
    search_documents,
    tracker_history,
)
from crawler.archive.store import Archive
from crawler.cli import output
from crawler.cli.main import (
    State,
    UsageProblem,
    cli,
    emit_json,
    json_option,
    library_errors,
    pass_state,
)
from crawler.cli.names import open_checked
from crawler.cli.output import Column, cell, console, highlighted, rich_diff, table
from crawler.config.model import ConfigError, parse_interval

# ====================================================================== helpers



def _brackets(snippet: str) -> str:
    return snippet.replace(HIT_START, "[").replace(HIT_END, "]")






def _day(value: Any) -> str:
    return str(value)[:10] if value else ""


def _short(text: str | None, width: int = 100) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class SinceType(click.ParamType):
    """A date (YYYY-MM-DD), an ISO timestamp, or an age such as 7d or 12h."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                if len(value) == 10:
                    return value
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return moment.astimezone(UTC).isoformat(timespec="seconds")
            try:
                age = parse_interval(value, "--since")
            except ConfigError:
                pass
            else:
                return (datetime.now(UTC) - age).isoformat(timespec="seconds")
        self.fail(f"{value!r} is not a date (YYYY-MM-DD) or an age such as 7d or 12h",
                  param, ctx)


SINCE = SinceType()


# ====================================================================== search


@cli.command()
@click.argument("query")
@click.option("--source", help="Only documents from this source.")
@click.option("--story", help="Only documents matched to this story.")
@click.option("--since", type=SINCE, help="Only documents published on or after DATE (or 7d).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--order", type=click.Choice(["newest", "rank"]), default="newest",
              show_default=True, help="Newest first, or best match first.")
@json_option
@pass_state
@library_errors
def search(state: State, query: str, source: str | None, story: str | None,
           since: str | None, limit: int, order: str, as_json: bool) -> None:
    """Full-text search of archived reports, with snippets.

    Searches the current text and title of every document, newest first (or
    best match first with --order rank). Words are matched as typed, with
    punctuation ignored; "a phrase", OR, NOT, NEAR(a b), prefix* and title:word work.
    """
    archive = open_checked(state.config, source=source, story=story)
    try:
        rows = search_documents(archive.db, query, source=source, story=story, since=since,
                                limit=limit, order=order)
    except SearchSyntaxError as e:
        raise UsageProblem(
            f"cannot search for {query!r}: {e}. Quote phrases with \"...\"; operators are "
            "AND, OR, NOT, NEAR(a b), prefix*, title:word"
        ) from None
    finally:
        archive.close()
    if as_json:
        emit_json({**r, "snippet": _brackets(r["snippet"])} for r in rows)
        return
    if not rows:
        click.echo(f"no documents match {query!r}", err=True)
        return
    headers = [Column("id"), Column("published", drop=3), Column("source", drop=2, max_width=20),
               Column("title", drop=1, max_width=40), Column("snippet", wrap=True)]
    if output.is_terminal():
        table(headers, [[r["id"], _day(r["published"]), r["source"], r["title"],
                         highlighted(r["snippet"], HIT_START, HIT_END)] for r in rows])
    else:
        table(headers, [[r["id"], _day(r["published"]), r["source"], r["title"],
                         _brackets(r["snippet"])] for r in rows])


# ====================================================================== facts


@cli.group()
def facts() -> None:
    """Extract facts from a text, list them, follow a tracker's history."""


@facts.command("extract")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--date", "published", type=click.DateTime(["%Y-%m-%d"]),
              help="Report date (resolves 'next September'); default today.")
@json_option
@pass_state
def facts_extract(state: State, file: Any, published: datetime | None, as_json: bool) -> None:
    """Print the facts found in a text (FILE or stdin).

    Facts are assigned to the config's trackers when a config file loads, so this
    shows what a tracker would pick up from an article.
    """
    from crawler.facts.extract import extract_facts
    from crawler.facts.trackers import assign_trackers

    text = file.read()
    day = published.date() if published else date.today()
    found = extract_facts(text, day)
    try:
        trackers = list(state.config.trackers.values())
    except UsageProblem as e:
        trackers = []
        if state.config_path:  # asked for this config explicitly: say why it was not used
            click.echo(f"note: facts shown without trackers ({e.message})", err=True)
    if trackers:
        found = assign_trackers(found, text, trackers)
    if as_json:
        emit_json({**asdict(f), "display": f.display()} for f in found)
        return
    if not found:
        click.echo("no facts found", err=True)
        return
    table(["kind", "value", "qualifier", "range", "tracker", "raw", "sentence"],
          [[f.kind, f.display(), f.qualifier, _range(f.low, f.high, f.kind), f.tracker or "",
            f.raw, _short(f.sentence, 120)] for f in found])


def _range(low: float | None, high: float | None, kind: str) -> str:
    if kind == "timeline" or (low is None and high is None):
        return ""
    fmt = lambda x: "" if x is None else f"{x:,.0f}"  # noqa: E731
    return f"{fmt(low)}–{fmt(high) or '∞'}"


@facts.command("history")
@click.argument("tracker")
@json_option
@pass_state
@library_errors
def facts_history(state: State, tracker: str, as_json: bool) -> None:
    """Every value a tracker has had, with changes and stale copies marked.

    The chart follows the tracker's value as change detection set it: it ends at the
    current value; stale copies and unconfirmed changes are listed, not drawn as values.
    """
    from crawler.archive.analyst import tracker_timeline

    configured = state.config.trackers
    archive = open_checked(state.config, tracker=tracker)
    try:
        rows = tracker_history(archive.db, tracker)
        timeline = tracker_timeline(archive.db, tracker)
    finally:
        archive.close()
    status = {s.fact_id: s.status for s in timeline.statements}
    for r in rows:
        r["status"] = status.get(r["id"], "none")
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"tracker {tracker!r} has no facts yet", err=True)
        return
    if not output.is_terminal():
        table(["published", "value", "change", "source", "title", "sentence", "url"],
              [[_day(r["published"]), r["display"], _change_mark(r), r["source"],
                _short(r["title"], 60), _short(r["sentence"], 140), r["url"]] for r in rows])
        return
    label = configured[tracker].title if tracker in configured else tracker
    table([Column("published", drop=2), Column("value"),
           Column("change", drop=3, wrap=True, min_width=12),
           Column("source", drop=1, max_width=20), Column("doc"),
           Column("sentence", wrap=True)],
          [[_day(r["published"]), r["display"], _change_mark(r), r["source"], r["document_id"],
            r["sentence"]] for r in rows], title=f"{label}: {len(rows)} statements")
    _print_timeline(timeline)


def _change_mark(row: dict[str, Any]) -> str:
    mark = ""
    if row["change_type"] == "conflict":
        mark = f"stale copy (conflict; current {row['old_display']})"
    elif row["change_type"]:
        mark = f"{row['change_type']} from {row['old_display']}" if row["old_display"] \
            else row["change_type"]
        if row["status"] == "pending":
            mark += " (unconfirmed)"
    elif row["status"] == "stale":
        mark = "stale copy"
    elif row["status"] == "pending":
        mark = "unconfirmed"
    if not row["current"]:
        mark = (mark + " " if mark else "") + "(revised away)"
    return mark


def _print_timeline(timeline: Any) -> None:
    """One line per value the tracker took, its bar as long as the value held, ending at
    the current value; then changes waiting for confirmation and open stale copies."""
    from rich.text import Text

    steps = timeline.steps
    if not steps:
        return
    end = max(timeline.last_report or "", steps[-1].since)
    days = [_ordinal(s.since) for s in steps] + [_ordinal(end)]
    span = max(days[-1] - days[0], 1)
    out = console()
    width = max(10, min(60, out.width - 60))
    reports = {s.change_id: 0 for s in steps}
    for statement in timeline.statements:
        if statement.change_id in reports:
            reports[statement.change_id] += 1
    out.print(Text("timeline", style="bold"))
    for i, step in enumerate(steps):
        bar = "━" * max(1, round((days[i + 1] - days[i]) / span * width))
        style = {"change": "bold red", "revision": "magenta"}.get(step.type, "cyan")
        line = Text(f"{step.since} ")
        line.append(f"{cell(step.display):>10} ", style=style)
        line.append(bar, style=style)
        n = reports[step.change_id]
        line.append(f" {n} report{'s' if n != 1 else ''}")
        if i == len(steps) - 1:
            line.append(f" (current, {timeline.voices} source"
                        f"{'s' if timeline.voices != 1 else ''})", style="bold")
        out.print(line)
    for held, what, style in [(h, "unconfirmed change", "yellow") for h in timeline.pending] + [
            (h, "stale copy of an older value", "dim") for h in timeline.conflicts]:
        line = Text(f"{held.since} ")
        line.append(f"{cell(held.display):>10} ", style=style)
        line.append(f"╌ {what}: {held.reports} report{'s' if held.reports != 1 else ''}, "
                    f"{held.voices} source{'s' if held.voices != 1 else ''}", style=style)
        out.print(line)


def _ordinal(day: str | None) -> int:
    try:
        return date.fromisoformat(str(day)[:10]).toordinal()
    except ValueError:
        return 0


@facts.command("list")
@click.option("--story", help="Only facts of this story.")
@click.option("--kind", type=click.Choice(["troops", "members", "timeline"]))
@click.option("--tracker", help="Only facts assigned to this tracker.")
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True,
              help="At most N facts (0: all).")
@json_option
@pass_state
@library_errors
def facts_list(state: State, story: str | None, kind: str | None, tracker: str | None,
               limit: int, as_json: bool) -> None:
    """List archived facts, newest report first."""
    archive = open_checked(state.config, story=story, tracker=tracker)
    try:
        rows = list_facts(archive.db, story=story, kind=kind, tracker=tracker, limit=limit)
    finally:
        archive.close()
    if as_json:
        emit_json(rows)
        return
    if not output.is_terminal():
        table(["id", "published", "tracker", "kind", "value", "source", "sentence"],
              [[r["id"], _day(r["published"]), r["tracker"] or "", r["kind"], r["display"],
                r["source"], _short(r["sentence"], 120)] for r in rows])
        return
    table([Column("id", drop=1), Column("published", drop=4), Column("tracker", drop=5),
           Column("kind", drop=2), Column("value"), Column("source", drop=3, max_width=20),
           Column("doc"), Column("sentence", wrap=True)],
          [[r["id"], _day(r["published"]), r["tracker"] or "", r["kind"], r["display"],
            r["source"], r["document_id"], r["sentence"]] for r in rows])


# ====================================================================== show


@cli.command()
@click.argument("ref", metavar="URL|ID")
@click.argument("versions", nargs=-1, type=int, metavar="[A B]")
@click.option("--diff", is_flag=True,
              help="Word diff of the last two versions (or of version ids A and B).")
@json_option
@pass_state
@library_errors
def show(state: State, ref: str, versions: tuple[int, ...], diff: bool, as_json: bool) -> None:
    """Show a document, its versions and what a revision changed."""
    from crawler.changes.textdiff import changed_passage, word_diff

    if versions and not diff:
        raise UsageProblem("version ids A B are only used with --diff")
    if diff and len(versions) not in (0, 2):
        raise UsageProblem("--diff takes no version ids or two (A B)")
    archive = open_checked(state.config)
    try:
        doc = find_document(archive.db, ref)
        if doc is None:
            raise UsageProblem(f"no document with {'id' if ref.isdigit() else 'url'} {ref!r}")
        vers = document_versions(archive.db, doc["id"])
    finally:
        archive.close()
    ops = None
    old = new = vers[-1] if vers else {}
    if diff:
        by_id = {v["id"]: v for v in vers}
        if versions:
            missing = [str(v) for v in versions if v not in by_id]
            if missing:
                raise UsageProblem(
                    f"document {doc['id']} has no version {', '.join(missing)} "
                    f"(its versions: {', '.join(str(v['id']) for v in vers)})"
                )
            old, new = by_id[versions[0]], by_id[versions[1]]
        elif len(vers) < 2:
            raise UsageProblem(f"document {doc['id']} has only one version; nothing to diff")
        else:
            old, new = vers[-2], vers[-1]
        ops = word_diff(old["text"], new["text"])
    if as_json:
        out = {**doc, "stories": json.loads(doc["stories"] or "[]"),
               "versions": [{k: v for k, v in ver.items() if k != "text"} for ver in vers]}
        if ops is not None:
            out.update(diff_from=old["id"], diff_to=new["id"], diff=[list(op) for op in ops])
        emit_json([out])
        return
    _print_document(doc, vers)
    if ops is not None:
        click.echo()
        passage = changed_passage(ops)
        header = f"diff of version {old['id']} ({old['fetched_at']}) → {new['id']} " \
                 f"({new['fetched_at']})"
        click.echo(header)
        if not passage:
            click.echo("(texts are identical)")
        elif output.is_terminal():
            console().print(rich_diff(passage))
        else:
            from crawler.changes.textdiff import render_plain

            click.echo(render_plain(passage))


def _print_document(doc: dict[str, Any], vers: list[dict[str, Any]]) -> None:
    stories = ", ".join(json.loads(doc["stories"] or "[]"))
    for key, value in (("document", doc["id"]), ("url", doc["url"]), ("title", doc["title"]),
                       ("source", doc["source"]), ("author", doc["author"]),
                       ("published", doc["published"]), ("first seen", doc["first_seen"]),
                       ("last seen", doc["last_seen"]), ("stories", stories)):
        if value:
            click.echo(f"{key + ':':<12}{cell(str(value))}")
    click.echo()
    table(["version", "fetched_at", "hash", "length", "via", "facts", "current"],
          [[v["id"], v["fetched_at"], v["content_hash"][:12], v["length"], v["via"],
            v["facts"], "*" if v["id"] == doc["current_version"] else ""] for v in vers])






# ====================================================================== changes


@cli.command()
@click.option("--story", help="Only changes of this story.")
@click.option("--tracker", help="Only changes of this tracker.")
@click.option("--since", type=SINCE, help="Only changes detected on or after DATE (or 7d).")
@click.option("--type", "type_", type=click.Choice(CHANGE_TYPES))
@click.option("--unconfirmed", is_flag=True,
              help="Only changes waiting for confirmation (not alerted yet).")
@click.option("--limit", type=click.IntRange(0), default=0, help="At most N (default all).")
@json_option
@pass_state
@library_errors
def changes(state: State, story: str | None, tracker: str | None, since: str | None,
            type_: str | None, unconfirmed: bool, limit: int, as_json: bool) -> None:
    """List detected changes of tracked facts, newest first.

    Each with the new value's source, sentence and link, and how many reports corroborate it.
    """
    archive = open_checked(state.config, story=story, tracker=tracker)
    try:
        rows = list_changes(archive.db, story=story, since=since, type=type_, tracker=tracker,
                            limit=limit or None, status="unconfirmed" if unconfirmed else None)
    finally:
        archive.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no changes detected", err=True)
        return

    def moved(r: dict[str, Any]) -> str:
        return f"{r['old_display']} → {r['new_display']}" if r["old_display"] \
            else r["new_display"]

    if not output.is_terminal():
        table(["id", "detected_at", "tracker", "type", "change", "source", "corroborations",
               "sentence", "url"],
              [[r["id"], r["detected_at"], r["tracker"],
                r["type"] + (" (unconfirmed)" if r["status"] == "unconfirmed" else ""),
                moved(r), r["source"], r["corroborations"], _short(r["sentence"], 120),
                r["url"]] for r in rows])
        return
    # On a terminal: the document id that `show` takes, the sentence wrapped, and the
    # columns that do not fit left out (corroborations first, the tracker last).
    table([Column("doc"), Column("id", drop=1), Column("reported", drop=4),
           Column("tracker", drop=5, max_width=24), Column("type", drop=6),
           Column("change"), Column("source", drop=3, max_width=20),
           Column("corr", drop=2), Column("sentence", wrap=True, min_width=20)],
          [[r["document_id"], r["id"], _day(r["published"]), r["tracker"],
            "unconfirmed" if r["status"] == "unconfirmed" else r["type"], moved(r),
            r["source"], r["corroborations"], r["sentence"] or r["url"]] for r in rows])


# ====================================================================== sql, export


@cli.command()
@click.argument("query", metavar="SQL")
@click.option("--json", "fmt", flag_value="json", help="One JSON object per line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.option("--table", "fmt", flag_value="table", default=True,
              help="A table (tab-separated when piped; the default).")
@click.option("--timeout", type=click.FloatRange(0), default=5.0, show_default=True,
              metavar="SECONDS", help="Stop the query after this long (0: no limit).")
@pass_state
@library_errors
def sql(state: State, query: str, fmt: str, timeout: float) -> None:
    """Run a read-only SQL query on the archive.

    One SELECT (or WITH, EXPLAIN, PRAGMA) statement; anything that writes is refused.
    Ctrl-C stops a running query.
    """
    from crawler.archive.queries import QueryLimits, QueryStopped, readonly_query
    from crawler.cli.main import Interrupted, JobFailed, on_sigint

    limits = QueryLimits(None, timeout)
    with on_sigint(limits.interrupt):  # before the archive opens: no window without it
        archive = open_checked(state.config)
        try:
            limits.conn = archive.db.conn
            with limits, _output_errors("the output"):
                headers, rows = readonly_query(archive.db, query)
                _write_rows(headers, rows, "jsonl" if fmt == "json" else fmt)
        except QueryStopped as e:
            if e.reason == "interrupted":
                raise Interrupted(str(e)) from None
            raise JobFailed(f"{e} (raise it with --timeout SECONDS; 0 for none)") from None
        except sqlite3.Error as e:
            raise UsageProblem(f"SQL error: {e}") from None
        finally:
            archive.close()


def _write_rows(headers: list[str], rows: Iterator[tuple], fmt: str,
                out: Any = None) -> None:
    from sqlite_utils.cli import json_binary, output_rows

    out = out or sys.stdout
    if fmt in ("json", "jsonl"):
        wrote = False
        for line in output_rows(rows, headers, nl=fmt == "jsonl", arrays=False,
                                json_cols=False):
            out.write(line + "\n")
            wrote = True
        if not wrote and fmt == "json":
            out.write("[]\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow(json.dumps(json_binary(v)) if isinstance(v, bytes) else v
                            for v in row)
    else:
        table(headers, list(rows))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="jsonl",
              show_default=True)
@click.option("--table", "table_name", type=click.Choice(TABLES), default="documents",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of stdout.")
@pass_state
@library_errors
def export(state: State, fmt: str, table_name: str, output: str | None) -> None:
    """Export one archive table as CSV, a JSON array or JSON lines."""
    from crawler.archive.store import unusable

    archive = open_checked(state.config)
    try:
        headers, rows = export_rows(archive.db, table_name)
        if output:
            try:
                f = open(output, "w", encoding="utf-8", newline="")
            except OSError as e:
                raise UsageProblem(f"cannot write {output}: {e.strerror or e}") from None
            with f, _output_errors(output):
                _write_rows(headers, rows, fmt, f)
        else:
            with _output_errors("the output"):
                _write_rows(headers, rows, fmt)
    except sqlite3.DatabaseError as e:
        raise unusable(state.config.archive, e) from None
    finally:
        archive.close()


class _output_errors:  # noqa: N801 (used like a function: ``with _output_errors(...)``)
    """Writing the output failed (a full device, a closed pipe): one line, exit 1."""

    def __init__(self, where: str):
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        import os

        from crawler.cli.main import JobFailed

        stdout = self.where == "the output"
        if error is None and stdout:
            try:
                sys.stdout.flush()
            except OSError as e:
                error = e
        if isinstance(error, OSError):
            if stdout:
                # Nothing more can reach stdout; don't let the exit's flush fail again.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise JobFailed(f"writing {self.where} failed: {error.strerror or error}") from None


# ====================================================================== browse


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the archive to the network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
@click.option("--immutable", is_flag=True,
              help="Treat the archive as unchanging (only for a copy no crawl writes to).")
@pass_state
@library_errors
def browse(state: State, host: str, port: int, open_browser: bool, immutable: bool) -> None:
    """Browse the archive in Datasette (read-only web view)."""
    from crawler.archive.browse import PortUnavailable, serve

    path = state.config.archive
    Archive.open_readonly(path).close()  # a clear message when there is no archive yet
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving the archive to the network on {host}", err=True)
    try:
        serve(path, host=host, port=port, open_browser=open_browser, immutable=immutable,
              announce=lambda url: click.echo(f"newswatch archive at {url} (Ctrl-C to stop)",
                                              err=True))
    except PortUnavailable as e:
        raise UsageProblem(str(e)) from None
