"""Text and metadata extraction (trafilatura), run in a process pool.

trafilatura is CPU-bound and would block the event loop that Scrapy and the
scheduler share, so every page goes to a worker process. Workers are forked
from a forkserver that has already imported trafilatura, so they start fast
and inherit no threads or sockets from the crawler.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    """The clean text and metadata of one page."""

    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD as trafilatura found it


def extract_page(
    html: str | bytes, url: str | None = None, with_metadata: bool = True
) -> Extracted | None:
    """Extract the main text (and metadata) of a page; None when there is no article text.

    Metadata extraction (title, author, date) costs about as much as the text
    itself; callers skip it when they already know the title and date.
    """
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=with_metadata,
        include_comments=False,
    )
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if not text:
        return None
    return Extracted(
        text=text,
        title=data.get("title") or None,
        author=data.get("author") or None,
        published=data.get("date") or None,
    )


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (feed content), paragraphs on their own lines."""
    import lxml.html

    if not html or not html.strip():
        return ""
    if "<" not in html:
        return html.strip()
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return html.strip()
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    # every block, list item and table cell ends its line: a sentence never runs from a
    # headline or a date line into the text, nor from one cell into the next
    blocks = ("p", "br", "div", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
              "blockquote", "tr", "td", "th", "caption", "figcaption", "section", "article",
              "header", "footer", "time", "address", "table", "ul", "ol", "dl", "pre")
    for block in root.xpath("|".join(f"//{tag}" for tag in blocks)):
        block.text = "\n" + (block.text or "")
        block.tail = "\n" + (block.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the crawler process is gone (e.g. SIGKILLed).

    Workers are children of the forkserver, not of the crawler, and would otherwise
    wait forever for work from a dead parent (and keep the forkserver alive).
    """

    def watch() -> None:
        while True:
            time.sleep(2)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # the pid exists (another owner): keep going

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


class ExtractionTimeout(Exception):
    """A page took longer than the extraction timeout; its worker was replaced."""


class Extractor:
    """A pool of extraction worker processes used from the event loop.

    A worker that crashes (out of memory, a parser segfault) or hangs on a page
    does not take extraction down: the pool is replaced and the page is retried
    once (after a crash) or reported (after a timeout).
    """

    def __init__(self, workers: int = 0, timeout: float = 120.0):
        self.workers = workers or os.cpu_count() or 2
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["crawler.extraction.pages", "crawler.facts.extract"])
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_watch_parent, initargs=(os.getpid(),)
            )
        return self._pool

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker and await its result."""
        for attempt in (1, 2):
            pool = self._ensure()
            try:
                future = asyncio.wrap_future(pool.submit(fn, *args))
                return await asyncio.wait_for(future, self.timeout)
            except BrokenProcessPool:
                log.warning("an extraction worker died; starting new workers")
                self._replace(pool)
                if attempt == 2:
                    raise
            except TimeoutError:
                log.warning("extraction took over %.0fs; replacing the workers", self.timeout)
                self._replace(pool)
                raise ExtractionTimeout(f"extraction took over {self.timeout:.0f}s") from None
        raise AssertionError("unreachable")

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """Drop a broken or hung pool (once, however many tasks notice it)."""
        if self._pool is pool:
            self._pool = None
            _stop(pool, wait=0)

    def close(self, wait: float = 10.0) -> None:
        """Stop the workers: let a running page finish for ``wait`` seconds, then kill."""
        if self._pool is not None:
            _stop(self._pool, wait)
            self._pool = None


def _stop(pool: ProcessPoolExecutor, wait: float) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + wait
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1)
