"""The background service: scheduled crawls, change detection and alert delivery.

One process, one asyncio loop: APScheduler's AsyncIOScheduler and Scrapy (on
Twisted's asyncio reactor) share it. Each source is one job (``max_instances=1``,
``coalesce``, jitter). After a crawl, change detection runs in a worker thread
with its own archive connection, one at a time. Alert delivery has a thread of
its own (:class:`Deliverer`): a crawl only wakes it, so a channel that hangs
(until its timeout) never holds up a crawl; the alert-retry job wakes it too.

With a ``cluster:`` section the service crawls nothing itself: each source's job
queues a crawl on the Redis frontier for `newswatch worker` processes, and a thread
of its own is the cluster's archive writer (crawler/cluster/writer.py), which stores
the workers' reports and detects changes after each run; delivery is as above.

Signals: SIGTERM/SIGINT stop scheduling and give the running crawls and the
delivery in progress ``service.grace`` seconds to finish; a delivery still hung
after that is abandoned (its alert stays 'sending' and is marked 'unknown' at the
next start, as after a kill). A second signal exits at once (the archive is the
source of truth, the next start repairs). SIGHUP reloads config.yaml (a bad file
is logged and the old config kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from crawler.archive.lock import ArchiveLock
from crawler.archive.store import Archive
from crawler.changes.records import ChangeType
from crawler.config.model import (
    DEFAULT_EVERY,
    Config,
    ConfigError,
    DigestConfig,
    Source,
    load_config,
)
from crawler.extraction.pages import Extractor
from crawler.pipeline import detect, recover
from crawler.scraping.crawl import crawl_sources

log = logging.getLogger(__name__)
T = TypeVar("T")


def _digest_trigger(digest: DigestConfig) -> Any:
    """The digest's schedule: an interval, or a crontab line in the digest's time zone."""
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if digest.cron:
        return CronTrigger.from_crontab(digest.cron, timezone=ZoneInfo(digest.timezone))
    assert digest.every is not None
    return IntervalTrigger(seconds=digest.every.total_seconds(), timezone=UTC)


def _trigger(source: Source, jitter: int) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=UTC)
    every = source.every or DEFAULT_EVERY
    # Jitter never more than half the interval, so short test intervals stay regular.
    limit = min(jitter, int(every.total_seconds() / 2))
    return IntervalTrigger(seconds=every.total_seconds(), jitter=limit or None, timezone=UTC)


def with_archive(config: Config, work: Callable[[Archive, Config], T]) -> T:
    """``work(archive, config)`` on an archive connection of its own (a thread's)."""
    with contextlib.closing(Archive.open(config.archive)) as archive:
        return work(archive, config)


class Deliverer:
    """Alert delivery in its own daemon thread: ``wake()`` asks for a pass, never waits.

    Each pass opens its own archive connection and delivers what is due with the
    config current at that moment. ``stop(timeout)`` lets the pass in progress finish
    for at most ``timeout`` seconds and says whether it did.
    """

    def __init__(self, config: Callable[[], Config]):
        self._config = config
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alert-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Stop after the current pass; True if the thread ended within ``timeout``."""
        self._stopping.set()
        self._wake.set()
        if self._thread.ident is None:  # never started
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.deliver(self._config())
            except Exception:  # one failed pass never ends delivery
                log.exception("alert delivery failed")

    @staticmethod
    def deliver(config: Config) -> None:
        from crawler.delivery import deliver_alerts

        with_archive(config, deliver_alerts)


class Service:
    """``Service(config).run()`` runs until stopped by a signal (or ``stop()``)."""

    def __init__(self, config: Config, reload: Callable[[], Config] | None = None):
        self.config = config
        self._reload = reload or (lambda: load_config(config.path))
        self.archive: Archive | None = None
        self.extractor = Extractor(config.crawl.extract_workers, config.crawl.extract_timeout)
        self.scheduler: Any = None
        self._stopping: asyncio.Event | None = None
        self._signals = 0
        self._detect_lock: asyncio.Lock | None = None
        self.deliverer = Deliverer(lambda: self.config)
        self._active: set[asyncio.Task[Any]] = set()
        self._threads: set[asyncio.Future[Any]] = set()
        # Cluster mode: the frontier's client and the archive writer's thread.
        self._redis: Any = None
        self._backoff: Any = None
        self._writer: Any = None
        self._writer_stop = threading.Event()
        self._writer_thread = threading.Thread(target=self._write_reports,
                                               name="archive-writer", daemon=True)

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        lock = ArchiveLock(self.config.archive)
        lock.acquire()  # ArchiveBusy: another instance owns this archive
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._detect_lock = asyncio.Lock()
        self.archive = Archive.open(self.config.archive)
        try:
            recover(self.archive)
            self.archive.sync_sources(self.config.sources)
            self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
            self._schedule()
            self.scheduler.start()
            self.deliverer.start()
            self.deliverer.wake()  # what a previous process left due
            if self.config.cluster is not None:
                self._start_cluster()
            for sig, handler in ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
                                 (signal.SIGHUP, self._on_reload)):
                loop.add_signal_handler(sig, handler)
            log.info("service started: %d source(s), archive %s (pid %d)",
                     len(self.config.sources), self.config.archive, os.getpid())
            await self._stopping.wait()
            abandoned = await self._shutdown()
        except BaseException:
            self._writer_stop.set()
            abandoned = not self.deliverer.stop(0) or self._writer_thread.is_alive()
            raise
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            self.extractor.close()
            if self._redis is not None:
                await self._redis.aclose()
            self.archive.close()
            # A delivery abandoned in flight may still record its outcome: the lock
            # stays held until this process exits, so no new writer sees that row.
            if not abandoned:
                lock.release()
            log.info("service stopped")

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def _on_stop(self) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: exiting now; the next start completes the work")
            os._exit(1)
        log.info("stopping: no new crawls; waiting up to %.0fs for running ones",
                 self.config.service.grace)
        self.stop()

    def _on_reload(self) -> None:
        try:
            config = self._reload()
        except ConfigError as e:
            log.error("config reload failed, keeping the running config: %s", e)
            return
        if config.archive != self.config.archive:
            log.error("config reload: the archive path cannot change while running; "
                      "restart the service instead")
            return
        if (config.cluster is None) != (self.config.cluster is None):
            log.error("config reload: the cluster: section cannot be added or removed while "
                      "running; restart the service instead")
            return
        if config.cluster != self.config.cluster:
            log.warning("config reload: changes to the cluster: section take effect at the "
                        "next start")
        previous, self.config = self.config, config
        if self._writer is not None:
            self._writer.config = config
        assert self.archive is not None
        self.archive.sync_sources(config.sources)
        self._schedule(previous)
        log.info("config reloaded: %d source(s)", len(config.sources))

    async def _shutdown(self) -> bool:
        """Let crawls and the delivery in progress finish within the grace period.

        Returns True if a delivery had to be abandoned (it is still in flight).
        """
        self.scheduler.pause()  # no new runs; running ones go on (shutdown would cancel them)
        deadline = time.monotonic() + self.config.service.grace
        if self.config.cluster is not None:
            # Queueing a crawl takes no time unless Redis is down: then it waits for a
            # Redis that may not come back, and a skipped queueing loses nothing (the
            # source is queued at its next due time after the restart).
            for task in self._active:
                task.cancel()
        if self._active:
            _, pending = await asyncio.wait(set(self._active), timeout=self.config.service.grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("%d crawl(s) cut short after the grace period", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        if self._threads:
            await asyncio.gather(*self._threads, return_exceptions=True)
        self.scheduler.shutdown(wait=False)
        if self._writer_thread.ident is not None:
            self._writer_stop.set()
            left = max(0.0, deadline - time.monotonic())
            await asyncio.to_thread(self._writer_thread.join, left)
            if self._writer_thread.is_alive():
                log.warning("the archive writer is still busy after the grace period: "
                            "abandoned; its unacknowledged reports are read again at the "
                            "next start")
        left = max(0.0, deadline - time.monotonic())
        if await asyncio.to_thread(self.deliverer.stop, left) and \
                not self._writer_thread.is_alive():
            return False
        log.warning("alert delivery still in progress after the grace period: abandoned; "
                    "an alert being sent stays 'sending' and is marked 'unknown' at the "
                    "next start (not resent)")
        return True

    # ------------------------------------------------------------------ jobs

    def _schedule(self, previous: Config | None = None) -> None:
        """(Re)create the jobs; on a reload, unchanged sources keep their next run."""
        before = {s.name: s for s in previous.sources} if previous else {}
        known = {job.id for job in self.scheduler.get_jobs()}
        wanted = {f"source:{s.name}" for s in self.config.sources if s.enabled}
        for job_id in known - wanted - {"alerts", "digest"}:
            self.scheduler.remove_job(job_id)
        now = datetime.now(UTC)
        for source in self.config.sources:
            job_id = f"source:{source.name}"
            if not source.enabled or (job_id in known and before.get(source.name) == source):
                continue
            # New sources run at once; a changed one runs on its new schedule.
            first = {"next_run_time": now} if job_id not in known else {}
            job = self._crawl_job if self.config.cluster is None else self._enqueue_job
            self.scheduler.add_job(
                job, _trigger(source, self.config.service.jitter),
                args=[source.name], id=job_id, name=source.name, replace_existing=True,
                max_instances=1, coalesce=True, misfire_grace_time=None, **first,
            )
        self.scheduler.add_job(
            self._alerts_job, "interval", seconds=self.config.alerts.every.total_seconds(),
            id="alerts", max_instances=1, coalesce=True, misfire_grace_time=None,
            replace_existing=True,
        )
        digest = self.config.alerts.digest
        if digest is None:
            if "digest" in known:
                self.scheduler.remove_job("digest")
        elif previous is None or previous.alerts.digest != digest or "digest" not in known:
            self.scheduler.add_job(
                self._digest_job, _digest_trigger(digest), id="digest", max_instances=1,
                coalesce=True, misfire_grace_time=None, replace_existing=True)

    @contextlib.asynccontextmanager
    async def _source_job(self, name: str, what: str) -> AsyncIterator[None]:
        """A source's scheduled job: awaited by the shutdown's grace period, its failure
        logged (one failing source never stops the service), its next run recorded."""
        task = asyncio.current_task()
        assert task is not None
        self._active.add(task)
        try:
            yield
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("[%s] %s failed", name, what)
        finally:
            self._active.discard(task)
            self._record_next_run(name)

    async def _crawl_job(self, name: str) -> None:
        assert self.archive is not None
        async with self._source_job(name, "crawl job"):
            source = self.config.source(name)
            runs = await crawl_sources(self.config, self.archive, [source], self.extractor)
            for run in runs:
                c = run.counts
                log.info("[%s run %d] %s: %d fetched, %d new, %d revised, %d errors",
                         run.source, run.run_id, run.status, c.fetched, c.new_documents,
                         c.new_versions, c.errors)
            await self._detect()

    async def _enqueue_job(self, name: str) -> None:
        """Cluster mode: queue the source's crawl for the workers (waits out a Redis
        that is down, logging one line; the next due run is then coalesced)."""
        from crawler.cluster.connection import retrying_async
        from crawler.cluster.frontier import enqueue_async

        async with self._source_job(name, "queueing the crawl"):
            try:
                queued = await retrying_async(self._backoff,
                                              lambda: enqueue_async(self._redis, [name]))
            except asyncio.CancelledError:  # stopping: nothing was queued, nothing lost
                log.info("[%s] not queued: the service is stopping", name)
                return
            if queued[name] is None:
                log.info("[%s] still queued or being crawled: not queued again", name)
            else:
                log.info("[%s] queued for the workers as job %s", name, queued[name])

    def _start_cluster(self) -> None:
        from crawler.cluster.connection import Backoff, async_client

        assert self.config.cluster is not None
        self._redis = async_client(self.config.cluster.redis)
        self._backoff = Backoff("service", self.config.cluster.redis, client=self._redis)
        self._writer_thread.start()
        log.info("cluster mode: sources are queued at %s for `newswatch worker`; this "
                 "process archives their reports", self._backoff.url)

    def _write_reports(self) -> None:
        """The archive writer's thread (cluster mode): its own archive connection;
        restarted after an unexpected error, until the service stops."""
        from crawler.cluster.connection import Stopped
        from crawler.cluster.writer import Writer

        while not self._writer_stop.is_set():
            try:
                with contextlib.closing(Archive.open(self.config.archive)) as archive:
                    self._writer = Writer(self.config, archive, after=self._after_reports,
                                          stop=self._writer_stop)
                    try:
                        self._writer.run()
                    finally:
                        self._writer.close()
            except Stopped:
                return
            except Exception:
                log.exception("archive writer failed; restarting it in 5 s")
                self._writer_stop.wait(5)

    def _after_reports(self, archive: Archive, config: Config) -> None:
        """After a cluster run is archived: changes (in the writer's thread), then wake
        the delivery."""
        self._log_changes(detect(archive, config))
        self.deliverer.wake()

    async def _alerts_job(self) -> None:
        self.deliverer.wake()  # retries that came due; never waits for the delivery

    async def _in_thread(self, work: Callable[[Archive, Config], Any]) -> Any:
        """``work(archive, config)`` in a thread with its own archive connection.

        Shielded and tracked: a cancelled job must not release the archive lock while
        its thread is still writing.
        """
        future = asyncio.get_running_loop().run_in_executor(
            None, with_archive, self.config, work)
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    async def _digest_job(self) -> None:
        """Queue this period's digest (in a thread: it writes the archive), then deliver."""
        from crawler.delivery import queue_digest

        await self._in_thread(queue_digest)
        self.deliverer.wake()

    async def _detect(self) -> None:
        """Detect changes in a thread, one pass at a time, then wake the delivery."""
        assert self._detect_lock is not None
        async with self._detect_lock:
            self._log_changes(await self._in_thread(detect))
        self.deliverer.wake()

    @staticmethod
    def _log_changes(result: Any) -> None:
        for change in result.changes:
            if change.type != ChangeType.BASELINE:
                log.info("%s %s: %s -> %s (%d alert(s))", change.tracker, change.type,
                         change.old_display, change.new_display, change.alerts)

    def _record_next_run(self, name: str) -> None:
        job = self.scheduler.get_job(f"source:{name}") if self.scheduler else None
        if job is None or self.archive is None or job.next_run_time is None:
            return
        try:
            self.archive.set_next_run(name, job.next_run_time)
        except Exception:  # the status line is informative only
            log.debug("could not record next run of %s", name, exc_info=True)
