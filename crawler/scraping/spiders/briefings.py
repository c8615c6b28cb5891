"""The `state-briefings` spider: state.gov's press-briefing listing and transcripts.

Listing pages (``/department-press-briefings/``, ``page/N/``) hold
``li.collection-result`` links; a briefing page has its title in
``h1.featured-content__headline``, date and speaker in ``div.article-meta`` and
the transcript in ``div.entry-content`` (minus the summary index block).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.scraping.items import FetchedReport
from crawler.scraping.spiders.base import NewswatchSpider, is_html

BLOCKS = "p, h2, h3, h4, li, blockquote"


def parse_us_date(text: str | None) -> str | None:
    """'September 27, 2024' (or 'Sept. 27, 2024') as 2024-09-27; None if unparseable."""
    if not text:
        return None
    cleaned = " ".join(text.replace(".", "").split())
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%B %d %Y"):
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    if cleaned.startswith("Sept "):
        return parse_us_date("Sep " + cleaned[5:])
    return None


def transcript_text(response: Response) -> str:
    """The transcript's paragraphs, one per line, without the summary index."""
    body = response.css("div.entry-content")
    if not body:
        return ""
    lines = []
    for block in body[0].css(BLOCKS):
        if block.xpath("ancestor::div[contains(@class, 'wp-block-summary-article-index')]"):
            continue
        if block.xpath("ancestor::li | ancestor::blockquote"):
            continue  # nested blocks are part of their parent's text
        line = " ".join(" ".join(block.css("::text").getall()).split())
        if line:
            lines.append(line)
    return "\n".join(lines)


class StateBriefingsSpider(NewswatchSpider):
    name = "state-briefings"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()  # briefing URLs taken so far, over all listing pages

    async def start(self) -> AsyncIterator[Any]:
        yield self._listing(1)

    def _listing(self, page: int) -> scrapy.Request:
        # Listing pages are walked in order (newest briefings first), so max_items
        # keeps the newest ones and pages past the limit are not fetched.
        base = self.source.url if self.source.url.endswith("/") else self.source.url + "/"
        url = base if page == 1 else urljoin(base, f"page/{page}/")
        return scrapy.Request(url, callback=self.parse, errback=self.listing_failed,
                              dont_filter=True, cb_kwargs={"page": page})

    def _next_listing(self, page: int) -> Iterator[scrapy.Request]:
        if page < self.source.pages and len(self._seen) < self.source.max_items:
            yield self._listing(page + 1)

    def listing_failed(self, failure: Failure) -> Iterator[scrapy.Request]:
        self.failed(failure)
        yield from self._next_listing(failure.request.cb_kwargs["page"])  # type: ignore[attr-defined]

    def parse(self, response: Response, page: int = 1, **kwargs: Any) -> Iterator[scrapy.Request]:
        if not is_html(response):
            self.not_html(response)
            yield from self._next_listing(page)
            return
        # One link per item: the title link (other links in an item are tags or media).
        links: list[str] = [
            href
            for item in response.css("li.collection-result")
            if (href := item.css("a.collection-result__link::attr(href)").get()
                or item.css("a::attr(href)").get())
        ]
        if not links:
            self.context.error(f"listing has no briefings (has the page layout changed?): "
                               f"{response.url}")
        for href in links:
            url = response.urljoin(href)
            if url in self._seen:
                continue
            if len(self._seen) >= self.source.max_items:  # max_items counts per crawl
                break
            self._seen.add(url)
            if self.should_visit(url):
                yield scrapy.Request(url, callback=self.parse_briefing, errback=self.failed)
        yield from self._next_listing(page)

    def parse_briefing(self, response: Response) -> Iterator[FetchedReport]:
        if not is_html(response):
            self.not_html(response)
            return
        title = " ".join(response.css("h1.featured-content__headline ::text").getall()).strip()
        meta = response.css("div.article-meta")
        date_text = meta.css("p.article-meta__publish-date ::text").get()
        speaker = " ".join(meta.css("p.article-meta__author-bureau ::text").getall()).strip()
        text = transcript_text(response)
        if not text:
            # Not the expected layout: let trafilatura find the article instead.
            yield FetchedReport(url=response.url, source=self.source.name, html=response.text)
            return
        yield FetchedReport(
            url=response.url,
            source=self.source.name,
            text=text,
            title=title or None,
            author=speaker or None,
            published=parse_us_date(date_text),
        )
