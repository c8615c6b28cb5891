"""The SQLite archive: schema, migrations and the queries every part shares.

One writer (the crawl pipeline, change detection and the alert outbox all run in
one process) and any number of readers (CLI, Datasette). WAL mode lets readers
work while a crawl writes; a busy timeout rides out short lock contention.
Each write that must be atomic goes through ``with archive.write():`` — a
``BEGIN IMMEDIATE`` transaction, which waits for the write lock up front instead of
failing when another connection wrote after this one started reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from crawler.extraction.records import AnalyzedReport

log = logging.getLogger(__name__)

migrations = Migrations("newswatch")


class ArchiveMissing(Exception):
    """The archive file does not exist (nothing was crawled yet)."""


class ReadOnlyQuery(Exception):
    """A query given to a read-only entry point tried to write."""


class ArchiveUnusable(Exception):
    """The archive cannot be opened: a folder, unreadable, read-only or not a database."""


class ArchiveWriteError(sqlite3.OperationalError):
    """A write to the archive failed; what it would have stored is not stored."""


class ArchiveFull(ArchiveWriteError):
    """The archive's disk (or SQLite's page limit) is full: nothing more can be stored."""


def free_space(path: Path) -> str:
    """Free space on the disk holding ``path``, for messages ("1.2 MB free")."""
    try:
        free = shutil.disk_usage(path if path.is_dir() else path.parent).free
    except OSError:
        return "free space unknown"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if free >= size:
            return f"{free / size:.1f} {unit} free"
    return f"{free} bytes free"


def unusable(path: Path, error: BaseException) -> ArchiveUnusable:
    """The archive cannot be used: one line saying why and what to do."""
    text = str(error)
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return ArchiveUnusable(f"the archive {path} is a folder; set `archive:` in the config "
                               "to a file path (e.g. newswatch.db)")
    if isinstance(error, PermissionError) or "readonly" in text or "read-only" in text or (
            isinstance(error, OSError) and error.errno == 30) or "unable to open" in text:
        return ArchiveUnusable(
            f"the archive {path} cannot be written ({text}); make the file and its folder "
            "writable, or set `archive:` to a path that is")
    if isinstance(error, sqlite3.DatabaseError):
        return ArchiveUnusable(
            f"the archive {path} is damaged or not a newswatch archive ({text}); run "
            "`newswatch check`, restore a backup, or move the file away to start afresh")
    return ArchiveUnusable(f"the archive {path} cannot be opened: {text}")


def _is_full(error: BaseException) -> bool:
    return (getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "disk is full" in str(error))


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None = None) -> str:
    """An ISO-8601 UTC timestamp with seconds, sortable as text."""
    return (moment or utcnow()).astimezone(UTC).isoformat(timespec="seconds")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "name": str,
            "type": str,
            "url": str,
            "last_run": str,
            "last_status": str,
            "last_error": str,
            "error_streak": int,
            "next_run": str,
        },
        pk="name",
    )
    db.table("documents").create(
        {
            "id": int,
            "url": str,
            "source": str,
            "title": str,
            "author": str,
            "published": str,
            "guid": str,
            "first_seen": str,
            "last_seen": str,
            "current_version": int,
            "raw_hash": str,
            "stories": str,
        },
        pk="id",
        not_null={"url", "source", "first_seen", "last_seen"},
    )
    db.table("documents").create_index(["url"], unique=True)
    db.table("documents").create_index(["source", "published"])
    db.table("versions").create(
        {
            "id": int,
            "document_id": int,
            "fetched_at": str,
            "content_hash": str,
            "title": str,
            "text": str,
            "published": str,
            "via": str,  # "page" (extracted from the fetched page) or "feed" (item content)
            "facts_done": int,
        },
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"document_id", "fetched_at", "content_hash", "text"},
    )
    db.table("versions").create_index(["document_id", "id"])
    db.table("versions").create_index(["facts_done"])
    db.table("versions").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.table("facts").create(
        {
            "id": int,
            "version_id": int,
            "document_id": int,
            "story": str,
            "tracker": str,
            "kind": str,
            "value": str,
            "display": str,
            "number": float,
            "low": float,
            "high": float,
            "granularity": str,
            "qualifier": str,
            "raw": str,
            "start": int,
            "end": int,
            "sentence": str,
            "published": str,
            "evaluated": int,
        },
        pk="id",
        foreign_keys=[("version_id", "versions", "id"), ("document_id", "documents", "id")],
    )
    db.table("facts").create_index(["tracker", "published"])
    db.table("facts").create_index(["evaluated"])
    db.table("facts").create_index(["version_id"])
    db.table("changes").create(
        {
            "id": int,
            "story": str,
            "tracker": str,
            "kind": str,
            "type": str,  # baseline | change | revision | refinement | conflict
            "old_value": str,
            "new_value": str,
            "old_display": str,
            "new_display": str,
            "old_fact_id": int,
            "new_fact_id": int,
            "detected_at": str,
            "diff": str,  # JSON list of [op, text] for revisions
        },
        pk="id",
        foreign_keys=[("old_fact_id", "facts", "id"), ("new_fact_id", "facts", "id")],
    )
    db.table("changes").create_index(["tracker", "id"])
    db.table("corroborations").create(
        {"change_id": int, "fact_id": int},
        pk=("change_id", "fact_id"),
        foreign_keys=[("change_id", "changes", "id"), ("fact_id", "facts", "id")],
    )
    db.table("alerts").create(
        {
            "id": int,
            "change_id": int,
            "channel": str,
            "status": str,  # pending | sending | sent | failed | unknown
            "attempts": int,
            "next_attempt": str,
            "last_error": str,
            "sent_at": str,
            "message_id": str,
            "created": str,
        },
        pk="id",
        foreign_keys=[("change_id", "changes", "id")],
    )
    db.table("alerts").create_index(["change_id", "channel"], unique=True)
    db.table("alerts").create_index(["status", "next_attempt"])
    db.table("runs").create(
        {
            "id": int,
            "source": str,
            "started": str,
            "finished": str,
            "status": str,
            "fetched": int,
            "new_documents": int,
            "new_versions": int,
            "unchanged": int,
            "errors": int,
            "fallbacks": int,
            "error_detail": str,
        },
        pk="id",
    )
    db.table("runs").create_index(["source", "id"])


@migrations()
def m002_query_indexes(db: sqlite_utils.Database) -> None:
    """Indexes for the query commands (crawler/queries.py).

    documents(current_version, published) lets full-text search join a matching
    version to its document through the index alone (instead of two table rows per
    match); documents(published) walks the newest documents first; the other two
    find a fact's change and corroborations without scanning.
    """
    db.table("documents").create_index(["current_version", "published"], if_not_exists=True)
    db.table("documents").create_index(["published"], if_not_exists=True)
    db.table("changes").create_index(["new_fact_id"], if_not_exists=True)
    db.table("corroborations").create_index(["fact_id"], if_not_exists=True)


@migrations()
def m003_document_first_run(db: sqlite_utils.Database) -> None:
    """The run that first archived a document: a source's first run is history."""
    db.table("documents").add_column("first_run", int)


@migrations()
def m004_subjects_and_confirmation(db: sqlite_utils.Database) -> None:
    """Facts carry their subject; changes wait for confirmation; versions know their run.

    - facts: role, actor, place, event, tense (read from the fact's own sentence) and
      attributed (the sentence attributes the figure to officials);
    - documents.official: the report comes from a source marked official;
    - changes.status: 'confirmed' or 'unconfirmed' (NULL in older rows: confirmed),
      changes.confirmed_at, and changes.document_id for revisions of a watched page;
    - versions.run_id: the run that fetched the version (a source's first run is history,
      its later edits are not).
    """
    for column in ("role", "actor", "place", "event", "tense"):
        db.table("facts").add_column(column, str)
    db.table("facts").add_column("attributed", int)
    db.table("documents").add_column("official", int)
    db.table("changes").add_column("status", str)
    db.table("changes").add_column("confirmed_at", str)
    db.table("changes").add_column("document_id", int)
    db.table("versions").add_column("run_id", int)
    db.table("changes").create_index(["tracker", "status", "id"], if_not_exists=True)


@migrations()
def m005_runs_lost(db: sqlite_utils.Database) -> None:
    """runs.lost: reports fetched but not stored (the archive refused the write)."""
    db.table("runs").add_column("lost", int)


@migrations()
def m006_backfill_boundary(db: sqlite_utils.Database) -> None:
    """A baseline remembers the newest version of the pass that set it: facts of versions
    up to it are the tracker's history, even when that pass was killed half-way."""
    db.table("changes").add_column("backfill_until", int)


@migrations()
def m007_digests(db: sqlite_utils.Database) -> None:
    """A digest per period (what happened between start and end), sent once per channel:
    its outbox rows are `alerts` rows with `digest_id` instead of `change_id`."""
    db.table("digests").create({"id": int, "start": str, "end": str, "created": str},
                               pk="id", not_null={"start", "end"})
    db.table("digests").create_index(["end"], unique=True)
    db.table("alerts").add_column("digest_id", int)
    db.table("alerts").create_index(["digest_id", "channel"], unique=True)


@migrations()
def m008_row_counts(db: sqlite_utils.Database) -> None:
    """`row_counts`: the counts `status` shows, kept by triggers in the writes' own
    transactions. Counting them with count(*) read a whole index of each table: `status`
    grew with the archive (a million facts: tens of milliseconds, more when not cached).

    Keys: `documents`, `versions`, `facts`, `changes` (not baselines) and `alerts:STATUS`.
    """
    db.execute("CREATE TABLE row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    for table in ("documents", "versions", "facts"):
        db.execute(f"INSERT INTO row_counts VALUES ('{table}', (SELECT count(*) FROM {table}))")
        db.execute(f"CREATE TRIGGER row_counts_{table}_insert AFTER INSERT ON {table} BEGIN "
                   f"UPDATE row_counts SET n = n + 1 WHERE name = '{table}'; END")
        db.execute(f"CREATE TRIGGER row_counts_{table}_delete AFTER DELETE ON {table} BEGIN "
                   f"UPDATE row_counts SET n = n - 1 WHERE name = '{table}'; END")
    counted = "coalesce({row}.type != 'baseline', 0)"
    db.execute("INSERT INTO row_counts VALUES ('changes', "
               "(SELECT count(*) FROM changes WHERE type != 'baseline'))")
    db.execute("CREATE TRIGGER row_counts_changes_insert AFTER INSERT ON changes BEGIN "
               f"UPDATE row_counts SET n = n + {counted.format(row='new')} "
               "WHERE name = 'changes'; END")
    db.execute("CREATE TRIGGER row_counts_changes_delete AFTER DELETE ON changes BEGIN "
               f"UPDATE row_counts SET n = n - {counted.format(row='old')} "
               "WHERE name = 'changes'; END")
    db.execute("CREATE TRIGGER row_counts_changes_type AFTER UPDATE OF type ON changes BEGIN "
               f"UPDATE row_counts SET n = n + {counted.format(row='new')} - "
               f"{counted.format(row='old')} WHERE name = 'changes'; END")
    key = "'alerts:' || coalesce({row}.status, '')"
    db.execute("INSERT INTO row_counts SELECT 'alerts:' || coalesce(status, ''), count(*) "
               "FROM alerts GROUP BY 1")
    up = ("INSERT INTO row_counts VALUES ({key}, 1) "
          "ON CONFLICT(name) DO UPDATE SET n = n + 1;")
    down = "UPDATE row_counts SET n = n - 1 WHERE name = {key};"
    db.execute("CREATE TRIGGER row_counts_alerts_insert AFTER INSERT ON alerts BEGIN "
               f"{up.format(key=key.format(row='new'))} END")
    db.execute("CREATE TRIGGER row_counts_alerts_delete AFTER DELETE ON alerts BEGIN "
               f"{down.format(key=key.format(row='old'))} END")
    db.execute("CREATE TRIGGER row_counts_alerts_status AFTER UPDATE OF status ON alerts "
               "WHEN old.status IS NOT new.status BEGIN "
               f"{down.format(key=key.format(row='old'))} "
               f"{up.format(key=key.format(row='new'))} END")


@migrations()
def m009_cluster_runs(db: sqlite_utils.Database) -> None:
    """A cluster's runs: `runs.job`, the frontier job a run records (one run per job,
    found again by a writer that restarts), and what a run stored, found by its id (the
    writer counts a run from these)."""
    db.table("runs").add_column("job", str)
    db.table("runs").create_index(["job"], unique=True, if_not_exists=True)
    db.table("documents").create_index(["first_run"], if_not_exists=True)
    db.table("versions").create_index(["run_id"], if_not_exists=True)


class RunStatus(StrEnum):
    """A run's outcome, in `runs.status` and `sources.last_status` (see :func:`run_status`)."""

    RUNNING = "running"  # not finished yet (or its process stopped: see close_interrupted_runs)
    OK = "ok"  # no errors
    PARTIAL = "partial"  # errors, but some reports stored
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped before it finished; what it stored stays


@dataclass
class RunCounts:
    """What one crawl of one source did; stored in `runs`."""

    fetched: int = 0
    new_documents: int = 0
    new_versions: int = 0
    unchanged: int = 0
    errors: int = 0
    fallbacks: int = 0  # reports archived from the feed item because the page was unusable
    lost: int = 0  # reports fetched but not stored (each also counts as an error)

    @property
    def stored(self) -> int:
        """Reports the archive now holds from this run (new, revised or seen unchanged)."""
        return self.new_documents + self.new_versions + self.unchanged


def run_status(counts: RunCounts, source_failed: bool = False) -> RunStatus:
    """ok (no errors), partial (errors, but some reports stored) or failed.

    A run fails when its source itself could not be fetched (even if the HTTP cache
    answered for it), when it fetched nothing, or when it lost reports (the archive
    refused them) and stored none.
    """
    if not counts.errors:
        return RunStatus.OK
    if source_failed or not counts.fetched or (counts.lost and not counts.stored):
        return RunStatus.FAILED
    return RunStatus.PARTIAL


class StoreStatus(StrEnum):
    """What storing a report did."""

    NEW = "new"  # a document the archive did not have
    REVISED = "revised"  # a new version of a known document
    UNCHANGED = "unchanged"  # the same text again: only its last visit noted


@dataclass(frozen=True)
class Stored:
    """The outcome of storing one fetched report."""

    document_id: int
    version_id: int | None  # the new version, if the text changed
    status: StoreStatus


class Archive:
    """The archive database. Create with ``Archive.open(path)``."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Archive:
        """Open (and migrate) the archive at ``path``; ``create=False`` requires it to exist."""
        p = Path(path)
        if not create and not p.exists():
            raise ArchiveMissing(
                f"archive {str(p)!r} does not exist yet; run 'newswatch crawl' first"
            )
        if p.is_dir():
            raise unusable(p, IsADirectoryError("it is a folder"))
        conn: sqlite3.Connection | None = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(p), timeout=30, check_same_thread=False)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            db.execute("PRAGMA busy_timeout = 30000")
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            migrations.apply(db)
        except (OSError, sqlite3.DatabaseError) as e:
            if conn is not None:
                conn.close()
            raise unusable(p, e) from e
        archive = cls(db, p)
        archive._make_reserve()
        return archive

    @classmethod
    def open_readonly(cls, path: str | Path) -> Archive:
        """Open an existing archive for reading only (SQLite refuses writes)."""
        p = Path(path)
        if not p.exists():
            raise ArchiveMissing(
                f"archive {str(p)!r} does not exist yet; run 'newswatch crawl' first"
            )
        if p.is_dir():
            raise unusable(p, IsADirectoryError("it is a folder"))
        # On read-only media (a read-only folder or mount) SQLite cannot make the WAL
        # index beside the file; nothing can write there, so it is read as immutable.
        frozen = "&immutable=1" if not os.access(p.parent, os.W_OK) else ""
        conn = sqlite3.connect(f"file:{p.resolve()}?mode=ro{frozen}", uri=True, timeout=30)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # is it a database?
        except sqlite3.DatabaseError as e:
            conn.close()
            raise unusable(p, e) from e
        return cls(db, p)

    def close(self) -> None:
        self.db.close()

    RESERVE = 128 * 1024

    @property
    def reserve_path(self) -> Path | None:
        """A file of disk space kept beside the archive, to finish up on a full disk."""
        return Path(f"{self.path}.reserve") if self.path else None

    def _make_reserve(self) -> None:
        reserve = self.reserve_path
        if reserve is None or (reserve.exists() and reserve.stat().st_size >= self.RESERVE):
            return
        try:
            with open(reserve, "wb") as f:
                f.write(b"\0" * self.RESERVE)  # written, not sparse: the space is taken
        except OSError:
            reserve.unlink(missing_ok=True)  # no room even for that: nothing kept back

    def release_reserve(self) -> bool:
        """Free the reserved space (the disk is full); True if there was some."""
        reserve = self.reserve_path
        if reserve is None or not reserve.exists():
            return False
        reserve.unlink()
        return True

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the write lock at BEGIN (nested: a savepoint)."""
        if self.db.conn.in_transaction:
            with self.db.atomic():  # a savepoint
                yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.rollback()
                raise
            else:
                self.db.conn.commit()
        except (ArchiveWriteError, sqlite3.IntegrityError):
            raise
        except sqlite3.DatabaseError as e:
            raise self._write_error(e) from e

    def _write_error(self, error: sqlite3.Error) -> ArchiveWriteError:
        """The archive's own error for a failed write: says which archive, and why."""
        if self.db.conn.in_transaction:
            try:
                self.db.conn.rollback()
            except sqlite3.Error:
                pass
        where = self.path or "the archive"
        if _is_full(error):
            space = free_space(self.path) if self.path else "free space unknown"
            return ArchiveFull(f"the archive {where} is full ({space} on its disk): {error}")
        return ArchiveWriteError(f"writing to the archive {where} failed: {error}")

    def add(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row and return its id."""
        pk = self.db.table(table).insert(row).last_pk
        assert pk is not None
        return int(pk)

    # ------------------------------------------------------------ sources and runs

    def sync_sources(self, sources: Iterable[Any]) -> None:
        """Make the `sources` table list the configured sources (keeps their history)."""
        with self.write():
            for s in sources:
                self.db.table("sources").upsert(
                    {"name": s.name, "type": s.type, "url": s.url}, pk="name"
                )

    def start_run(self, source: str, job: str | None = None) -> int:
        """A new run of ``source`` (``job``: the cluster job it records; its run if it
        has one already)."""
        with self.write():
            if job is not None:
                known = self.scalar("SELECT id FROM runs WHERE job = ?", [job])
                if known is not None:
                    return int(known)
            return self.add("runs", {"source": source, "started": iso(),
                                     "status": RunStatus.RUNNING, "job": job})

    def finish_run(self, run_id: int, source: str, counts: RunCounts, details: list[str],
                   status: RunStatus | None = None) -> None:
        if status is None:
            status = run_status(counts)
        now = iso()
        with self.write():
            self.db.table("runs").update(
                run_id,
                {
                    "finished": now,
                    "status": status,
                    "fetched": counts.fetched,
                    "new_documents": counts.new_documents,
                    "new_versions": counts.new_versions,
                    "unchanged": counts.unchanged,
                    "errors": counts.errors,
                    "fallbacks": counts.fallbacks,
                    "lost": counts.lost,
                    "error_detail": json.dumps(details) if details else None,
                },
            )
            previous = self.scalar("SELECT error_streak FROM sources WHERE name = ?", [source])
            streak = 0
            if status == RunStatus.FAILED:
                streak = (previous or 0) + 1
            elif status == RunStatus.INTERRUPTED:
                streak = previous or 0  # an interrupted run says nothing about the source
            self.db.table("sources").upsert(
                {
                    "name": source,
                    "last_run": now,
                    "last_status": status,
                    "last_error": details[-1] if details else None,
                    "error_streak": streak,
                },
                pk="name",
            )

    def set_next_run(self, source: str, when: datetime) -> None:
        """When the service will crawl ``source`` next (shown by `status`)."""
        with self.write():
            self.db.execute("UPDATE sources SET next_run = ? WHERE name = ?", [iso(when), source])

    def close_interrupted_runs(self) -> int:
        """Runs a killed process left 'running' are marked 'interrupted' (call under the lock)."""
        now = iso()
        with self.write():
            cursor = self.db.execute(
                "UPDATE runs SET status = ?, finished = ? WHERE status = ? RETURNING source",
                [RunStatus.INTERRUPTED, now, RunStatus.RUNNING])
            runs = cursor.fetchall()
            sources = sorted({row[0] for row in runs})
            for source in sources:
                self.db.execute(
                    "UPDATE sources SET last_run = ?, last_status = ? WHERE name = ?",
                    [now, RunStatus.INTERRUPTED, source])
        if sources:
            log.warning("runs of %s were left running by a process that stopped; "
                        "marked 'interrupted'", ", ".join(sources))
        return len(runs)

    # ------------------------------------------------------------ documents

    def last_seen(self, url: str) -> datetime | None:
        """When the document at ``url`` was last fetched (None if it is not archived)."""
        last = self.scalar("SELECT last_seen FROM documents WHERE url = ?", [url])
        return datetime.fromisoformat(last) if last else None

    def run_stored(self, run_id: int) -> tuple[int, int]:
        """(new documents, new versions of known documents) that run ``run_id`` stored,
        from the archive itself: a cluster writer killed between a commit and its own
        tally still counts each report as what it was."""
        new = self.scalar("SELECT count(*) FROM documents WHERE first_run = ?", [run_id])
        revised = self.scalar(
            "SELECT count(*) FROM versions v JOIN documents d ON d.id = v.document_id "
            "WHERE v.run_id = ? AND d.first_run IS NOT ?", [run_id, run_id])
        return int(new or 0), int(revised or 0)

    def seen_documents(self, source: str, since: str) -> list[tuple[str, str | None, str]]:
        """(url, raw_hash, last_seen) of ``source``'s documents last seen at ``since`` or
        later (an ISO time): what a cluster's workers need to skip them."""
        return [tuple(row) for row in self.db.execute(
            "SELECT url, raw_hash, last_seen FROM documents WHERE source = ? AND "
            "last_seen >= ?", [source, since])]

    def known_raw_hash(self, url: str) -> str | None:
        row = self.db.execute("SELECT raw_hash FROM documents WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    def touch(self, url: str) -> None:
        """Record that an unchanged document was seen again."""
        with self.write():
            self.db.execute("UPDATE documents SET last_seen = ? WHERE url = ?", [iso(), url])

    def store(self, report: AnalyzedReport) -> Stored:
        """Store one analysed report; a new version only when its text changed.

        Its facts are stored with the new version in the same transaction, so a
        version never exists without its facts.
        """
        now = iso()
        content_hash = text_hash(report.text)
        with self.write():
            row = self.db.execute(
                "SELECT d.id, v.content_hash, v.via FROM documents d "
                "LEFT JOIN versions v ON v.id = d.current_version WHERE d.url = ?",
                [report.url],
            ).fetchone()
            meta = {
                "source": report.source,
                "title": report.title,
                "author": report.author,
                "published": report.published,
                "guid": report.guid,
                "last_seen": now,
                "raw_hash": report.raw_hash,
                "stories": json.dumps(list(report.stories)),
                "official": 1 if report.official else None,
            }
            if row is None:
                doc_id = self.add("documents", {"url": report.url, "first_seen": now,
                                                 "first_run": report.run_id, **meta})
                status = StoreStatus.NEW
            else:
                doc_id = row[0]
                # The feed's own text standing in for a page that failed this time
                # is not a revision of the page we archived.
                fallback = report.via == "feed" and row[2] == "page"
                if row[1] == content_hash or fallback:
                    # Keep what we knew when the new fetch lacks it (e.g. feed fallback).
                    meta = {k: v for k, v in meta.items() if v is not None}
                    self.db.table("documents").update(doc_id, meta)
                    return Stored(doc_id, None, StoreStatus.UNCHANGED)
                status = StoreStatus.REVISED
            version_id = self.add(
                "versions",
                {
                    "document_id": doc_id,
                    "fetched_at": now,
                    "content_hash": content_hash,
                    "title": report.title,
                    "text": report.text,
                    "published": report.published,
                    "via": report.via,
                    "run_id": report.run_id,
                    "facts_done": 0 if report.facts is None else 1,
                },
            )
            if report.facts:
                self.db.table("facts").insert_all(
                    {**row, "version_id": version_id, "document_id": doc_id}
                    for row in report.facts
                )
            self.db.table("documents").update(doc_id, {**meta, "current_version": version_id})
        return Stored(doc_id, version_id, status)

    # ------------------------------------------------------------ facts

    def versions_without_facts(self) -> Iterator[dict[str, Any]]:
        """Versions whose facts were not extracted yet (new, or interrupted by a crash)."""
        sql = (
            "SELECT v.id, v.document_id, v.text, v.title, "
            "coalesce(v.published, d.published) AS published, d.stories, d.url, d.source "
            "FROM versions v JOIN documents d ON d.id = v.document_id "
            "WHERE v.facts_done = 0 ORDER BY v.id"
        )
        yield from self.db.query(sql)

    def store_facts(self, version_id: int, rows: list[dict[str, Any]]) -> None:
        """Store a version's facts and mark it done, in one transaction."""
        with self.write():
            self.db.execute("DELETE FROM facts WHERE version_id = ?", [version_id])
            if rows:
                self.db.table("facts").insert_all(rows)
            self.db.table("versions").update(version_id, {"facts_done": 1})

    # ------------------------------------------------------------ read side

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.db.execute(sql, params or []).fetchone()
        return row[0] if row else None
