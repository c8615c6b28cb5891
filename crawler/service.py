"""The background service: scheduled crawls, change detection and alert delivery.

One process, one asyncio loop: APScheduler's AsyncIOScheduler and Scrapy (on
Twisted's asyncio reactor) share it. Each source is one job (``max_instances=1``,
``coalesce``, jitter); alert retries have a job of their own. Change detection
and delivery (which may block on SMTP) run in a worker thread with their own
archive connection, one at a time.

Signals: SIGTERM/SIGINT stop scheduling and give the running crawls
``service.grace`` seconds to finish their in-flight items; a second signal exits
at once (the archive is the source of truth, the next start repairs). SIGHUP
reloads config.yaml (a bad file is logged and the old config kept).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.archive.lock import ArchiveLock
from crawler.archive.store import Archive
from crawler.config.model import Config, ConfigError, Source, load_config
from crawler.extraction.pages import Extractor
from crawler.pipeline import after_crawl, recover
from crawler.scraping.crawl import crawl_sources

log = logging.getLogger(__name__)


def _trigger(source: Source, jitter: int) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if source.cron:
        return CronTrigger.from_crontab(source.cron, timezone=UTC)
    every = source.every or timedelta(minutes=30)
    # Jitter never more than half the interval, so short test intervals stay regular.
    limit = min(jitter, int(every.total_seconds() / 2))
    return IntervalTrigger(seconds=every.total_seconds(), jitter=limit or None, timezone=UTC)


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
        self._post_lock: asyncio.Lock | None = None
        self._active: set[asyncio.Task[Any]] = set()
        self._threads: set[asyncio.Future[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        lock = ArchiveLock(self.config.archive)
        lock.acquire()  # ArchiveBusy: another instance owns this archive
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._post_lock = asyncio.Lock()
        self.archive = Archive.open(self.config.archive)
        try:
            recover(self.archive)
            self.archive.sync_sources(self.config.sources)
            self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
            self._schedule()
            self.scheduler.start()
            for sig, handler in ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
                                 (signal.SIGHUP, self._on_reload)):
                loop.add_signal_handler(sig, handler)
            log.info("service started: %d source(s), archive %s (pid %d)",
                     len(self.config.sources), self.config.archive, os.getpid())
            await self._stopping.wait()
            await self._shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            self.extractor.close()
            self.archive.close()
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
        previous, self.config = self.config, config
        assert self.archive is not None
        self.archive.sync_sources(config.sources)
        self._schedule(previous)
        log.info("config reloaded: %d source(s)", len(config.sources))

    async def _shutdown(self) -> None:
        self.scheduler.pause()  # no new runs; running ones go on (shutdown would cancel them)
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

    # ------------------------------------------------------------------ jobs

    def _schedule(self, previous: Config | None = None) -> None:
        """(Re)create the jobs; on a reload, unchanged sources keep their next run."""
        before = {s.name: s for s in previous.sources} if previous else {}
        known = {job.id for job in self.scheduler.get_jobs()}
        wanted = {f"source:{s.name}" for s in self.config.sources if s.enabled}
        for job_id in known - wanted - {"alerts"}:
            self.scheduler.remove_job(job_id)
        now = datetime.now(UTC)
        for source in self.config.sources:
            job_id = f"source:{source.name}"
            if not source.enabled or (job_id in known and before.get(source.name) == source):
                continue
            # New sources run at once; a changed one runs on its new schedule.
            first = {"next_run_time": now} if job_id not in known else {}
            self.scheduler.add_job(
                self._crawl_job, _trigger(source, self.config.service.jitter),
                args=[source.name], id=job_id, name=source.name, replace_existing=True,
                max_instances=1, coalesce=True, misfire_grace_time=None, **first,
            )
        self.scheduler.add_job(
            self._alerts_job, "interval", seconds=self.config.alerts.every.total_seconds(),
            id="alerts", max_instances=1, coalesce=True, misfire_grace_time=None,
            replace_existing=True,
        )

    async def _crawl_job(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None and self.archive is not None
        self._active.add(task)
        try:
            source = self.config.source(name)
            runs = await crawl_sources(self.config, self.archive, [source], self.extractor)
            for run in runs:
                c = run.counts
                log.info("[%s run %d] %s: %d fetched, %d new, %d revised, %d errors",
                         run.source, run.run_id, run.status, c.fetched, c.new_documents,
                         c.new_versions, c.errors)
            await self._post_process()
        except asyncio.CancelledError:
            raise
        except Exception:  # one failing source never stops the service
            log.exception("[%s] crawl job failed", name)
        finally:
            self._active.discard(task)
            self._record_next_run(name)

    async def _alerts_job(self) -> None:
        try:
            await self._post_process()
        except Exception:
            log.exception("alert delivery failed")

    async def _post_process(self) -> None:
        """Detect changes and deliver alerts in a thread (SMTP may block), one at a time."""
        assert self._post_lock is not None
        async with self._post_lock:
            # Shielded and tracked: a cancelled job must not release the archive
            # lock while its thread is still delivering alerts.
            work = asyncio.get_running_loop().run_in_executor(
                None, self._post_process_sync, self.config)
            self._threads.add(work)
            work.add_done_callback(self._threads.discard)
            await asyncio.shield(work)

    @staticmethod
    def _post_process_sync(config: Config) -> None:
        archive = Archive.open(config.archive)
        try:
            result = after_crawl(archive, config)
        finally:
            archive.close()
        for change in result.changes:
            if change.type != "baseline":
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
