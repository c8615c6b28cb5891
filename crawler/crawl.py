"""One crawl pass: run the spiders of some sources and record each run.

Scrapy runs on Twisted's asyncio reactor, so spiders, the extraction pool, the
archive writer and (in the service) APScheduler share one asyncio event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from crawler.archive import Archive, RunCounts, utcnow
from crawler.config import Config, Source, Story
from crawler.extract import Extractor
from crawler.middlewares import named_internal

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_on_reactor(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the asyncio loop behind Twisted's asyncio reactor.

    The reactor is installed and started once per process; the loop is then
    driven with ``run_until_complete``, so a process (or a test session) can run
    several passes, which ``reactor.run()`` would not allow.
    """
    from scrapy.utils.reactor import install_reactor, is_reactor_installed

    if not is_reactor_installed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    if not reactor.running:  # type: ignore[attr-defined]
        reactor.startRunning(installSignalHandlers=False)  # type: ignore[attr-defined]
    loop = reactor._asyncioEventloop  # type: ignore[attr-defined]
    return loop.run_until_complete(coro)  # type: ignore[no-any-return]


def shutdown_reactor() -> None:
    """Stop the reactor's thread pool, so the process can exit; the reactor stays usable.

    Without this, Twisted's non-daemon pool threads keep the interpreter alive.
    Only the pool is stopped: firing the reactor's "shutdown" event would also
    crash the reactor and stop its event loop, and the next ``run_on_reactor`` in
    the same process (a test session, the CLI invoked in-process) would fail with
    "Event loop stopped before Future completed". The pool is recreated on demand.
    """
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        return
    from twisted.internet import reactor

    if getattr(reactor, "threadpool", None) is not None:
        reactor._stopThreadPool()  # type: ignore[attr-defined]


def _source_is_internal(url: str) -> bool:
    return bool(named_internal(urlsplit(url).hostname or ""))


@dataclass
class CrawlContext:
    """What a spider and the pipeline need while crawling one source."""

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

    def error(self, detail: str) -> None:
        """Count and log one failure of this run (it goes on)."""
        self.counts.errors += 1
        if len(self.details) < 100:
            self.details.append(detail)
        log.warning("[%s run %s] %s", self.source.name, self.run_id, detail)
        self.report_progress()

    def report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self)

    def should_visit(self, url: str) -> bool:
        if self.revisit <= timedelta(0):
            return True
        last = self.archive.scalar("SELECT last_seen FROM documents WHERE url = ?", [url])
        if last is None:
            return True
        from datetime import datetime

        due = datetime.fromisoformat(last) + self.revisit <= utcnow()
        if not due:
            self.counts.unchanged += 1
        return due


@dataclass(frozen=True)
class RunSummary:
    source: str
    run_id: int
    status: str
    counts: RunCounts
    details: tuple[str, ...]


async def crawl_sources(
    config: Config,
    archive: Archive,
    sources: list[Source],
    extractor: Extractor,
    progress: Callable[[CrawlContext], None] | None = None,
) -> list[RunSummary]:
    """Crawl the given sources concurrently; every run is recorded in `runs`."""
    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.settings import scrapy_settings
    from crawler.spiders import SPIDERS

    archive.sync_sources(config.sources)
    settings = scrapy_settings(config.crawl, config.archive.parent)
    runner = AsyncCrawlerRunner(settings)
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
        )
        log.info("[%s run %s] crawling %s", source.name, ctx.run_id, source.url)
        contexts.append(ctx)
        tasks.append(runner.crawl(SPIDERS[source.type], context=ctx))
    try:
        results = await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:
        # Shutting down: stop the engines, and record the runs as interrupted.
        await runner.stop()
        for ctx in contexts:
            ctx.details.append("interrupted: the crawl was stopped before it finished")
            archive.finish_run(ctx.run_id, ctx.source.name, ctx.counts, ctx.details,
                               status="interrupted")
        raise
    summaries = []
    for ctx, result in zip(contexts, results, strict=True):
        if isinstance(result, BaseException):
            log.error("[%s run %s] crawl crashed", ctx.source.name, ctx.run_id,
                      exc_info=result)
            ctx.error(f"crawl crashed: {type(result).__name__}: {result}")
        archive.finish_run(ctx.run_id, ctx.source.name, ctx.counts, ctx.details)
        status = archive.scalar("SELECT status FROM runs WHERE id = ?", [ctx.run_id])
        summaries.append(RunSummary(ctx.source.name, ctx.run_id, status, ctx.counts,
                                    tuple(ctx.details)))
    return summaries
