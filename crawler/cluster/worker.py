"""`newswatch worker`: take source jobs from the frontier, crawl, queue the reports.

A worker runs the same spiders, extraction and per-run bookkeeping as `crawl`
(crawler.scraping.crawl.crawl_sources), with three differences:

- each extracted report is pushed to the reports stream (the archive writer stores it)
  instead of into the archive;
- every download holds one of its domain's slots in Redis, so ``crawl.per_domain`` holds
  across all workers (crawler/cluster/limiter.py);
- the job is acknowledged only after all its reports and the run's outcome are queued;
  while crawling, the worker renews its lease on the job, and a worker that dies
  leaves a job that another takes over once the lease runs out.

The worker keeps its own small files in ``workdir``: a scratch archive (its run
bookkeeping; nothing of it is shared) and its HTTP cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.archive.store import Archive, RunStatus
from crawler.cluster.connection import DOWN, Backoff, async_client, retrying_async
from crawler.cluster.frontier import Frontier, Job
from crawler.cluster.heartbeat import EVERY as HEARTBEAT_EVERY
from crawler.cluster.heartbeat import Heartbeat, WorkerState
from crawler.cluster.limiter import DomainSlots
from crawler.config.model import ClusterConfig, Config, ConfigError, Source
from crawler.extraction.pages import Extractor
from crawler.extraction.records import AnalyzedReport

if TYPE_CHECKING:
    from crawler.scraping.crawl import CrawlContext

log = logging.getLogger(__name__)

MIDDLEWARE = "crawler.cluster.limiter.DomainSlotsMiddleware"


class JobArchive:
    """The archive as one job sees it (crawler.scraping.crawl.RemoteArchive): what the
    writer had seen of the source's documents when the job began (url -> raw hash and
    last visit), and the reports queue."""

    def __init__(self, frontier: Frontier, job: Job, backoff: Backoff,
                 seen: Mapping[str, str]):
        self.frontier = frontier
        self.job = job
        self.backoff = backoff
        self.seen = seen
        self.not_due_urls: list[str] = []  # known articles skipped: not due for a revisit

    def _entry(self, url: str) -> tuple[str, str] | None:
        value = self.seen.get(url)
        if not value:
            return None
        raw_hash, _, when = value.partition(" ")
        return raw_hash, when

    def last_seen(self, url: str) -> datetime | None:
        entry = self._entry(url)
        try:
            return datetime.fromisoformat(entry[1]) if entry else None
        except ValueError:  # not written by a writer: visit it
            return None

    def known_raw_hash(self, url: str) -> str | None:
        entry = self._entry(url)
        return entry[0] or None if entry else None

    def not_due(self, url: str) -> None:
        self.not_due_urls.append(url)

    async def store(self, report: AnalyzedReport) -> None:
        body = report.to_dict()
        await retrying_async(self.backoff, lambda: self.frontier.push("report", self.job, body))

    async def touch(self, url: str, raw_hash: str) -> None:
        body = {"url": url, "raw_hash": raw_hash}
        await retrying_async(self.backoff, lambda: self.frontier.push("seen", self.job, body))


class Worker:
    """One worker process: crawls up to ``parallel`` jobs at once until cancelled."""

    def __init__(self, config: Config, name: str, workdir: Path, parallel: int = 4):
        self.cluster: ClusterConfig = config.require_cluster()
        self.config = config
        self.name = name
        self.workdir = workdir
        self.parallel = max(1, parallel)  # jobs crawled at once, as `crawl` crawls sources
        self.backoff = Backoff(f"worker {name}", self.cluster.redis)

    async def run(self, jobs: int | None = None) -> int:
        """Claim and crawl jobs (``jobs`` of them, or until cancelled); returns jobs done."""
        from crawler.scraping.settings import DOWNLOADER_MIDDLEWARES

        self.workdir.mkdir(parents=True, exist_ok=True)
        r = async_client(self.cluster.redis)
        self.backoff.client = r
        frontier = Frontier(r, self.name, self.cluster.lease)
        # The longest a download may hold its slot: its timeout, after the throttle's
        # longest delay (AutoThrottle's 30 s cap, Retry-After), with a margin.
        slots = DomainSlots(r, self.backoff, self.config.crawl.per_domain,
                            self.cluster.lease, max_hold=self.config.crawl.timeout + 90)
        local = replace(self.config, archive=self.workdir / "worker.db")
        archive = Archive.open(local.archive)
        extractor = Extractor(self.config.crawl.extract_workers,
                              self.config.crawl.extract_timeout)
        # The slots after the HTTP cache: a fresh cached answer needs none.
        middlewares = {**DOWNLOADER_MIDDLEWARES, MIDDLEWARE: 950}
        overrides = {"DOWNLOADER_MIDDLEWARES": middlewares, "NEWSWATCH_DOMAIN_SLOTS": slots,
                     "HTTPCACHE_DIR": str(self.workdir / "http-cache")}
        log.info("worker %s: waiting for jobs at %s (%d at a time)", self.name,
                 self.backoff.url, self.parallel)
        done = 0
        self.heartbeat = Heartbeat(r, self.name)
        beating = asyncio.ensure_future(self._beat())

        async def take_jobs() -> None:
            nonlocal done
            while jobs is None or done < jobs:
                job = await retrying_async(self.backoff, frontier.claim)
                if job is None:
                    continue
                done += 1  # counted when taken, so --max-jobs N takes exactly N
                await self._run_job(job, frontier, local, archive, extractor, overrides)

        try:
            # return_exceptions: when stopped, wait for every job to hand itself back (an
            # idle one's cancellation would otherwise end the gather, and the worker, at once)
            for outcome in await asyncio.gather(*(take_jobs() for _ in range(self.parallel)),
                                                return_exceptions=True):
                if isinstance(outcome, BaseException):
                    raise outcome
        finally:
            beating.cancel()
            with contextlib.suppress(BaseException):
                await beating
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.heartbeat.beat(WorkerState.STOPPED), 2)
            extractor.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(slots.close(), 5)
            archive.close()
            with contextlib.suppress(Exception):
                await r.aclose()
        return done

    async def _run_job(self, job: Job, frontier: Frontier, local: Config, archive: Archive,
                       extractor: Extractor, overrides: dict[str, Any]) -> None:
        try:
            source = self.config.source(job.source)
        except ConfigError as e:
            log.error("worker %s: job %s dropped: %s", self.name, job.id, e)
            await self._finish(frontier, job, None)
            return
        if job.failed_attempts >= self.cluster.max_attempts:
            reason = (f"gave up: {job.failed_attempts} workers took this job and none "
                      "finished it (each was killed or cut off while crawling); the source "
                      "is crawled again when it is next queued")
            log.error("worker %s: job %s (%s): %s", self.name, job.id, job.source, reason)
            await self._finish(frontier, job, {"status": RunStatus.FAILED,
                                               "counts": {"errors": 1}, "details": [reason]})
            return
        log.info("worker %s: job %s: crawling %s", self.name, job.id, source.name)
        self.heartbeat.progress(job.id, 0, 0)
        try:
            outcome = await self._crawl(job, source, frontier, local, archive, extractor,
                                        overrides)
        finally:
            self.heartbeat.live.pop(job.id, None)  # stopped or taken over: not running
        if outcome is not None and await self._finish(frontier, job, outcome):
            log.info("worker %s: job %s done: %s, %d fetched, %d errors", self.name, job.id,
                     outcome["status"], outcome["counts"]["fetched"],
                     outcome["counts"]["errors"])

    async def _crawl(self, job: Job, source: Source, frontier: Frontier, local: Config,
                     archive: Archive, extractor: Extractor, overrides: dict[str, Any]
                     ) -> dict[str, Any] | None:
        """Crawl the job's source; the run's outcome, or None if the job was taken over
        (this worker was cut off for longer than the lease) and the crawl stopped."""
        from crawler.scraping.crawl import crawl_sources

        try:
            seen = await retrying_async(self.backoff, lambda: frontier.seen(job.source))
        except asyncio.CancelledError:
            await self._hand_back(frontier, job)
            raise
        remote = JobArchive(frontier, job, self.backoff, seen)

        def progress(ctx: CrawlContext) -> None:
            self.heartbeat.progress(job.id, ctx.counts.fetched, ctx.counts.errors)

        crawl = asyncio.ensure_future(crawl_sources(
            local, archive, [source], extractor, progress, scrapy_overrides=overrides,
            remote=remote))
        lost = asyncio.ensure_future(self._renew(job, frontier))
        try:
            await asyncio.wait({crawl, lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._hand_back(frontier, job)  # before the crawl's engines stop
            raise
        finally:
            lost.cancel()
            if not crawl.done():
                crawl.cancel()
            await asyncio.gather(crawl, lost, return_exceptions=True)
        if crawl.cancelled():
            return None
        [run] = crawl.result()
        self.heartbeat.finished(job.id, run.counts.fetched, run.counts.errors)
        return {"status": run.status, "counts": asdict(run.counts),
                "details": list(run.details), "stopped": run.stopped,
                "not_due": remote.not_due_urls}

    async def _finish(self, frontier: Frontier, job: Job, outcome: dict[str, Any] | None
                      ) -> bool:
        """Queue the outcome and drop the job, in one step that a stop cannot cut."""
        done = await asyncio.shield(retrying_async(
            self.backoff, lambda: frontier.finish(job, outcome)))
        if not done:
            log.warning("worker %s: job %s was taken over by another worker before it "
                        "finished here: its outcome is the other worker's to give",
                        self.name, job.id)
        return bool(done)

    async def _hand_back(self, frontier: Frontier, job: Job) -> None:
        """Stopping: the job goes to another worker at once."""
        try:
            # (retried: a call cut by the same stop may have left a connection closed)
            if await asyncio.wait_for(
                    retrying_async(self.backoff, lambda: frontier.hand_back(job)), 5):
                log.warning("worker %s: job %s (%s) handed back for another worker",
                            self.name, job.id, job.source)
        except (TimeoutError, *DOWN) as e:
            log.warning("worker %s: job %s could not be handed back (%s); another worker "
                        "takes it when its lease runs out", self.name, job.id, e)

    async def _beat(self) -> None:
        """Tell the cluster this worker is alive, every few seconds (`status`)."""
        state = WorkerState.STARTING
        while True:
            try:
                await self.heartbeat.beat(state)
                state = WorkerState.RUNNING
            except DOWN as e:  # the frontier's own calls log the outage
                log.debug("heartbeat failed: %s", e)
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _renew(self, job: Job, frontier: Frontier) -> None:
        """Keep the lease on ``job`` while crawling it; returns when it is lost."""
        while True:
            await asyncio.sleep(self.cluster.lease / 3)
            try:
                if not await frontier.renew(job):
                    log.warning("worker %s: job %s was taken over by another worker "
                                "(this one was cut off for longer than the lease)",
                                self.name, job.id)
                    return
            except DOWN as e:
                log.debug("renewing job %s failed: %s", job.id, e)
