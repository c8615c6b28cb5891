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
    known_trackers,
    list_changes,
    list_facts,
    search_documents,
    tracker_history,
    value_runs,
)
from crawler.archive.store import Archive
from crawler.cli.main import (
    State,
    UsageProblem,
    cli,
    emit_json,
    json_option,
    library_errors,
    pass_state,
)
from crawler.cli.output import cell, console, highlighted, rich_diff, rich_table, table
from crawler.config.model import ConfigError, parse_interval

# ====================================================================== helpers


def _tty() -> bool:
    return sys.stdout.isatty()




def _open(state: State) -> Archive:
    return Archive.open_readonly(state.config.archive)


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
    archive = _open(state)
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
    headers = ["id", "published", "source", "title", "snippet"]
    if _tty():
        rich_table(headers, [[r["id"], _day(r["published"]), r["source"], r["title"],
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
    """Every value a tracker has had, with changes marked."""
    configured = state.config.trackers
    archive = _open(state)
    try:
        rows = tracker_history(archive.db, tracker)
        if not rows and tracker not in configured:
            raise UsageProblem(_unknown_tracker(tracker, configured, known_trackers(archive.db)))
    finally:
        archive.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(f"tracker {tracker!r} has no facts yet", err=True)
        return
    headers = ["published", "value", "change", "source", "title", "sentence"]
    cells = [[_day(r["published"]), r["display"], _change_mark(r), r["source"],
              _short(r["title"], 60), _short(r["sentence"], 140)] for r in rows]
    if not _tty():
        table(headers + ["url"], [c + [r["url"]] for c, r in zip(cells, rows, strict=True)])
        return
    label = configured[tracker].title if tracker in configured else tracker
    rich_table([h for h in headers if h != "title"],
                [c[:4] + c[5:] for c in cells], title=f"{label}: {len(rows)} statements")
    _print_timeline(rows)


def _unknown_tracker(tracker: str, configured: dict[str, Any], archived: list[str]) -> str:
    message = f"unknown tracker {tracker!r}; configured trackers: "
    message += ", ".join(sorted(configured)) or "none"
    others = sorted(set(archived) - set(configured))
    if others:
        message += f" (also with facts in the archive: {', '.join(others)})"
    return message


def _change_mark(row: dict[str, Any]) -> str:
    mark = ""
    if row["change_type"]:
        mark = f"{row['change_type']} from {row['old_display']}" if row["old_display"] \
            else row["change_type"]
    if not row["current"]:
        mark = (mark + " " if mark else "") + "(revised away)"
    return mark




def _print_timeline(rows: list[dict[str, Any]]) -> None:
    """One line per run of an unchanged value, its bar as long as the run lasted."""
    from rich.text import Text

    runs = value_runs(rows)
    if not runs:
        return
    days = [_ordinal(r["first"]) for r in runs] + [_ordinal(runs[-1]["last"])]
    span = max(days[-1] - days[0], 1)
    out = console()
    width = max(10, min(60, out.width - 40))
    out.print(Text("timeline", style="bold"))
    for i, run in enumerate(runs):
        end = days[i + 1] if i + 1 < len(runs) else days[-1]
        bar = "━" * max(1, round((end - days[i]) / span * width))
        style = {"change": "bold red", "revision": "magenta", "conflict": "yellow"}.get(
            run["change_type"] or "", "cyan")
        line = Text(f"{_day(run['first'])} ")
        line.append(f"{run['value']:>10} ", style=style)
        line.append(bar, style=style)
        line.append(f" {run['reports']} report{'s' if run['reports'] != 1 else ''}")
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
    archive = _open(state)
    try:
        rows = list_facts(archive.db, story=story, kind=kind, tracker=tracker, limit=limit)
    finally:
        archive.close()
    if as_json:
        emit_json(rows)
        return
    table(["id", "published", "tracker", "kind", "value", "source", "sentence"],
          [[r["id"], _day(r["published"]), r["tracker"] or "", r["kind"], r["display"],
            r["source"], _short(r["sentence"], 120)] for r in rows])


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
    archive = _open(state)
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
        elif _tty():
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
    archive = _open(state)
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
    table(["id", "detected_at", "tracker", "type", "change", "source", "corroborations",
           "sentence", "url"],
          [[r["id"], r["detected_at"], r["tracker"],
            r["type"] + (" (unconfirmed)" if r["status"] == "unconfirmed" else ""),
            f"{r['old_display']} → {r['new_display']}" if r["old_display"]
            else r["new_display"], r["source"],
            r["corroborations"], _short(r["sentence"], 120), r["url"]] for r in rows])


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
    from crawler.archive.queries import QueryLimits, QueryStopped, readonly_read
    from crawler.cli.main import Interrupted, JobFailed, on_sigint

    limits = QueryLimits(None, timeout)
    with on_sigint(limits.interrupt):  # before the archive opens: no window without it
        archive = _open(state)
        try:
            limits.conn = archive.db.conn
            with limits, _output_errors("the output"):
                headers, rows = readonly_read(archive.db, query)
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

    archive = _open(state)
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
