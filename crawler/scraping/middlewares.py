"""Downloader middleware that keeps feeds from steering the crawler inward (SSRF).

Links found in feeds are untrusted. A request may go only over http(s), and not
to a private, loopback, link-local or reserved address, unless the source's own
URL is on such an address (a local site), the config allows it, or the address
is in ``crawl.allow_private_networks``. Redirects pass through here again, so a
public link redirecting inward is refused too.

The guard has two halves sharing one :class:`TargetPolicy`. This middleware
refuses what a URL shows by itself — a non-http(s) scheme, an IP literal,
``localhost`` — before anything is queued. It never looks a name up: a real host
name is screened where the connection resolves it (:mod:`crawler.scraping.resolver`),
so the address checked is the address connected to, and a DNS server answering
differently to a second lookup (rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import BaseSettings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The Scrapy setting holding crawl.allow_private_networks (CIDR strings).
NETWORKS_SETTING = "NEWSWATCH_ALLOW_PRIVATE_NETWORKS"


class BlockedTarget(IgnoreRequest):
    """A request pointed at an address the crawler must not fetch."""


def _address(address: str | IPAddress) -> IPAddress:
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def is_internal(address: str | IPAddress) -> bool:
    """Whether an IP address is private, loopback, link-local, reserved or multicast."""
    ip = _address(address)
    return not ip.is_global or ip.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` is by itself, or None for a name that needs a lookup.

    IPv4 is read the way the C library reads it, so "127.1", "2130706433" and
    "0x7f.0.0.1" are 127.0.0.1 here as they are to a connection.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):  # not an address; ValueError: a NUL in the name
        return None


def named_address(host: str) -> IPAddress | None:
    """The address ``host`` names without a lookup: an IP literal, or loopback for
    ``localhost`` names (RFC 6761); None when only a lookup can tell."""
    literal = literal_address(host)
    if literal is not None:
        return literal
    name = host.lower().rstrip(".")
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    return None


def named_internal(host: str) -> bool | None:
    """Whether ``host`` is internal by its very name (an IP literal, localhost);
    None when only a DNS lookup can tell."""
    address = named_address(host)
    return None if address is None else is_internal(address)


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses one crawl may connect to."""

    allow_private: bool = False  # the source allows private addresses: the guard is off
    networks: tuple[IPNetwork, ...] = ()  # internal networks allowed anyway

    def permits(self, address: str | IPAddress) -> bool:
        if self.allow_private:
            return True
        ip = _address(address)
        return not is_internal(ip) or any(ip in net for net in self.networks)


def allowed_networks(settings: BaseSettings) -> tuple[IPNetwork, ...]:
    """``crawl.allow_private_networks`` from the Scrapy settings (validated by the config)."""
    return tuple(ipaddress.ip_network(v) for v in settings.getlist(NETWORKS_SETTING))


def crawl_policy(crawler: Crawler, networks: tuple[IPNetwork, ...] = ()) -> TargetPolicy:
    """The policy of the crawl ``crawler`` runs; a spider without a crawl context
    (``scrapy shell``) is not guarded, as before."""
    context = getattr(crawler.spider, "context", None)
    return TargetPolicy(allow_private=context is None or context.allow_private,
                        networks=networks)


class SafeTargetsMiddleware:
    """Refuse non-http(s) URLs, and hosts internal by their very name unless allowed."""

    def __init__(self, crawler: Crawler, networks: tuple[IPNetwork, ...] = ()) -> None:
        self.crawler = crawler
        self.networks = networks

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeTargetsMiddleware:
        return cls(crawler, allowed_networks(crawler.settings))

    async def process_request(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise BlockedTarget(f"blocked: only http(s) links are followed ({parts.scheme})")
        host = parts.hostname or ""
        address = named_address(host)
        if address is not None and not crawl_policy(self.crawler, self.networks).permits(address):
            raise BlockedTarget(f"blocked: {host} is a private or local address")
        return None
