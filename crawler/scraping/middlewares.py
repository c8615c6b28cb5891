"""Downloader middleware that keeps feeds from steering the crawler inward (SSRF).

Links found in feeds are untrusted. A request may go only over http(s), and not
to a private, loopback, link-local or reserved address, unless the source's own
URL is on such an address (a local site) or the config allows it. Redirects pass
through here again, so a public link redirecting inward is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

log = logging.getLogger(__name__)


class BlockedTarget(IgnoreRequest):
    """A request pointed at an address the crawler must not fetch."""


def is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def named_internal(host: str) -> bool | None:
    """Whether ``host`` is internal by its very name (an IP literal, localhost);
    None when only a DNS lookup can tell."""
    try:
        return is_internal(host)
    except ValueError:
        pass
    if host.lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    return None


async def resolves_internal(host: str) -> bool:
    """Whether ``host`` is, or resolves to, an internal address."""
    known = named_internal(host)
    if known is not None:
        return known
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # unresolvable: the download fails on its own with a DNS error
    return any(is_internal(str(info[4][0])) for info in infos)


class SafeTargetsMiddleware:
    """Refuse non-http(s) URLs and internal addresses unless the source allows them."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._verdicts: dict[str, bool] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeTargetsMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise BlockedTarget(f"blocked: only http(s) links are followed ({parts.scheme})")
        context = getattr(self.crawler.spider, "context", None)
        if context is None or context.allow_private:
            return None
        host = parts.hostname or ""
        if host not in self._verdicts:
            self._verdicts[host] = await resolves_internal(host)
        if self._verdicts[host]:
            raise BlockedTarget(f"blocked: {host} is a private or local address")
        return None
