"""Redis clients for the cluster, and riding out a Redis that is down.

Workers and the writer never stop because Redis went away: each failing call logs
one line per outage (not per retry), waits with exponential backoff and tries again;
the first success after an outage logs one line saying Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a Redis that is down, restarting or unreachable raises (BusyLoadingError, a
# restarted server still loading its data, is a ConnectionError).
DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def safe_url(url: str) -> str:
    """The Redis URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def client(url: str) -> redis.Redis:
    """A blocking client (the writer, `cluster enqueue`)."""
    return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                socket_timeout=15, health_check_interval=10)


def async_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client (the worker, on the crawl's event loop)."""
    return redis.asyncio.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                        socket_timeout=15, health_check_interval=10)


class Stopped(Exception):
    """A blocking retry gave up: its process is stopping while Redis is down."""


class Backoff:
    """Retry delays while Redis is down: 0.2 s doubling to ``longest``; one line per outage.

    One object per process (its clients share it), so an outage is one line, not one
    per connection. A single failure that the next try gets past (a pooled connection
    that died with a restarted server) is no outage and is not logged.
    """

    def __init__(self, who: str, url: str, longest: float = 5.0, client: Any = None,
                 stop: threading.Event | None = None):
        self.who = who
        self.stop = stop  # set: a blocking retry gives up (raises Stopped) instead of waiting
        # Its idle connections are dropped at each failure: after a restart of Redis they
        # are all dead, and each would otherwise fail one try.
        self.client = client
        self.url = safe_url(url)
        self.longest = longest
        self.down_since: float | None = None  # when the logged outage began

    def failed(self, error: BaseException, attempt: int) -> float:
        """Note the ``attempt``-th failure in a row of one call; returns the wait before
        the next try."""
        if attempt >= 2 and self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s: redis at %s is unreachable (%s: %s); retrying until it is back",
                        self.who, self.url, type(error).__name__, error)
        return float(min(self.longest, 0.2 * 2 ** min(attempt - 1, 10)))

    def ok(self) -> None:
        """Note a success (logs once when an outage ends)."""
        if self.down_since is not None:
            log.warning("%s: redis at %s is back after %.1f s", self.who, self.url,
                        time.monotonic() - self.down_since)
            self.down_since = None


def retrying(backoff: Backoff, call: Callable[[], T]) -> T:
    """``call()`` until it gets through to Redis (blocking; raises Stopped if the
    backoff's ``stop`` is set while waiting)."""
    attempt = 0
    while True:
        try:
            result = call()
        except DOWN as e:
            attempt += 1
            if backoff.client is not None:
                backoff.client.connection_pool.disconnect(inuse_connections=False)
            wait = backoff.failed(e, attempt)
            if backoff.stop is None:
                time.sleep(wait)
            elif backoff.stop.wait(wait):
                raise Stopped(f"{backoff.who}: stopped while redis was down") from e
            continue
        backoff.ok()
        return result


async def retrying_async(backoff: Backoff, call: Callable[[], Awaitable[Any]]) -> Any:
    """``await call()`` until it gets through to Redis."""
    attempt = 0
    while True:
        try:
            result = await call()
        except DOWN as e:
            attempt += 1
            if backoff.client is not None:
                await backoff.client.connection_pool.disconnect(inuse_connections=False)
            await asyncio.sleep(backoff.failed(e, attempt))
            continue
        backoff.ok()
        return result
