"""The item pipeline: every fetched report goes to extraction, then to the archive.

The archive is written only here, on the event loop's thread: one writer.
A page whose fetched bytes are unchanged since the last visit skips extraction.
A report the archive refuses is counted as lost (an error of the run), one line per
cause; a full archive stops the crawl, since nothing more could be stored.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from scrapy.crawler import Crawler

from crawler.archive.store import ArchiveFull, text_hash
from crawler.extraction.analysis import analyse
from crawler.extraction.records import AnalyzedReport
from crawler.scraping.items import FetchedReport

if TYPE_CHECKING:
    from crawler.scraping.crawl import CrawlContext

log = logging.getLogger(__name__)


class ArchivePipeline:
    """Extract (in the worker pool) and archive each report; count what happened."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    async def process_item(self, item: FetchedReport) -> FetchedReport:
        ctx: CrawlContext = self.crawler.spider.context  # type: ignore[union-attr]
        ctx.count_fetched()
        if ctx.stopped is not None:
            ctx.lose(f"not stored: {ctx.stopped}", cause=ctx.stopped)
            return item
        try:
            await self._process(ctx, item)
        except ArchiveFull as e:
            ctx.lose(f"not stored: {e}", cause=str(e))
            ctx.stop(str(e), self.crawler)
        except sqlite3.Error as e:
            # One line per cause, not per item: the message without the URL is the cause.
            ctx.lose(f"not stored ({e}): {item.url}", cause=f"{type(e).__name__}: {e}")
        return item

    async def _process(self, ctx: CrawlContext, item: FetchedReport) -> None:
        item.raw_hash = item.raw_hash or text_hash(item.html or item.text or "")
        if ctx.known_raw_hash(item.url) == item.raw_hash:
            await ctx.seen_again(item.url, item.raw_hash)
            ctx.report_progress()
            return
        try:
            report: AnalyzedReport | None = await ctx.extractor.run(
                analyse, asdict(item), ctx.stories)
        except Exception as e:  # a worker crash or a parser bug must not stop the crawl
            log.debug("extraction failed for %s", item.url, exc_info=True)
            ctx.error(f"extraction failed ({type(e).__name__}: {e}): {item.url}")
            return
        if report is None:
            ctx.error(f"no article text found: {item.url}")
            return
        if item.html and report.via == "feed":
            # The page had no article text; the feed item's own content stands in for it.
            ctx.count_fallback()
        report = replace(report, run_id=ctx.run_id, official=ctx.source.official)
        if ctx.remote is not None:
            # A cluster worker: the archive writer stores it (and counts it).
            await ctx.remote.store(report)
            log.info("[%s run %s] queued %s", ctx.source.name, ctx.run_id, item.url)
            ctx.report_progress()
            return
        stored = ctx.archive.store(report)
        ctx.count_stored(stored.status)
        log.info("[%s run %s] %s %s", ctx.source.name, ctx.run_id, stored.status, item.url)
        ctx.report_progress()
