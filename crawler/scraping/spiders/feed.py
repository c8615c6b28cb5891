"""The `feed` spider: RSS 2.0, RSS 1.0 and Atom feeds (feedparser).

Each item's link is fetched and extracted; when the page cannot be fetched or is
not HTML, the item's own content (content:encoded, summary) is archived instead,
so a report is never dropped because its site is down or refuses crawlers.
"""

from __future__ import annotations

import asyncio
import calendar
import email.utils
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.extraction.pages import html_to_text
from crawler.scraping.items import FetchedReport
from crawler.scraping.spiders.base import NewswatchSpider, describe_failure, is_html


def entry_date(entry: Any) -> str | None:
    """The item's publication date (YYYY-MM-DD), from published or updated.

    The day is the one the publisher stated, in the timestamp's own offset:
    "Fri, 27 Sep 2024 20:40:00 -0500" is 2024-09-27, although it is the 28th in UTC
    (feedparser's ``*_parsed`` values are UTC). They are the fallback for dates only
    feedparser can read.
    """
    for key in ("published", "updated", "created"):
        stated = _stated_day(entry.get(key))
        if stated:
            return stated
        parsed: time.struct_time | None = entry.get(f"{key}_parsed")
        if parsed:
            stamp = calendar.timegm(parsed)
            return datetime.fromtimestamp(stamp, UTC).date().isoformat()
    return None


def _stated_day(text: str | None) -> str | None:
    """The calendar day of an RFC 822 (RSS) or ISO 8601 (Atom) timestamp, in its own offset."""
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(text.strip()).date().isoformat()
    except ValueError:
        return None


def is_web_url(url: str | None) -> bool:
    """An http(s) URL that parses ("http://[bad" does not: it is no link)."""
    try:
        return bool(url) and urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def entry_report(entry: Any, source: str) -> FetchedReport:
    """The feed item as a report of its own (used when its page is out of reach)."""
    contents = entry.get("content") or []
    body = max((c.get("value", "") for c in contents), key=len, default="")
    summary = entry.get("summary", "")
    text = html_to_text(body if len(body) >= len(summary) else summary)
    title = html_to_text(entry.get("title", "")) or None
    text = text or title or ""  # a headline-only item is still a report
    link = entry.get("link")
    guid = entry.get("id") or None
    if not is_web_url(link):
        if is_web_url(guid):
            link = guid
        else:
            key = guid or f"{title}\n{text}"
            link = f"urn:newswatch:{source}:{hashlib.sha1(key.encode()).hexdigest()[:16]}"
    return FetchedReport(
        url=link,
        source=source,
        text=text,
        title=title,
        author=entry.get("author") or None,
        published=entry_date(entry),
        guid=guid,
        via="feed",
    )


def _parse_feed(body: bytes, headers: dict[str, str], source: str, max_items: int
                ) -> tuple[Any, list[tuple[Any, FetchedReport]]]:
    """The parsed feed and its first ``max_items`` entries with their fallback reports."""
    feed = feedparser.parse(body, response_headers=headers)
    return feed, [(entry, entry_report(entry, source)) for entry in feed.entries[:max_items]]


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    if b"<rss" in head or b"<feed" in head or b"<rdf" in head:
        return False
    return head.startswith((b"<!doctype html", b"<html"))


class FeedSpider(NewswatchSpider):
    name = "feed"

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.source.url, callback=self.parse,
                             errback=self.source_unreachable, dont_filter=True)

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Any]:
        headers = {k.decode("latin-1").lower(): v[0].decode("latin-1")
                   for k, v in response.headers.items() if v}
        # feedparser resolves relative item links against Content-Location; without
        # it, "/news/story.html" would stay relative and never be fetched.
        headers.setdefault("content-location", response.url)
        # Parsing (and turning item HTML into text) is pure Python and can take
        # seconds on a pathological feed: a thread keeps the event loop, and with it
        # every other source, going.
        feed, items = await asyncio.to_thread(
            _parse_feed, response.body, headers, self.source.name, self.source.max_items)
        if not feed.entries and _looks_like_html(response.body):
            self.context.source_failed = True
            ctype = (response.headers.get(b"Content-Type") or b"?").decode("latin-1")
            self.context.error(f"malformed feed: not a feed but an HTML page (Content-Type "
                               f"{ctype}); is the URL the feed's own? {response.url}")
            return
        if feed.bozo and not feed.entries:
            reason = getattr(feed, "bozo_exception", None) or "no items"
            self.context.error(f"malformed feed ({reason}): {response.url}")
            return
        if feed.bozo:
            self.logger.warning("feed %s is not well-formed (%s); using the %d items found",
                                response.url, feed.bozo_exception, len(feed.entries))
        for entry, fallback in items:
            link = entry.get("link")
            if not self.source.fetch_articles:
                yield fallback
            elif not is_web_url(link):
                self.logger.info("feed item without a fetchable link archived from the feed: %s",
                                 fallback.title)
                self.context.count_fallback()
                yield fallback
            elif self.should_visit(link):
                # dont_filter: items whose links redirect to one URL are each stored
                # (under their own link), not dropped as duplicates of the first.
                yield scrapy.Request(link, callback=self.parse_article, errback=self.article_failed,
                                     cb_kwargs={"entry": fallback}, dont_filter=True)

    def parse_article(self, response: Response, entry: FetchedReport) -> Iterator[FetchedReport]:
        if not is_html(response):
            self.not_html(response)
            yield self._fallback(entry)
            return
        yield FetchedReport(
            url=entry.url,
            source=self.source.name,
            html=response.text,
            text=entry.text,  # kept as the fallback if extraction finds no article
            title=entry.title,
            author=entry.author,
            published=entry.published,
            guid=entry.guid,
        )

    def article_failed(self, failure: Failure) -> Iterator[FetchedReport]:
        self.context.error(describe_failure(failure))
        entry = failure.request.cb_kwargs["entry"]  # type: ignore[attr-defined]
        yield self._fallback(entry)

    def _fallback(self, entry: FetchedReport) -> FetchedReport:
        self.context.count_fallback()
        return entry
