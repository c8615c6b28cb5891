"""One crawl pass: run the spiders of some sources and record each run.

Scrapy runs on Twisted's asyncio reactor, so spiders, the extraction pool, the
archive writer and (in the service) APScheduler share one asyncio event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from crawler.archive.store import Archive, RunCounts, utcnow
from crawler.config.model import Config, Source, Story
from crawler.extraction.pages import Extractor
from crawler.scraping.middlewares import named_internal

log = logging.getLogger(__name__)


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
    scrapy_overrides: Mapping[str, Any] | None = None,
) -> list[RunSummary]:
    """Crawl the given sources concurrently; every run is recorded in `runs`.

    ``scrapy_overrides`` are Scrapy settings over the config's (tests give the
    SSRF guard a fixed name table through ``NEWSWATCH_RESOLVER``).
    """
    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.scraping.settings import scrapy_settings
    from crawler.scraping.spiders import SPIDERS

    archive.sync_sources(config.sources)
    settings = scrapy_settings(config.crawl, config.archive.parent)
    if scrapy_overrides:
        settings.setdict(dict(scrapy_overrides), priority="cmdline")
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
