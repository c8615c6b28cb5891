"""Per-domain concurrency across all workers: request slots held in Redis.

A domain's slots are a sorted set ``newswatch:domain:<host>`` of tokens scored by when
they expire. A request is sent only while it holds a token; at most ``crawl.per_domain``
unexpired tokens exist per domain, whichever workers hold them. A worker renews the
tokens it holds every ``lease / 3``; a killed worker stops renewing, so its slots free
themselves after ``cluster.lease``. Acquiring, renewing and releasing are one Lua
script each, with Redis's own clock (workers' clocks need not agree).

:class:`DomainSlotsMiddleware` is the Scrapy downloader middleware that takes a slot
before each download and gives it back when the response (or the error) arrives. It
sits after the HTTP cache (a fresh cached answer needs no slot) and sees every retry
and redirect, since each is a new request through the middlewares.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio

from crawler.cluster.connection import Backoff, retrying_async
from crawler.cluster.frontier import PREFIX

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV - 1 do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[#ARGV]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return 1
"""

META = "newswatch_domain_slot"


def domain_key(host: str) -> str:
    return f"{PREFIX}domain:{host}"


class SlotsClosed(Exception):
    """A download asked for a slot after its worker began to stop."""


class DomainSlots:
    """A worker's per-domain slots (one per worker process, shared by its crawls)."""

    def __init__(self, r: redis.asyncio.Redis, backoff: Backoff, limit: int, lease: float,
                 max_hold: float = 180.0):
        self.r = r
        self.limit = max(1, limit)
        self.lease_ms = int(lease * 1000)
        # A request that never came back (dropped with its crawl) must not hold its slot
        # for ever: a token older than this is no longer renewed and expires by itself.
        self.max_hold = max_hold
        self.held: dict[str, tuple[str, float]] = {}  # token -> (domain, when acquired)
        self.backoff = backoff
        self._acquire = r.register_script(_ACQUIRE)
        self._renew = r.register_script(_RENEW)
        self._renewing: asyncio.Task[None] | None = None
        # Set when the worker stops: a download still waiting for a slot (its crawl was
        # stopped, but Scrapy does not cancel it) must not take one that nobody returns.
        self.closed = False

    def __deepcopy__(self, memo: dict[int, Any]) -> DomainSlots:
        return self  # shared: Scrapy copies its settings for each crawler

    async def acquire(self, host: str) -> str:
        """Wait for a slot of ``host``; returns its token."""
        token = uuid.uuid4().hex
        key = domain_key(host)
        wait = 0.02
        while True:
            if self.closed:
                raise SlotsClosed(f"not downloading from {host}: the worker is stopping")
            try:
                got = await retrying_async(self.backoff, lambda: self._acquire(
                    keys=[key], args=[token, self.limit, self.lease_ms]))
            except asyncio.CancelledError:
                # Redis may have granted it as the call was cancelled (a stopping crawl):
                # held, so that release_all gives it back rather than letting it expire.
                self.held[token] = (host, time.monotonic())
                raise
            if got:
                self.held[token] = (host, time.monotonic())
                if self.closed:  # granted while closing: nobody would give it back
                    await self.release(token)
                    continue
                self._start_renewing()
                return token
            await asyncio.sleep(wait)
            wait = min(0.25, wait * 1.5)

    async def release(self, token: str) -> None:
        held = self.held.pop(token, None)
        if held is not None:
            host = held[0]
            await retrying_async(self.backoff, lambda: self.r.zrem(domain_key(host), token))

    async def release_all(self) -> None:
        """Give back whatever is still held (a crawl ended with requests never answered)."""
        for token in list(self.held):
            await self.release(token)

    def _start_renewing(self) -> None:
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.ensure_future(self._renew_loop())

    async def _renew_loop(self) -> None:
        while self.held:
            await asyncio.sleep(self.lease_ms / 3000)
            by_domain: dict[str, list[str]] = {}
            oldest = time.monotonic() - self.max_hold
            for token, (host, since) in list(self.held.items()):
                if since < oldest:
                    log.debug("a request to %s held its slot too long; letting it expire", host)
                    del self.held[token]
                else:
                    by_domain.setdefault(host, []).append(token)
            for host, tokens in by_domain.items():
                try:
                    await self._renew(keys=[domain_key(host)], args=[*tokens, self.lease_ms])
                except Exception as e:  # Redis down: acquire/release report it and wait
                    log.debug("renewing the slots of %s failed: %s", host, e)

    async def close(self) -> None:
        self.closed = True
        await self.release_all()
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing


class DomainSlotsMiddleware:
    """Scrapy downloader middleware: a download holds one of its domain's global slots.

    The worker puts its :class:`DomainSlots` in the ``NEWSWATCH_DOMAIN_SLOTS`` setting.
    """

    def __init__(self, slots: DomainSlots):
        self.slots = slots

    @classmethod
    def from_crawler(cls, crawler: Any) -> DomainSlotsMiddleware:
        return cls(crawler.settings.get("NEWSWATCH_DOMAIN_SLOTS"))

    async def process_request(self, request: Any) -> None:
        host = urlsplit(request.url).hostname or ""
        request.meta[META] = await self.slots.acquire(host)
        return None

    async def process_response(self, request: Any, response: Any) -> Any:
        await self._release(request)
        return response

    async def process_exception(self, request: Any, exception: Exception) -> None:
        await self._release(request)
        return None

    async def _release(self, request: Any) -> None:
        token = request.meta.pop(META, None)
        if token is not None:
            await self.slots.release(token)
