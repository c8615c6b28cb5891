"""The work after fetching, shared by `crawl`, the service and the demo.

Each step reads what it needs from the archive, so a pass interrupted at any
point is completed by the next one: versions without facts get their facts,
facts not yet evaluated get evaluated, alerts not yet delivered get delivered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawler.archive.store import Archive, ArchiveWriteError, RunStatus
from crawler.config.model import Config, Source
from crawler.extraction.analysis import fact_rows
from crawler.extraction.pages import Extractor
from crawler.scraping.crawl import CrawlContext, RunSummary, crawl_sources

log = logging.getLogger(__name__)


@dataclass
class PassResult:
    runs: list[RunSummary] = field(default_factory=list)
    repaired: int = 0
    changes: list[Any] = field(default_factory=list)
    delivery: Any = None
    error: str | None = None  # why the work after the crawl could not be done

    @property
    def failed(self) -> bool:
        """The job failed: a run failed, lost reports or was stopped, or the pass after it."""
        return self.error is not None or any(
            r.status in (RunStatus.FAILED, RunStatus.INTERRUPTED) or r.counts.lost or r.stopped
            for r in self.runs)


def recover(archive: Archive) -> None:
    """Start-up repair after a process that stopped without finishing (killed, crashed).

    Alerts it left 'sending' become 'unknown' (never resent) and its runs left
    'running' become 'interrupted'. Call under the archive's writer lock.
    """
    from crawler.archive.outbox import ArchiveOutbox

    ArchiveOutbox(archive).recover()
    archive.close_interrupted_runs()


def repair_facts(archive: Archive, config: Config) -> int:
    """Extract facts for versions stored without them (e.g. after a crash)."""
    stories = {s.name: s for s in config.stories}
    done = 0
    for row in list(archive.versions_without_facts()):
        matched = [stories[n] for n in json.loads(row["stories"] or "[]") if n in stories]
        rows = fact_rows(row["text"], row["published"], matched, row["title"])
        for r in rows:
            r.update(document_id=row["document_id"], version_id=row["id"])
        archive.store_facts(row["id"], rows)
        done += 1
    if done:
        log.info("extracted facts of %d stored versions that had none", done)
    return done


def detect(archive: Archive, config: Config) -> PassResult:
    """Facts repair and change detection: the alerts they raise are queued, not sent."""
    from crawler.changes.detector import detect_changes

    result = PassResult()
    result.repaired = repair_facts(archive, config)
    result.changes = detect_changes(archive, config)
    return result


def after_crawl(archive: Archive, config: Config) -> PassResult:
    """Facts repair, change detection and alert delivery."""
    from crawler.delivery import deliver_alerts

    result = detect(archive, config)
    result.delivery = deliver_alerts(archive, config)
    return result


async def crawl_pass(
    config: Config,
    archive: Archive,
    sources: list[Source],
    extractor: Extractor,
    progress: Callable[[CrawlContext], None] | None = None,
) -> PassResult:
    """One pass: crawl the sources, then everything that follows from new reports."""
    runs = await crawl_sources(config, archive, sources, extractor, progress)
    try:
        result = after_crawl(archive, config)
    except ArchiveWriteError as e:
        # A full disk: what was stored stays; the next pass extracts facts, detects
        # changes and delivers alerts from it.
        log.error("changes and alerts not processed: %s", e)
        result = PassResult(error=f"changes and alerts not processed: {e}")
    result.runs = runs
    return result
