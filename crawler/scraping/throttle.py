"""AutoThrottle for a crawler that mostly revalidates: fast on 304s, slower on 429/503.

Scrapy's :class:`~scrapy.extensions.throttle.AutoThrottle` adjusts a domain's delay on
its ``response_downloaded`` signal, which fires before the downloader middlewares: it sees
the raw answer (a 304, before the HTTP cache turns it into the cached 200) and its time
to the response headers (``download_latency``). It never lets a non-200 answer lower the
delay, so a pass of conditional GETs answered 304 keeps ``AUTOTHROTTLE_START_DELAY``
(0.5 s) between requests: 200 re-checks took two minutes. It ignores ``Retry-After``;
Scrapy parses robots.txt ``Crawl-delay`` (the ``robots_parsed`` signal) but never applies
it; and a ``DOWNLOAD_SLOTS`` delay is only where AutoThrottle starts a slot.

:class:`RevalidationThrottle` changes the delay policy only:

* **Cheap answers** — a 304, and robots.txt's answer whatever its status below 500 (a
  missing robots.txt is a 404) — count like a 200, aimed at the slot's concurrency (the
  per-domain limit) instead of ``AUTOTHROTTLE_TARGET_CONCURRENCY``: a conditional GET
  costs the server a header check. From the start delay or below, the delay goes straight
  to latency / concurrency (no averaging with a guess); above it (a slow server, a
  back-off) it comes down by halves, as AutoThrottle lowers it on 200s.
* **429 and 503** pause the domain, counted from that answer, for its ``Retry-After``
  (seconds or an HTTP date; at most ``AUTOTHROTTLE_MAX_DELAY``), else for twice the delay
  (at least the start delay). No answer lowers the delay until the pause is over.
* **A floor per domain**: ``DOWNLOAD_DELAY``, the slot's ``DOWNLOAD_SLOTS`` delay, and a
  robots.txt ``Crawl-delay`` for our user agent (written into the downloader's
  ``DOWNLOAD_SLOTS``, so a slot created later starts there).
* When the delay drops, the downloader's wake-up already timed with the old delay is
  cancelled (it would hold the queue until then); the downloader re-times it at once.

Delays are meant as stated, so the settings turn Scrapy's ±50% delay jitter off
(``DOWNLOAD_DELAY_JITTER = 0``). Like AutoThrottle, all of this is off with
``AUTOTHROTTLE_ENABLED = False`` (``crawl.autothrottle: false``).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from time import monotonic, time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.extensions.throttle import AutoThrottle

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

BACK_OFF = (429, 503)


def retry_after(response: Response) -> float | None:
    """The ``Retry-After`` header in seconds from now, if there is a readable one."""
    value = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError, IndexError):
        return None


class RevalidationThrottle(AutoThrottle):
    """AutoThrottle whose 304s run at the slot's concurrency; see the module docstring."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._key: str | None = None  # the slot of the answer being adjusted for
        self._paused_until: dict[str, float] = {}
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    @property
    def _downloader(self) -> Downloader:
        assert self.crawler.engine is not None
        return self.crawler.engine.downloader

    def _floor(self, key: str | None) -> float:
        slot_settings = self._downloader.per_slot_settings.get(key or "", {})
        return max(self.mindelay, float(slot_settings.get("delay", 0)))

    def _robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        settings = self.crawler.settings
        delay = robotparser.crawl_delay(settings["ROBOTSTXT_USER_AGENT"]
                                        or settings["USER_AGENT"])
        if delay is None or delay <= 0:
            return
        downloader = self._downloader
        key = downloader.get_slot_key(request)
        downloader.per_slot_settings[key] = {**downloader.per_slot_settings.get(key, {}),
                                             "delay": max(delay, self._floor(key))}
        if key in downloader.slots:
            slot = downloader.slots[key]
            slot.delay = max(slot.delay, delay)

    def _response_downloaded(self, response: Response, request: Request,
                             spider: Spider) -> None:
        self._key = request.meta.get("download_slot")
        super()._response_downloaded(response, request, spider)

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        key, now, old = self._key or "", monotonic(), slot.delay
        floor = self._floor(key)
        if response.status in BACK_OFF:
            pause = retry_after(response)
            if pause is None:
                pause = max(2 * old, self._start_delay())
            slot.delay = max(floor, old, min(pause, self.maxdelay))
            slot.lastseen = now  # the pause counts from this answer, not the request
            self._paused_until[key] = now + slot.delay
            return
        cheap = response.status == 304 or (
            response.status < 500 and urlsplit(response.url).path == "/robots.txt")
        if cheap:
            target = latency / max(1, slot.concurrency)
            if old > self._start_delay():  # a slow server or a back-off: down by halves
                target = max(target, (old + target) / 2)
            slot.delay = min(max(self.mindelay, target), self.maxdelay)
        else:
            super()._adjust_delay(slot, latency, response)
        if slot.delay < old and now < self._paused_until.get(key, 0.0):
            slot.delay = old  # still paused by a 429/503
        slot.delay = max(slot.delay, floor)
        if slot.delay < old and slot.latercall is not None:
            # The downloader's wake-up was timed with the old delay and would hold the
            # queue until then; it re-times it right after this signal.
            slot.latercall.cancel()
            slot.latercall = None
