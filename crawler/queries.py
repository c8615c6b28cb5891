"""Query commands over the archive: search, facts, show, changes, sql, export, browse.

The SQL lives in plain functions (``search_documents``, ``tracker_history``,
``list_facts``, ``list_changes``, ``readonly_query`` ...) that take a
``sqlite_utils.Database``, so the benchmark and other code run exactly what the
commands run. The commands open the archive read-only and only format.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import click
import sqlite_utils

from crawler.archive import Archive, ReadOnlyQuery
from crawler.cli import State, UsageProblem, cli, emit_json, json_option, library_errors, pass_state
from crawler.config import ConfigError, parse_interval

TABLES = ("sources", "documents", "versions", "facts", "changes", "corroborations", "alerts",
          "runs")
CHANGE_TYPES = ("change", "revision", "conflict")
# snippet() markers: control characters never found in extracted text.
HIT_START, HIT_END = "\x02", "\x03"


class SearchSyntaxError(ValueError):
    """A full-text query that SQLite's FTS5 cannot parse."""


# ====================================================================== queries


_FTS_TOKEN_RE = re.compile(r'(?:(?:title|text):)?"[^"]*"\*?|[()]|[^\s()"]+|"')
_FTS_OPERATORS = {"AND", "OR", "NOT"}
_FTS_COLUMN_RE = re.compile(r"^(title|text):(.+)$")


def fts_query(text: str) -> str:
    """Turn what a user typed into an FTS5 query.

    Plain words are quoted, so punctuation only separates words ("U.S.-Iraq" is
    the phrase u s iraq, "2,500" the phrase 2 500) instead of being FTS5 syntax.
    What users mean as syntax stays: "quoted phrases", AND/OR/NOT, parentheses,
    NEAR(a b, 5), prefix*, and title:/text: column filters. Unbalanced quotes
    or parentheses stay as they are, so SQLite reports them.
    """
    out: list[str] = []
    parts = _FTS_TOKEN_RE.findall(text)
    near = False  # inside NEAR( ... ), where "word," ends the phrases and a distance follows
    for i, part in enumerate(parts):
        nxt = parts[i + 1] if i + 1 < len(parts) else ""
        column = _FTS_COLUMN_RE.match(part)
        if part == "NEAR" and nxt == "(":
            out.append(part)
            near = True
        elif part == ")":
            out.append(part)
            near = False
        elif part in _FTS_OPERATORS or part in ("(", '"') or '"' in part:
            out.append(part)
        elif near and part.endswith(",") and len(part) > 1:
            out.append(_quote_word(part[:-1]) + ",")
        elif near and part.isdigit() and out and out[-1].endswith(","):
            out.append(part)
        elif near and part.startswith(",") and part[1:].isdigit():
            out.append(part)
        elif column:
            out.append(f"{column.group(1)}:{_quote_word(column.group(2))}")
        else:
            out.append(_quote_word(part))
    return " ".join(out)


def _quote_word(word: str) -> str:
    if word.endswith("*") and len(word) > 1:
        return '"' + word[:-1].replace('"', '""') + '"*'
    return '"' + word.replace('"', '""') + '"'


def search_documents(
    db: sqlite_utils.Database,
    query: str,
    *,
    source: str | None = None,
    story: str | None = None,
    since: str | None = None,
    limit: int = 20,
    order: str = "newest",
    raw: bool = False,
) -> list[dict[str, Any]]:
    """Current versions matching ``query`` (FTS5 over title + text), with snippets.

    ``order="newest"``: by publication date, newest first (undated last);
    ``order="rank"``: best match (bm25) first. Snippets are computed only for the
    rows returned. Raises SearchSyntaxError when FTS5 cannot parse the query.
    """
    match = query if raw else fts_query(query)
    try:
        if order == "newest":
            ids = _newest_matches(db, match, source, story, since, limit)
        else:
            ids = _ranked_matches(db, match, source, story, since, limit)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        # One pass over the id range, not one FTS5 query per id ("+" keeps the IN
        # list out of FTS5): a prefix query costs a doclist merge per query.
        snippets = dict(db.execute(
            f"SELECT rowid, snippet(versions_fts, -1, ?, ?, '…', 24) FROM versions_fts "
            f"WHERE versions_fts MATCH ? AND rowid BETWEEN ? AND ? AND +rowid IN ({marks})",
            [HIT_START, HIT_END, match, min(ids), max(ids), *ids],
        ).fetchall())
    except sqlite3.OperationalError as e:
        message = str(e)
        if "fts5" in message or "no such column" in message or "unterminated" in message:
            raise SearchSyntaxError(message) from None
        raise
    rows = {r["version_id"]: r for r in db.query(
        f"""SELECT d.id, d.url, d.source, d.title, d.published, v.id AS version_id,
                   v.fetched_at, d.stories
            FROM versions v JOIN documents d ON d.id = v.document_id
            WHERE v.id IN ({marks})""",
        ids,
    )}
    out = []
    for version_id in ids:
        row = rows[version_id]
        row["stories"] = json.loads(row["stories"] or "[]")
        row["snippet"] = snippets.get(version_id, "")
        out.append(row)
    return out


def _document_filters(source: str | None, story: str | None, since: str | None
                      ) -> tuple[str, list[Any]]:
    where, params = [], []
    if source:
        where.append("d.source = ?")
        params.append(source)
    if since:
        where.append("d.published >= ?")
        params.append(since[:10])  # published is a date
    if story:
        where.append("EXISTS (SELECT 1 FROM json_each(d.stories) WHERE value = ?)")
        params.append(story)
    return "".join(f" AND {w}" for w in where), params


def _newest_matches(db: sqlite_utils.Database, match: str, source: str | None,
                    story: str | None, since: str | None, limit: int) -> list[int]:
    """Version ids of the newest matching documents.

    Sorting every match by date costs one lookup per match, which is slow for a
    word found in most documents. So first take the newest few hundred documents
    and ask FTS5 only about their version-id range: when enough of them match,
    they are exactly the newest matches. Otherwise (a rarer word) there are few
    matches and sorting them all is cheap.
    """
    filters, params = _document_filters(source, story, since)
    order = "ORDER BY d.published DESC, d.id DESC"
    # CROSS JOIN below keeps FTS5 the outer loop: without statistics SQLite would
    # rather walk a source's documents and run one FTS5 query per document.
    window = max(200, 10 * limit)
    newest = db.execute(
        f"SELECT d.current_version FROM documents d WHERE d.current_version IS NOT NULL"
        f"{filters} {order} LIMIT ?",
        [*params, window],
    ).fetchall()
    if not newest:
        return []
    candidates = [r[0] for r in newest]
    matching = {r[0] for r in db.execute(
        "SELECT rowid FROM versions_fts WHERE versions_fts MATCH ? AND rowid BETWEEN ? AND ?",
        [match, min(candidates), max(candidates)],
    )}
    hits = [v for v in candidates if v in matching]
    if len(hits) >= limit or len(newest) < window:
        return hits[:limit]
    return [r[0] for r in db.execute(
        f"""SELECT d.current_version FROM versions_fts
            CROSS JOIN documents d ON d.current_version = versions_fts.rowid
            WHERE versions_fts MATCH ?{filters} {order} LIMIT ?""",
        [match, *params, limit],
    )]


def _ranked_matches(db: sqlite_utils.Database, match: str, source: str | None,
                    story: str | None, since: str | None, limit: int) -> list[int]:
    """Version ids of the best (bm25) matching current versions."""
    filters, params = _document_filters(source, story, since)
    return [r[0] for r in db.execute(
        f"""SELECT d.current_version FROM versions_fts
            CROSS JOIN documents d ON d.current_version = versions_fts.rowid
            WHERE versions_fts MATCH ?{filters}
            ORDER BY bm25(versions_fts), d.published DESC, d.id DESC LIMIT ?""",
        [match, *params, limit],
    )]


def known_trackers(db: sqlite_utils.Database) -> list[str]:
    """Trackers that have facts in the archive."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT tracker FROM facts WHERE tracker IS NOT NULL ORDER BY tracker"
    )]


def tracker_history(db: sqlite_utils.Database, tracker: str) -> list[dict[str, Any]]:
    """Every fact of ``tracker`` in publication order, with the change each one made.

    ``change_type`` is the type of the `changes` row whose new fact it is (change,
    revision, conflict) or None; ``current`` says whether the fact's version is
    still the document's current text (a revision may have removed it).
    """
    sql = """
        SELECT f.id, f.story, f.kind, f.value, f.display, f.low, f.high, f.number,
               f.granularity, f.qualifier, f.raw, f.sentence,
               coalesce(f.published, d.published) AS published, f.version_id,
               f.document_id, d.source, d.title, d.url,
               d.current_version = f.version_id AS current,
               c.id AS change_id, c.type AS change_type, c.old_display
        FROM facts f
        JOIN documents d ON d.id = f.document_id
        LEFT JOIN changes c ON c.new_fact_id = f.id
            AND c.id = (SELECT min(id) FROM changes WHERE new_fact_id = f.id)
        WHERE f.tracker = ?
        ORDER BY coalesce(f.published, d.published), f.id
    """
    cursor = db.execute(sql, [tracker])
    keys = [d[0] for d in cursor.description]
    rows = [dict(zip(keys, row, strict=True)) for row in cursor]
    for r in rows:
        r["current"] = bool(r["current"])
    return rows


def list_facts(
    db: sqlite_utils.Database,
    *,
    story: str | None = None,
    kind: str | None = None,
    tracker: str | None = None,
    limit: int | None = 50,
) -> list[dict[str, Any]]:
    """Facts, newest report first, optionally of one story, kind or tracker."""
    where, params = [], []
    for column, value in (("story", story), ("kind", kind), ("tracker", tracker)):
        if value:
            where.append(f"f.{column} = ?")
            params.append(value)
    sql = f"""
        SELECT f.id, f.story, f.tracker, f.kind, f.value, f.display, f.low, f.high,
               f.granularity, f.qualifier, f.raw, f.sentence,
               coalesce(f.published, d.published) AS published, d.source, d.title, d.url,
               f.version_id, f.document_id
        FROM facts f JOIN documents d ON d.id = f.document_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY coalesce(f.published, d.published) DESC, f.id DESC
        {"LIMIT ?" if limit else ""}
    """
    return list(db.query(sql, [*params, *([limit] if limit else [])]))


def list_changes(
    db: sqlite_utils.Database,
    *,
    story: str | None = None,
    since: str | None = None,
    type: str | None = None,
    tracker: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of `changes`, newest first, with the new fact's evidence and corroborations."""
    where, params = [], []
    if story:
        where.append("c.story = ?")
        params.append(story)
    if since:
        where.append("c.detected_at >= ?")
        params.append(since)
    if type:
        where.append("c.type = ?")
        params.append(type)
    if tracker:
        where.append("c.tracker = ?")
        params.append(tracker)
    sql = f"""
        SELECT c.id, c.story, c.tracker, c.kind, c.type, c.old_value, c.new_value,
               c.old_display, c.new_display, c.old_fact_id, c.new_fact_id, c.detected_at,
               coalesce(f.published, d.published) AS published, d.source, d.title, d.url,
               f.sentence,
               (SELECT count(*) FROM corroborations k WHERE k.change_id = c.id)
                   AS corroborations
        FROM changes c
        LEFT JOIN facts f ON f.id = c.new_fact_id
        LEFT JOIN documents d ON d.id = f.document_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY c.detected_at DESC, c.id DESC
        {"LIMIT ?" if limit else ""}
    """
    return list(db.query(sql, [*params, *([limit] if limit else [])]))


def find_document(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """The document with id ``ref`` (all digits) or URL ``ref``."""
    column = "id" if ref.isdigit() else "url"
    rows = list(db.query(f"SELECT * FROM documents WHERE {column} = ?", [ref]))
    return rows[0] if rows else None


def document_versions(db: sqlite_utils.Database, document_id: int) -> list[dict[str, Any]]:
    """A document's versions, oldest first, with their text and fact counts."""
    return list(db.query(
        """SELECT v.id, v.fetched_at, v.content_hash, length(v.text) AS length, v.via,
                  v.title, v.published, v.text,
                  (SELECT count(*) FROM facts f WHERE f.version_id = v.id) AS facts
           FROM versions v WHERE v.document_id = ? ORDER BY v.id""",
        [document_id],
    ))


_READ_PRAGMAS_WITH_ARGUMENT = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
}
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER "
        "CREATE_TEMP_VIEW CREATE_TRIGGER CREATE_VIEW DELETE DROP_INDEX DROP_TABLE "
        "DROP_TEMP_INDEX DROP_TEMP_TABLE DROP_TEMP_TRIGGER DROP_TEMP_VIEW DROP_TRIGGER "
        "DROP_VIEW INSERT PRAGMA TRANSACTION UPDATE ATTACH DETACH ALTER_TABLE REINDEX "
        "ANALYZE CREATE_VTABLE DROP_VTABLE SAVEPOINT"
    ).split()
}
_FIRST_WORD_RE = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*(\w+)", re.S)


def readonly_query(
    db: sqlite_utils.Database, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """Run one read-only statement: (column names, row iterator).

    ``db`` should be a read-only connection (``Archive.open_readonly``); on top of
    that an authorizer refuses everything but reading, so a write is refused
    with a clear message even before SQLite would fail. Raises ReadOnlyQuery.
    """
    first = _FIRST_WORD_RE.match(sql)
    keyword = first.group(1).upper() if first else ""
    if keyword not in ("SELECT", "WITH", "EXPLAIN", "PRAGMA", "VALUES"):
        raise ReadOnlyQuery(
            f"newswatch sql is read-only: {keyword or 'an empty statement'} is not allowed "
            "(use SELECT, WITH, EXPLAIN or PRAGMA)"
        )
    denied: list[str] = []

    def authorize(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                      sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (
            arg2 is None or (arg1 or "").lower() in _READ_PRAGMAS_WITH_ARGUMENT
        ):
            return sqlite3.SQLITE_OK
        what = _ACTION_NAMES.get(action, f"operation {action}")
        if action == sqlite3.SQLITE_PRAGMA:
            what = f"PRAGMA {arg1} = {arg2}"
        elif arg1:
            what = f"{what} ({arg1})"
        denied.append(what)
        return sqlite3.SQLITE_DENY

    conn = db.conn
    conn.set_authorizer(authorize)
    try:
        cursor = conn.execute(sql, params)
    except (sqlite3.DatabaseError, sqlite3.ProgrammingError, sqlite3.Warning) as e:
        if denied:
            raise ReadOnlyQuery(f"newswatch sql is read-only: {denied[0]} is not allowed") from None
        if "readonly" in str(e) or "read-only" in str(e):
            raise ReadOnlyQuery(f"newswatch sql is read-only: {e}") from None
        if "one statement at a time" in str(e):
            raise ReadOnlyQuery(
                "newswatch sql is read-only: give a single statement (one SELECT)"
            ) from None
        raise
    finally:
        conn.set_authorizer(None)
    headers = [d[0] for d in cursor.description or ()]
    return headers, iter(cursor)


def export_rows(db: sqlite_utils.Database, table: str) -> tuple[list[str], Iterator[tuple]]:
    """All rows of one archive table (in primary-key order) as (columns, rows)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r} (tables: {', '.join(TABLES)})")
    columns = [c.name for c in db[table].columns]
    cursor = db.execute(
        f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM [{table}] ORDER BY rowid"
    )
    return columns, iter(cursor)


# ====================================================================== helpers


def _tty() -> bool:
    return sys.stdout.isatty()


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _open(state: State) -> Archive:
    return Archive.open_readonly(state.config.archive)


def _brackets(snippet: str) -> str:
    return snippet.replace(HIT_START, "[").replace(HIT_END, "]")


def _highlighted(snippet: str) -> Any:
    """A rich Text with the search hits in bold yellow (web text is never markup)."""
    from rich.text import Text

    text = Text()
    for i, piece in enumerate(re.split(f"[{HIT_START}{HIT_END}]", snippet)):
        text.append(piece, style="bold yellow" if i % 2 else "")
    return text


def _rich_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                title: str | None = None) -> None:
    """A rich table whose cells may be rich Text (display.table escapes everything)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(*headers, title=title)
    for row in rows:
        t.add_row(*(v if isinstance(v, Text) else Text("" if v is None else str(v))
                    for v in row))
    _console().print(t)


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
        _rich_table(headers, [[r["id"], _day(r["published"]), r["source"], r["title"],
                               _highlighted(r["snippet"])] for r in rows])
    else:
        from crawler.display import table

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
    from crawler.facts import assign_trackers, extract_facts

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
    from crawler.display import table

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
        from crawler.display import table

        table(headers + ["url"], [c + [r["url"]] for c, r in zip(cells, rows, strict=True)])
        return
    label = configured[tracker].title if tracker in configured else tracker
    _rich_table([h for h in headers if h != "title"],
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


def value_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tracker's value over time as runs: value, first, last (dates), reports.

    Only facts still in their document's current text count. When change detection
    has recorded changes, a run starts at each change (the values in between are
    reports agreeing or repeating older figures); otherwise a run starts whenever a
    report states another value, taking the last value each report states ("from
    about 2,500 to fewer than 2,000" means <2,000).
    """
    current = [r for r in rows if r["current"]]
    if any(r["change_type"] == "change" for r in current):
        runs: list[dict[str, Any]] = []
        for r in current:
            if not runs or r["change_type"] == "change":
                runs.append({"value": r["display"], "first": r["published"],
                             "last": r["published"], "reports": 0,
                             "change_type": r["change_type"]})
            runs[-1]["last"] = r["published"]
            runs[-1]["reports"] += r["display"] == runs[-1]["value"]
        return runs
    per_report: dict[int, dict[str, Any]] = {}
    for r in current:
        per_report.pop(r["version_id"], None)  # keep the last statement, in report order
        per_report[r["version_id"]] = r
    runs = []
    for r in per_report.values():
        if runs and runs[-1]["value"] == r["display"]:
            runs[-1]["last"] = r["published"]
            runs[-1]["reports"] += 1
        else:
            runs.append({"value": r["display"], "first": r["published"],
                         "last": r["published"], "reports": 1, "change_type": None})
    return runs


def _print_timeline(rows: list[dict[str, Any]]) -> None:
    """One line per run of an unchanged value, its bar as long as the run lasted."""
    from rich.text import Text

    runs = value_runs(rows)
    if not runs:
        return
    days = [_ordinal(r["first"]) for r in runs] + [_ordinal(runs[-1]["last"])]
    span = max(days[-1] - days[0], 1)
    console = _console()
    width = max(10, min(60, console.width - 40))
    console.print(Text("timeline", style="bold"))
    for i, run in enumerate(runs):
        end = days[i + 1] if i + 1 < len(runs) else days[-1]
        bar = "━" * max(1, round((end - days[i]) / span * width))
        style = {"change": "bold red", "revision": "magenta", "conflict": "yellow"}.get(
            run["change_type"] or "", "cyan")
        line = Text(f"{_day(run['first'])} ")
        line.append(f"{run['value']:>10} ", style=style)
        line.append(bar, style=style)
        line.append(f" {run['reports']} report{'s' if run['reports'] != 1 else ''}")
        console.print(line)


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
    from crawler.display import table

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
    from crawler.textdiff import changed_passage, word_diff

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
            _console().print(_rich_diff(passage))
        else:
            from crawler.textdiff import render_plain

            click.echo(render_plain(passage))


def _print_document(doc: dict[str, Any], vers: list[dict[str, Any]]) -> None:
    from crawler.display import table

    stories = ", ".join(json.loads(doc["stories"] or "[]"))
    for key, value in (("document", doc["id"]), ("url", doc["url"]), ("title", doc["title"]),
                       ("source", doc["source"]), ("author", doc["author"]),
                       ("published", doc["published"]), ("first seen", doc["first_seen"]),
                       ("last seen", doc["last_seen"]), ("stories", stories)):
        if value:
            click.echo(f"{key + ':':<12}{_printable(str(value))}")
    click.echo()
    table(["version", "fetched_at", "hash", "length", "via", "facts", "current"],
          [[v["id"], v["fetched_at"], v["content_hash"][:12], v["length"], v["via"],
            v["facts"], "*" if v["id"] == doc["current_version"] else ""] for v in vers])


def _printable(text: str) -> str:
    """Web text without control characters (no terminal escape sequences from a page)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", text)


def _rich_diff(ops: list[tuple[str, str]]) -> Any:
    from rich.text import Text

    text = Text()
    for op, piece in ops:
        style = {"delete": "red strike", "insert": "green bold"}.get(op, "")
        text.append(piece, style=style)
    return text


# ====================================================================== changes


@cli.command()
@click.option("--story", help="Only changes of this story.")
@click.option("--tracker", help="Only changes of this tracker.")
@click.option("--since", type=SINCE, help="Only changes detected on or after DATE (or 7d).")
@click.option("--type", "type_", type=click.Choice(CHANGE_TYPES))
@click.option("--limit", type=click.IntRange(0), default=0, help="At most N (default all).")
@json_option
@pass_state
@library_errors
def changes(state: State, story: str | None, tracker: str | None, since: str | None,
            type_: str | None, limit: int, as_json: bool) -> None:
    """List detected changes of tracked facts, newest first.

    Each with the new value's source, sentence and link, and how many reports corroborate it.
    """
    archive = _open(state)
    try:
        rows = list_changes(archive.db, story=story, since=since, type=type_, tracker=tracker,
                            limit=limit or None)
    finally:
        archive.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no changes detected", err=True)
        return
    from crawler.display import table

    table(["id", "detected_at", "tracker", "type", "change", "source", "corroborations",
           "sentence", "url"],
          [[r["id"], r["detected_at"], r["tracker"], r["type"],
            f"{r['old_display'] or '?'} → {r['new_display']}", r["source"],
            r["corroborations"], _short(r["sentence"], 120), r["url"]] for r in rows])


# ====================================================================== sql, export


@cli.command()
@click.argument("query", metavar="SQL")
@click.option("--json", "fmt", flag_value="json", help="One JSON object per line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.option("--table", "fmt", flag_value="table", default=True,
              help="A table (tab-separated when piped; the default).")
@pass_state
@library_errors
def sql(state: State, query: str, fmt: str) -> None:
    """Run a read-only SQL query on the archive.

    One SELECT (or WITH, EXPLAIN, PRAGMA) statement; anything that writes is refused.
    """
    archive = _open(state)
    try:
        try:
            headers, rows = readonly_query(archive.db, query)
            _write_rows(headers, rows, "jsonl" if fmt == "json" else fmt)
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
        from crawler.display import table

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
    archive = _open(state)
    try:
        headers, rows = export_rows(archive.db, table_name)
        if output:
            with open(output, "w", encoding="utf-8", newline="") as f:
                _write_rows(headers, rows, fmt, f)
        else:
            _write_rows(headers, rows, fmt)
    finally:
        archive.close()


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
    from crawler.browse import serve

    path = state.config.archive
    Archive.open_readonly(path).close()  # a clear message when there is no archive yet
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving the archive to the network on {host}", err=True)
    serve(path, host=host, port=port, open_browser=open_browser, immutable=immutable,
          announce=lambda url: click.echo(f"newswatch archive at {url} (Ctrl-C to stop)",
                                          err=True))
