"""Queries over the archive: search, tracker history, facts, changes, documents, SQL.

Plain functions that take a ``sqlite_utils.Database``, so the query commands
(``crawler/querycli.py``), the benchmark and other code run exactly the same SQL.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_utils

from alerts.status import AlertStatus
from crawler.archive.changes import STATUS_SQL
from crawler.archive.store import ReadOnlyQuery, RunStatus
from crawler.changes.records import ChangeType

TABLES = ("sources", "documents", "versions", "facts", "changes", "corroborations", "alerts",
          "runs")
CHANGE_TYPES = tuple(t.value for t in ChangeType)
# SQL from the enum's value (a fixed word, never input): not a tracker's first value.
_NOT_BASELINE_SQL = f"type != '{ChangeType.BASELINE.value}'"
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
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of `changes`, newest first, with the new fact's evidence and corroborations.

    ``status``: "confirmed" or "unconfirmed" (changes waiting for confirmation).
    """
    where, params = [], []
    if status:
        where.append(f"{STATUS_SQL} = ?")
        params.append(status)
    if story:
        where.append("c.story = ?")
        params.append(story)
    if since:
        where.append("coalesce(c.confirmed_at, c.detected_at) >= ?")  # news since then
        params.append(since)
    if type:
        where.append("c.type = ?")
        params.append(type)
    else:
        where.append(f"c.{_NOT_BASELINE_SQL}")  # a tracker's first value is not a change
    if tracker:
        where.append("c.tracker = ?")
        params.append(tracker)
    sql = f"""
        SELECT c.id, c.story, c.tracker, c.kind, c.type, c.old_value, c.new_value,
               c.old_display, c.new_display, c.old_fact_id, c.new_fact_id, c.detected_at,
               {STATUS_SQL} AS status, d.id AS document_id,
               coalesce(f.published, d.published) AS published, d.source, d.title, d.url,
               f.sentence,
               (SELECT count(*) FROM corroborations k WHERE k.change_id = c.id)
                   AS corroborations
        FROM changes c
        LEFT JOIN facts f ON f.id = c.new_fact_id
        LEFT JOIN documents d ON d.id = coalesce(f.document_id, c.document_id)
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY coalesce(c.confirmed_at, c.detected_at) DESC, c.id DESC
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
        if action == sqlite3.SQLITE_UPDATE and arg1 in ("sqlite_master", "sqlite_schema"):
            # a table-valued pragma (pragma_table_info('t')) registering its virtual table
            # on first use; SQLite never lets a statement modify the schema table itself
            # (writable_schema is a pragma with an argument, refused here)
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

# ---------------------------------------------------------------------- limited queries


class QueryStopped(Exception):
    """A read-only query was stopped: it ran past its time limit, or the user interrupted it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # "timeout" | "interrupted"


class QueryLimits:
    """A time limit and an interrupt flag for the statements run on one connection.

    ``with QueryLimits(conn, timeout) as limits:`` — SQLite calls a progress handler
    every few thousand virtual-machine steps, also while a statement's rows are read;
    returning non-zero aborts the statement. So even a runaway recursive CTE stops
    within milliseconds of the deadline or of ``interrupt()`` (which a signal handler
    may call). The aborted statement surfaces as :class:`QueryStopped`.
    """

    STEPS = 10_000

    def __init__(self, conn: sqlite3.Connection | None, timeout: float | None):
        from time import monotonic

        self.conn = conn
        self.timeout = timeout if timeout and timeout > 0 else None
        self._clock = monotonic
        self.deadline: float | None = None
        self.reason: str | None = None

    def interrupt(self) -> None:
        self.reason = self.reason or "interrupted"

    def _check(self) -> int:
        if self.reason is None and self.deadline is not None and self._clock() > self.deadline:
            self.reason = "timeout"
        return 1 if self.reason else 0

    def __enter__(self) -> QueryLimits:
        assert self.conn is not None, "QueryLimits needs the connection first"
        self.deadline = self._clock() + self.timeout if self.timeout else None
        self.conn.set_progress_handler(self._check, self.STEPS)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: Any) -> None:
        assert self.conn is not None
        self.conn.set_progress_handler(None, 0)
        if isinstance(error, sqlite3.OperationalError) and self.reason == "timeout":
            raise QueryStopped(f"the query was stopped at its time limit of "
                               f"{self.timeout:g} s", "timeout") from error
        if isinstance(error, sqlite3.OperationalError) and self.reason == "interrupted":
            raise QueryStopped("the query was interrupted", "interrupted") from error


# ---------------------------------------------------------------------- the demo's watcher


def demo_new_versions(db: sqlite_utils.Database, after: int) -> list[tuple[Any, ...]]:
    """Versions after id ``after``: (id, source, title, published, version number)."""
    return db.execute(
        "SELECT versions.id, d.source, d.title, d.published, "
        "(SELECT count(*) FROM versions w WHERE w.document_id = d.id AND w.id <= versions.id) "
        "FROM versions JOIN documents d ON d.id = versions.document_id "
        "WHERE versions.id > ? ORDER BY versions.id", [after]).fetchall()


def demo_new_facts(db: sqlite_utils.Database, after: int) -> list[tuple[Any, ...]]:
    """Tracked facts after id ``after``: (id, tracker, display, raw)."""
    return db.execute(
        "SELECT id, tracker, display, raw FROM facts WHERE id > ? AND tracker IS NOT NULL "
        "ORDER BY id", [after]).fetchall()


def demo_new_changes(db: sqlite_utils.Database, after: int) -> list[tuple[Any, ...]]:
    """Changes after id ``after``: (id, type, tracker, old display, new display)."""
    return db.execute(
        "SELECT id, type, tracker, old_display, new_display FROM changes WHERE id > ? "
        "ORDER BY id", [after]).fetchall()


def demo_new_sent_alerts(db: sqlite_utils.Database, after: int) -> list[tuple[Any, ...]]:
    """Sent alerts after id ``after``: (id, channel, tracker, old, new, sentence, source)."""
    return db.execute(
        "SELECT alerts.id, channel, c.tracker, c.old_display, c.new_display, f.sentence, "
        "d.source FROM alerts JOIN changes c ON c.id = alerts.change_id "
        "JOIN facts f ON f.id = c.new_fact_id JOIN documents d ON d.id = f.document_id "
        "WHERE alerts.id > ? AND alerts.status = ? ORDER BY alerts.id",
        [after, AlertStatus.SENT]).fetchall()


def runs_finished_since(db: sqlite_utils.Database, since: str) -> tuple[int, int]:
    """(sources with a run started after ``since`` and finished, alerts still pending)."""
    done = db.execute("SELECT count(DISTINCT source) FROM runs WHERE started > ? "
                      "AND finished IS NOT NULL", [since]).fetchone()[0]
    pending = db.execute("SELECT count(*) FROM alerts WHERE status = ?",
                         [AlertStatus.PENDING]).fetchone()[0]
    return done, pending


def demo_outcome(db: sqlite_utils.Database) -> tuple[int, list[tuple[Any, ...]], int]:
    """(documents, non-baseline changes as (type, tracker, old, new), alerts sent)."""
    documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    changes = db.execute(
        "SELECT type, tracker, old_display, new_display FROM changes "
        f"WHERE {_NOT_BASELINE_SQL} ORDER BY id").fetchall()
    sent = db.execute("SELECT count(*) FROM alerts WHERE status = ?",
                      [AlertStatus.SENT]).fetchone()[0]
    return documents, changes, sent


# ---------------------------------------------------------------------- status


def source_status(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Each source's row of `sources` with its last finished run's counts (``last_counts``)."""
    sources = {r["name"]: r for r in db.query("SELECT * FROM sources")}
    for name, row in sources.items():
        last = db.execute(
            "SELECT fetched, new_documents, new_versions, errors FROM runs "
            "WHERE source = ? AND finished IS NOT NULL ORDER BY id DESC LIMIT 1",
            [name]).fetchone()
        row["last_counts"] = (dict(zip(("fetched", "new", "revised", "errors"), last,
                                       strict=True)) if last else None)
    return sources


def archive_counts(db: sqlite_utils.Database) -> dict[str, Any]:
    """Documents, versions, facts, changes (not baselines) and alerts by status.

    Read from `row_counts` (kept by triggers: constant time, whatever the archive's size);
    an archive no newswatch has opened for writing since (read-only) is counted instead.
    """
    try:
        kept = dict(db.execute("SELECT name, n FROM row_counts").fetchall())
    except sqlite3.OperationalError:  # no such table: not migrated yet
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        kept = {
            "documents": one("SELECT count(*) FROM documents"),
            "versions": one("SELECT count(*) FROM versions"),
            "facts": one("SELECT count(*) FROM facts"),
            "changes": one(f"SELECT count(*) FROM changes WHERE {_NOT_BASELINE_SQL}"),
            **{f"alerts:{status}": n for status, n in db.execute(
                "SELECT status, count(*) FROM alerts GROUP BY status").fetchall()},
        }
    return {
        **{k: kept.get(k, 0) for k in ("documents", "versions", "facts", "changes")},
        "alerts": {k.value: kept.get(f"alerts:{k}", 0) for k in AlertStatus},
    }


# ---------------------------------------------------------------------- check


def integrity_problems(db: sqlite_utils.Database) -> list[str]:
    """What SQLite's ``PRAGMA integrity_check`` finds (pages, indexes), one line each."""
    try:
        rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as e:
        return [f"the database file is damaged: {e}"]
    return [] if rows == ["ok"] else [f"database: {r}" for r in rows]


def fts_problem(path: str) -> str | None:
    """Whether the full-text index agrees with the versions it indexes (None: it does).

    FTS5's 'integrity-check' (rank 1: against the content table too) is a statement on
    the index table, so it runs in a transaction that is rolled back: nothing is written.
    """
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as e:
        return f"full-text index not checked: {e}"
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("BEGIN")
        try:
            conn.execute("INSERT INTO versions_fts(versions_fts, rank) "
                         "VALUES('integrity-check', 1)")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        if "readonly" in str(e) or "read-only" in str(e):
            return None  # read-only media: nothing can have changed it since it was written
        return f"full-text index (versions_fts) not checked: {e}"
    except sqlite3.DatabaseError as e:
        return (f"full-text index (versions_fts) does not match the versions it indexes ({e}); "
                "stop newswatch and rebuild it: sqlite3 ARCHIVE \"INSERT INTO "
                "versions_fts(versions_fts) VALUES('rebuild')\"")
    finally:
        conn.close()
    return None


def unfinished_rows(db: sqlite_utils.Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(runs left 'running', alerts left 'sending'): only a live writer should have any."""
    runs = list(db.query("SELECT id, source, started FROM runs WHERE status = ? ORDER BY id",
                         [RunStatus.RUNNING]))
    alerts = list(db.query("SELECT id, change_id, channel FROM alerts WHERE status = ? "
                           "ORDER BY id", [AlertStatus.SENDING]))
    return runs, alerts
