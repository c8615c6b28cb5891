"""One crawl pass: run the spiders of some sources and record each run.

Scrapy runs on Twisted's asyncio reactor, so spiders, the extraction pool, the
archive writer and (in the service) APScheduler share one asyncio event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from crawler.archive.store import (
    Archive,
    ArchiveFull,
    ArchiveWriteError,
    RunCounts,
    RunStatus,
    StoreStatus,
    run_status,
    utcnow,
)
from crawler.config.model import Config, Source, Story
from crawler.extraction.pages import Extractor
from crawler.extraction.records import AnalyzedReport
from crawler.scraping.middlewares import named_internal

log = logging.getLogger(__name__)


def _source_is_internal(url: str) -> bool:
    return bool(named_internal(urlsplit(url).hostname or ""))


class RemoteArchive(Protocol):
    """The archive as a cluster worker sees it: on another machine, behind a queue.

    What it knows of the source's documents was read when the job began; reports and
    "seen again" notes go to the queue, and the archive writer stores them
    (crawler/cluster/worker.py).
    """

    def last_seen(self, url: str) -> datetime | None: ...

    def known_raw_hash(self, url: str) -> str | None: ...

    def not_due(self, url: str) -> None: ...  # a known article skipped (`revisit`)

    async def store(self, report: AnalyzedReport) -> None: ...

    async def touch(self, url: str, raw_hash: str) -> None: ...


@dataclass
class CrawlContext:
    """What a spider and the pipeline need while crawling one source.

    Only its methods change ``counts``: spiders and the pipeline say what happened.
    """

    source: Source
    archive: Archive
    extractor: Extractor
    stories: tuple[Story, ...]
    run_id: int
    revisit: timedelta
    allow_private: bool
    counts: RunCounts = field(default_factory=RunCounts)
    details: list[str] = field(default_factory=list)
    progress: Callable[[CrawlContext], None] | None = None
    source_failed: bool = False  # the source's own URL (feed, listing, page) failed
    stopped: str | None = None  # why the crawl was stopped early (the archive is full)
    # Known articles skipped because their `revisit` interval has not passed; they are
    # also in counts.unchanged (runs.unchanged: reports held, nothing new).
    not_rechecked: int = 0
    # A cluster worker's: the archive it reports to. Reports and "seen again" notes go
    # there, and what the archive knows is read from there, not from ``archive`` (the
    # worker's own scratch file, for its run bookkeeping).
    remote: RemoteArchive | None = None
    _causes: dict[str, list[Any]] = field(default_factory=dict)  # cause -> [index, detail, n]
    _closing: Any = None

    def count_fetched(self) -> None:
        """A fetched report reached the pipeline."""
        self.counts.fetched += 1

    def count_unchanged(self) -> None:
        """A report the archive holds is unchanged (the same fetched bytes, or not due)."""
        self.counts.unchanged += 1

    def count_fallback(self) -> None:
        """A report is archived from its feed item, its page being unusable."""
        self.counts.fallbacks += 1

    def count_stored(self, status: StoreStatus) -> None:
        """The archive stored a report: ``status`` is ``Stored.status``."""
        if status == StoreStatus.NEW:
            self.counts.new_documents += 1
        elif status == StoreStatus.REVISED:
            self.counts.new_versions += 1
        else:
            self.counts.unchanged += 1

    def error(self, detail: str, cause: str | None = None) -> None:
        """Count and log one failure of this run (it goes on).

        Failures with the same ``cause`` are one line in the log and in the run's
        details ("... (and 41 more)"), however many items they hit.
        """
        self.counts.errors += 1
        if cause is not None and cause in self._causes:
            entry = self._causes[cause]
            entry[2] += 1
            if entry[0] is not None:
                self.details[entry[0]] = f"{entry[1]} (and {entry[2] - 1} more)"
            self.report_progress()
            return
        index = None
        if len(self.details) < 100:
            index = len(self.details)
            self.details.append(detail)
        if cause is not None:
            self._causes[cause] = [index, detail, 1]
        log.warning("[%s run %s] %s", self.source.name, self.run_id, detail)
        self.report_progress()

    def lose(self, detail: str, cause: str) -> None:
        """A fetched report that could not be stored: an error, and counted as lost."""
        self.counts.lost += 1
        self.error(detail, cause)

    def stop(self, reason: str, crawler: Any) -> None:
        """Stop this source's crawl early (nothing more can be stored)."""
        if self.stopped is None:
            self.stopped = reason
            log.error("[%s run %s] stopping the crawl: %s", self.source.name, self.run_id,
                      reason)
            engine = getattr(crawler, "engine", None)
            if engine is not None and getattr(engine, "spider", None) is not None:
                self._closing = asyncio.ensure_future(
                    engine.close_spider_async(reason="archive full"))

    def report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self)

    @property
    def status(self) -> RunStatus:
        return run_status(self.counts, self.source_failed)

    def known_raw_hash(self, url: str) -> str | None:
        """The hash of the bytes last fetched from ``url``, if the archive holds it."""
        return (self.remote or self.archive).known_raw_hash(url)

    async def seen_again(self, url: str, raw_hash: str) -> None:
        """The page at ``url`` is byte for byte as archived: note the visit, count it."""
        if self.remote is not None:
            await self.remote.touch(url, raw_hash)
        else:
            self.archive.touch(url)
        self.count_unchanged()

    def should_visit(self, url: str) -> bool:
        if self.revisit <= timedelta(0):
            return True
        last = (self.remote or self.archive).last_seen(url)
        if last is None:
            return True
        due = last + self.revisit <= utcnow()
        if not due:
            self.count_unchanged()
            self.not_rechecked += 1
            if self.remote is not None:
                self.remote.not_due(url)
        return due


@dataclass(frozen=True)
class RunSummary:
    source: str
    run_id: int
    status: RunStatus
    counts: RunCounts
    details: tuple[str, ...]
    stopped: str | None = None  # why the crawl stopped early, if it did
    not_rechecked: int = 0  # of counts.unchanged: skipped, not due for a revisit


async def crawl_sources(
    config: Config,
    archive: Archive,
    sources: list[Source],
    extractor: Extractor,
    progress: Callable[[CrawlContext], None] | None = None,
    scrapy_overrides: Mapping[str, Any] | None = None,
    remote: RemoteArchive | None = None,
) -> list[RunSummary]:
    """Crawl the given sources concurrently; every run is recorded in `runs`.

    ``scrapy_overrides`` are Scrapy settings over the config's (tests give the
    SSRF guard a fixed name table through ``NEWSWATCH_RESOLVER``). ``remote``: the
    archive the reports go to, instead of ``archive`` (a cluster worker's job).
    """
    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.scraping.settings import scrapy_settings
    from crawler.scraping.spiders import SPIDERS

    archive.sync_sources(config.sources)
    settings = scrapy_settings(config.crawl, config.archive.parent)
    if scrapy_overrides:
        settings.setdict(dict(scrapy_overrides), priority="cmdline")
    runner = AsyncCrawlerRunner(settings)
    # Each source is a Scrapy crawler of its own (~0.35 MB and ~35 ms of this process's
    # CPU): a thousand at once only cost memory, so at most `sources_at_once` run together.
    gate = asyncio.Semaphore(config.crawl.sources_at_once)
    contexts = []
    tasks = []
    for source in sources:
        ctx = CrawlContext(
            source=source,
            archive=archive,
            extractor=extractor,
            stories=config.stories,
            run_id=archive.start_run(source.name),
            revisit=source.revisit,
            allow_private=source.allow_private or _source_is_internal(source.url),
            progress=progress,
            remote=remote,
        )
        log.info("[%s run %s] crawling %s", source.name, ctx.run_id, source.url)
        contexts.append(ctx)
        tasks.append(_gated(gate, runner, SPIDERS[source.type], ctx))
    try:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        # Stopped (a signal, the service's grace period): stop the engines, and record
        # the runs as interrupted; what was stored stays.
        await _stop_runner(runner)
        for ctx in contexts:
            ctx.details.append("interrupted: the crawl was stopped before it finished")
            _finish(archive, ctx, RunStatus.INTERRUPTED)
        raise
    summaries = []
    for ctx, result in zip(contexts, results, strict=True):
        if isinstance(result, BaseException):
            log.error("[%s run %s] crawl crashed: %s: %s", ctx.source.name, ctx.run_id,
                      type(result).__name__, result)
            log.debug("crawl crash", exc_info=result)
            ctx.error(f"crawl crashed: {type(result).__name__}: {result}")
        status = ctx.status
        _finish(archive, ctx, status)
        summaries.append(RunSummary(ctx.source.name, ctx.run_id, status, ctx.counts,
                                    tuple(ctx.details), ctx.stopped, ctx.not_rechecked))
    return summaries


async def _gated(gate: asyncio.Semaphore, runner: Any, spider: Any, ctx: CrawlContext) -> Any:
    async with gate:
        return await runner.crawl(spider, context=ctx)


async def _stop_runner(runner: Any) -> None:
    try:
        await runner.stop()
    except Exception as e:  # stopping is best effort; the runs are recorded either way
        log.debug("stopping the crawlers failed: %s", e, exc_info=True)


def _finish(archive: Archive, ctx: CrawlContext, status: RunStatus) -> None:
    """Record the run's outcome; on a full disk, say so (the next start closes the run)."""
    try:
        try:
            archive.finish_run(ctx.run_id, ctx.source.name, ctx.counts, ctx.details,
                               status=status)
        except ArchiveFull:
            if not archive.release_reserve():
                raise
            archive.finish_run(ctx.run_id, ctx.source.name, ctx.counts, ctx.details,
                               status=status)
    except ArchiveWriteError as e:
        log.error("[%s run %s] could not record the run's outcome (%s): %s",
                  ctx.source.name, ctx.run_id, status, e)
