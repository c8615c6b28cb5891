"""What all newswatch spiders share: the crawl context, error accounting, revisits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from crawler.scraping.crawl import CrawlContext

HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def describe_failure(failure: Failure) -> str:
    """A one-line, user-readable reason for a failed request."""
    from scrapy import exceptions
    from scrapy.exceptions import IgnoreRequest
    from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

    # Scrapy >= 2.14 wraps Twisted's download errors in its own exception types.
    timeouts = [TimeoutError, TCPTimedOutError, getattr(exceptions, "DownloadTimeoutError", None)]
    dns = [DNSLookupError, getattr(exceptions, "CannotResolveHostError", None)]
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}: {url}"
    if failure.check(*(t for t in timeouts if t is not None)):
        return f"timeout: {url}"
    if failure.check(*(t for t in dns if t is not None)):
        return f"DNS lookup failed: {url}"
    if failure.check(IgnoreRequest):
        reason = str(failure.value) or "ignored"
        if "robots" in reason.lower() or "Forbidden by robots.txt" in reason:
            reason = "forbidden by robots.txt"
        return f"{reason}: {url}"
    message = str(failure.value) or type(failure.value).__name__
    if "maxsize" in message.lower() or "larger than" in message.lower():
        return f"response over the size limit: {url}"
    return f"{type(failure.value).__name__}: {message[:200]}: {url}"


def is_html(response: Response) -> bool:
    ctype = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
    return isinstance(response, TextResponse) and (not ctype or ctype in HTML_TYPES)


class NewswatchSpider(scrapy.Spider):
    """Base spider: holds the crawl context and records failures in the run."""

    def __init__(self, context: CrawlContext, **kwargs: Any):
        super().__init__(name=f"{self.name}:{context.source.name}", **kwargs)
        self.context = context
        self.source = context.source

    def failed(self, failure: Failure) -> None:
        """Errback: count and log the failure; the rest of the crawl goes on."""
        self.context.error(describe_failure(failure))

    def source_unreachable(self, failure: Failure) -> None:
        """Errback of the source's own URL: the run fails, whatever the cache holds."""
        self.context.source_failed = True
        self.failed(failure)

    def not_html(self, response: Response) -> None:
        ctype = (response.headers.get(b"Content-Type") or b"?").decode("latin-1")
        self.context.error(f"not an HTML page (Content-Type {ctype}): {response.url}")

    def should_visit(self, url: str) -> bool:
        """Skip a known article checked for revisions less than `revisit` ago."""
        return self.context.should_visit(url)
