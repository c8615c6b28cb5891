"""`newswatch writer`: the one archive writer of a cluster.

It reads the reports stream (consumer group ``writer``), stores each report with
``Archive.store``, records each job's run when the worker's outcome arrives, runs the
usual pass after a crawl (facts repair, change detection, alert delivery), and
acknowledges messages only after their SQLite commit. A writer that stops before
acknowledging reads its own unacknowledged messages again first when it restarts.

Redelivery stores nothing twice: the same text of a URL is a no-op in the archive. A
run's new documents and versions are counted from the archive (what carries its run
id), so a writer killed between a commit and its bookkeeping still counts them right;
the job's tally (``newswatch:job:<id>:docs``, url -> new | revised | unchanged | lost)
has one entry per URL, for the unchanged and the lost. A job taken over from a dead
worker is the same job, so the same run.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import Any

import redis

from crawler.archive.store import (
    Archive,
    ArchiveWriteError,
    RunCounts,
    RunStatus,
    StoreStatus,
    iso,
    run_status,
    utcnow,
)
from crawler.cluster.connection import Backoff, Stopped, client, retrying
from crawler.cluster.frontier import (
    REPORTS,
    WRITER,
    ensure_group,
    job_docs_key,
    job_key,
    seen_key,
)
from crawler.config.model import ClusterConfig, Config
from crawler.extraction.records import AnalyzedReport

log = logging.getLogger(__name__)

BATCH = 200  # messages read at once (the one writer is the group's one consumer)
KEEP_JOB_RECORDS = 7 * 24 * 3600  # seconds a finished job's records stay (late redeliveries)
class Tally(StrEnum):
    """What became of a URL in a job (``newswatch:job:<id>:docs``): how storing its
    report went (StoreStatus's values), or why there was nothing to store."""

    NEW = StoreStatus.NEW.value
    REVISED = StoreStatus.REVISED.value
    UNCHANGED = StoreStatus.UNCHANGED.value
    LOST = "lost"  # the archive refused it (counted as an error of the run)
    SEEN = "seen"  # fetched again byte for byte as archived: not extracted
    NOT_DUE = "not-due"  # a known article not due for a revisit: not fetched


# A URL's first outcome stands, unless it was one of these and the URL is now stored.
_PROVISIONAL = (Tally.UNCHANGED, Tally.LOST, Tally.SEEN, Tally.NOT_DUE)
KEEP_SEEN = timedelta(days=30)  # workers forget URLs not seen for this long (gone from feeds)


class Writer:
    """Consume the reports stream into the archive."""

    def __init__(self, config: Config, archive: Archive,
                 after: Callable[[Archive, Config], Any] | None = None,
                 stop: threading.Event | None = None):
        self.cluster: ClusterConfig = config.require_cluster()
        self.config = config
        self.archive = archive
        # What follows a finished run (default: facts, changes and alert delivery, as
        # after `crawl`; the service detects here and delivers in its own thread).
        self.after = after
        self.stop = stop or threading.Event()
        self.r = client(self.cluster.redis)
        self.backoff = Backoff("writer", self.cluster.redis, client=self.r, stop=self.stop)
        self.backlog = True  # first our own unacknowledged messages (a restart)
        self.reseed = False  # Redis was emptied: seed the workers' record again
        self._visits: dict[str, dict[str, str]] = {}  # source -> url -> "hash when", unsent
        self._runs: dict[str, int] = {}  # job -> its run in the archive (kept there too)
        self.stored = 0  # reports stored by this writer (new or revised)
        archive.sync_sources(config.sources)
        retrying(self.backoff, lambda: ensure_group(self.r, REPORTS, WRITER))

    def run(self) -> None:
        """Consume until ``self.stop`` is set (checked at least every second, and while
        waiting for a Redis that is down)."""
        self.after_crawl()  # what a writer that stopped early left undone
        try:
            self.seed_seen()
            log.info("writer: archiving reports from %s into %s", self.backoff.url,
                     self.archive.path)
            while not self.stop.is_set():
                self.step()
        except Stopped:
            log.info("writer: stopped while redis was down; unacknowledged reports wait "
                     "for the next start")

    def step(self, block: float = 1.0) -> int:
        """Read and handle one batch; returns how many messages were acknowledged."""
        entries = retrying(self.backoff, lambda: self._read(block))
        if self.reseed:  # Redis lost its data: give workers the archive's record again
            self.reseed = False
            self.seed_seen(every_source=True)
        if not entries:
            return 0
        done: list[str] = []
        finished = 0
        try:
            for entry_id, fields in entries:
                finished += self._handle(fields)
                done.append(entry_id)
        except ArchiveWriteError as e:
            # A full disk, a lock held too long: keep the rest unacknowledged, and read
            # them again first.
            log.error("writer: could not archive (%s); retrying in 5 s", e)
            self.backlog = True
            self.stop.wait(5)
        self._tell_workers()
        if done:
            self._ack(done)
        if finished:
            self.after_crawl()
        return len(done)

    def _read(self, block: float) -> list[tuple[str, dict[str, str]]]:
        """Our own unacknowledged messages first (after a restart), then new ones."""
        try:
            if self.backlog:
                entries = self._entries(self.r.xreadgroup(
                    WRITER, WRITER, {REPORTS: "0"}, count=BATCH))
                if entries:
                    return entries
                self.backlog = False
            return self._entries(self.r.xreadgroup(
                WRITER, WRITER, {REPORTS: ">"}, count=BATCH,
                block=int(block * 1000)))
        except redis.exceptions.ResponseError as e:
            if "NOGROUP" not in str(e):
                raise
            ensure_group(self.r, REPORTS, WRITER)  # a new or emptied Redis
            self.reseed = True
            return []

    @staticmethod
    def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
        return [e for _stream, es in reply or [] for e in es]

    def _ack(self, ids: list[str]) -> None:
        self._in_one_trip(lambda pipe: (pipe.xack(REPORTS, WRITER, *ids),
                                        pipe.xdel(REPORTS, *ids)))

    def _in_one_trip(self, commands: Callable[[Any], Any]) -> None:
        """Send what ``commands(pipe)`` queues as one pipeline, until Redis takes it (a
        pipeline is emptied by a failed send, so each try queues the commands again)."""
        def send() -> Any:
            pipe = self.r.pipeline()
            commands(pipe)
            return pipe.execute()

        retrying(self.backoff, send)

    def _handle(self, fields: dict[str, str] | None) -> int:
        """Store one message; 1 if it finished a run. Malformed messages are logged."""
        if not fields:  # deleted while pending
            return 0
        try:
            job, source, kind = fields["job"], fields["source"], fields["kind"]
            body = json.loads(fields["body"])
        except (KeyError, ValueError) as e:
            log.error("writer: dropped a malformed message (%s): %.200r", e, fields)
            return 0
        if kind == "report":
            self._store(job, source, body)
            return 0
        if kind == "seen":
            self._seen_again(job, source, body)
            return 0
        if kind == "run":
            return self._finish(job, source, body)
        log.error("writer: dropped a message of unknown kind %r", kind)
        return 0

    def _run_id(self, job: str, source: str) -> int:
        """The archive's run for ``job`` (started at its first message, and found again
        in the archive by a writer that restarts)."""
        if job not in self._runs:
            self._runs[job] = self.archive.start_run(source, job=job)
        return self._runs[job]

    def _tally(self, job: str, url: str, outcome: Tally) -> str | None:
        """Record what became of ``url`` in this job; a URL keeps its first outcome,
        unless that was a skip or a loss and it is now stored. Returns the previous."""
        docs = job_docs_key(job)
        previous: Any = retrying(self.backoff, lambda: self.r.hget(docs, url))
        if previous is None or (previous in _PROVISIONAL and outcome != previous
                                and outcome != Tally.NOT_DUE):
            retrying(self.backoff, lambda: self.r.hset(docs, url, outcome))
        return previous

    def _store(self, job: str, source: str, report: dict[str, Any]) -> None:
        url = report.get("url")
        try:
            report["run_id"] = self._run_id(job, source)
            stored = AnalyzedReport.from_dict(report)
            status = Tally(self.archive.store(stored).status)
            self._remember(source, stored.url, stored.raw_hash)
        except ArchiveWriteError:
            raise
        except (sqlite3.Error, KeyError, TypeError) as e:
            log.error("writer: [%s] not stored (%s: %s): %s", source, type(e).__name__, e, url)
            status = Tally.LOST
        previous = self._tally(job, str(url), status)
        if status in (Tally.NEW, Tally.REVISED) and previous is None:
            self.stored += 1

    def _seen_again(self, job: str, source: str, body: dict[str, Any]) -> None:
        """A worker fetched a page again, byte for byte as archived: note the visit."""
        url = body.get("url")
        if not isinstance(url, str):
            log.error("writer: dropped a malformed 'seen' message: %.200r", body)
            return
        self.archive.touch(url)
        self._remember(source, url, body.get("raw_hash"))
        self._tally(job, url, Tally.SEEN)

    def _remember(self, source: str, url: str, raw_hash: str | None) -> None:
        """Note for the workers what the archive now holds of ``url`` (its hash, visited
        now); written by :meth:`_tell_workers`, before the batch is acknowledged."""
        self._visits.setdefault(source, {})[url] = f"{raw_hash or ''} {iso()}"

    def _tell_workers(self) -> None:
        """Write the visits noted so far: one HSET per source, not one per report."""
        visits, self._visits = self._visits, {}
        if visits:
            self._in_one_trip(lambda pipe: [pipe.hset(seen_key(source), mapping=mapping)
                                             for source, mapping in visits.items()])

    def seed_seen(self, every_source: bool = False) -> None:
        """Give workers what the archive holds of each source they have no record of
        (an archive from before the cluster), or of ``every_source`` (Redis lost its
        data, and a new record may have begun since)."""
        since = iso(utcnow() - KEEP_SEEN)
        for name in (s.name for s in self.config.sources):
            key = seen_key(name)
            if not every_source and retrying(self.backoff, partial(self.r.exists, key)):
                continue
            known = self.archive.seen_documents(name, since)
            for start in range(0, len(known), 1000):
                mapping: dict[Any, Any] = {
                    url: f"{raw_hash or ''} {when}"
                    for url, raw_hash, when in known[start:start + 1000]}
                retrying(self.backoff, partial(self.r.hset, key, mapping=mapping))

    def _forget_old(self, source: str) -> None:
        """Drop the workers' record of URLs not seen for ``KEEP_SEEN`` (gone from feeds)."""
        since = iso(utcnow() - KEEP_SEEN)
        seen: Any = retrying(self.backoff, lambda: self.r.hgetall(seen_key(source)))
        old = [url for url, value in seen.items() if value.partition(" ")[2] < since]
        if old:
            retrying(self.backoff, lambda: self.r.hdel(seen_key(source), *old))

    def _finish(self, job: str, source: str, outcome: dict[str, Any]) -> int:
        key = job_key(job)
        if retrying(self.backoff, lambda: self.r.hget(key, "finished")):
            return 0  # a redelivery: the run is recorded
        run_id = self._run_id(job, source)
        counts = RunCounts(**outcome.get("counts", {}))
        not_due = [u for u in outcome.get("not_due") or () if isinstance(u, str)]
        if not_due:
            self._in_one_trip(lambda pipe: [pipe.hsetnx(job_docs_key(job), url, Tally.NOT_DUE)
                                             for url in not_due])
        tally = list(retrying(self.backoff, lambda: self.r.hvals(job_docs_key(job))))
        # One tally entry per URL, whichever workers crawled the job (one taken over
        # is crawled again from the start): new and revised from the archive (a writer
        # killed between a commit and the tally finds its report unchanged when it is
        # delivered again), the rest from the tally.
        counts.new_documents, counts.new_versions = self.archive.run_stored(run_id)
        lost = tally.count(Tally.LOST)
        counts.unchanged = max(0, len(tally) - lost - counts.new_documents
                               - counts.new_versions)
        counts.fetched = max(counts.fetched, len(tally) - tally.count(Tally.NOT_DUE))
        counts.lost += lost
        counts.errors += lost
        details = list(outcome.get("details") or [])
        if lost:
            details.append(f"{lost} reports not stored by the archive writer")
        status = outcome.get("status") or RunStatus.FAILED
        if status not in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            status = run_status(counts)
        self.archive.finish_run(run_id, source, counts, details, status=status)
        self._in_one_trip(lambda pipe: (pipe.hset(key, "finished", 1),
                                        pipe.expire(key, KEEP_JOB_RECORDS),
                                        pipe.expire(job_docs_key(job), KEEP_JOB_RECORDS)))
        self._tell_workers()
        self._forget_old(source)
        self._runs.pop(job, None)
        log.info("writer: [%s run %s] %s: %d new, %d revised, %d unchanged", source, run_id,
                 status, counts.new_documents, counts.new_versions, counts.unchanged)
        return 1

    def after_crawl(self) -> None:
        """Facts repair, change detection and alert delivery, as after a crawl."""
        from crawler.pipeline import after_crawl

        try:
            (self.after or after_crawl)(self.archive, self.config)
        except ArchiveWriteError as e:
            log.error("writer: changes and alerts not processed: %s", e)

    def close(self) -> None:
        self.r.close()
