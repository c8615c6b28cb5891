"""Scrapy's log lines about items, without the items' bodies.

Scrapy logs every scraped or dropped item in full at DEBUG: with ``-vv`` a crawl would
print whole pages. newswatch logs what identifies an item instead: its URL and size.
"""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


def _summary(item: Any) -> str:
    """An item as its URL and the size of its content."""
    url = getattr(item, "url", None) or "?"
    body = getattr(item, "html", None) or getattr(item, "text", None) or ""
    return f"<{url} ({len(body):,} characters)>"


class SummaryLogFormatter(LogFormatter):
    """Scrapy's LogFormatter with items shown by URL and size, never by content."""

    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult:
        result = super().scraped(item, response, spider)
        result["args"] = {**dict(result["args"]), "item": _summary(item)}
        return result

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any
                ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["args"] = {**dict(result["args"]), "item": _summary(item)}
        return result

    def item_error(self, item: Any, exception: BaseException, response: Any, spider: Any
                   ) -> LogFormatterResult:
        result = super().item_error(item, exception, response, spider)
        result["args"] = {**dict(result["args"]), "item": _summary(item)}
        return result
