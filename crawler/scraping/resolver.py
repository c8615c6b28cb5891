"""One name lookup per connection, and the SSRF guard checks that lookup's answer.

Why: the guard used to resolve a link's host itself while Scrapy's downloader
resolved it again to connect. The two answers can differ (DNS rebinding: a public
address for the check, an internal one for the connection), and a resolver given
to the downloader alone would never be seen by the check. Here the connection's
own lookup is the check:

* :class:`GuardedDownloadHandler` is Scrapy's HTTP(S) download handler; around
  each download it makes the crawl's :class:`~crawler.scraping.middlewares.TargetPolicy`
  current (a context variable).
* :class:`ScreeningResolver` is the Twisted reactor's name resolver. Every host a
  connection resolves goes through it, and only the addresses the current
  download's policy permits reach the connection. IP literals are answered here
  ("127.1" included), never looked up, so they are screened the same way.
* A download whose every address was refused fails with ``BlockedTarget``.

The one Scrapy/Twisted behaviour this relies on is contained in
:meth:`GuardedDownloadHandler.download_request`: Scrapy's HTTP/1.1 handler starts
the connection, and so its lookup, before its first ``await``, inside the
handler's context. Should that change, lookups would arrive without a policy and
be screened as for a guarded crawl (fails closed): crawls of the local test site
would fail, and the test suite would say so.

The Scrapy setting ``NEWSWATCH_RESOLVER`` (a class built ``from_crawler``, giving an
``IHostnameResolver``) replaces the system resolver under the screen; tests use it
for a fixed table of names, which then serves the check and the connection alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
)
from zope.interface import implementer

from crawler.scraping.middlewares import (
    BlockedTarget,
    TargetPolicy,
    allowed_networks,
    crawl_policy,
    literal_address,
)
from crawler.scraping.startup import caller_modules_by_frame

with caller_modules_by_frame():  # Scrapy's TLS modules, without their 0.1 s of start-up
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

RESOLVER_SETTING = "NEWSWATCH_RESOLVER"


class _Screen:
    """One download's policy, and what its lookup passed on or refused."""

    def __init__(self, policy: TargetPolicy, upstream: Any = None) -> None:
        self.policy = policy
        self.upstream = upstream  # an IHostnameResolver, or None: the system's
        self.passed: list[str] = []
        self.refused: list[str] = []

    def admits(self, host: str) -> bool:
        try:
            ok = self.policy.permits(host)
        except ValueError:  # not an IP address: nothing to connect to
            ok = False
        (self.passed if ok else self.refused).append(host)
        return ok


_SCREEN: ContextVar[_Screen | None] = ContextVar("newswatch_screen", default=None)


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass  # answered at once: nothing to cancel


@implementer(IResolutionReceiver)
class _Screening:
    """Hands the connection only the addresses its download's screen admits."""

    def __init__(self, receiver: Any, screen: _Screen) -> None:
        self.receiver = receiver
        self.screen = screen

    def resolutionBegan(self, resolutionInProgress: Any) -> None:
        self.receiver.resolutionBegan(resolutionInProgress)

    def addressResolved(self, address: Any) -> None:
        if self.screen.admits(str(getattr(address, "host", ""))):
            self.receiver.addressResolved(address)

    def resolutionComplete(self) -> None:
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class ScreeningResolver:
    """The reactor's name resolver: every lookup screened by the current download's policy."""

    def __init__(self, system: Any) -> None:
        self.system = system  # the resolver this one replaced

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        # Outside a guarded download (nothing of newswatch's): screened as for a guarded crawl.
        screen = _SCREEN.get() or _Screen(TargetPolicy())
        receiver = _Screening(resolutionReceiver, screen)
        literal = literal_address(hostName)
        if literal is not None:
            resolution = _Resolution(hostName)
            receiver.resolutionBegan(resolution)
            cls = IPv4Address if literal.version == 4 else IPv6Address
            receiver.addressResolved(cls("TCP", str(literal), portNumber))
            receiver.resolutionComplete()
            return resolution
        upstream = screen.upstream or self.system
        return upstream.resolveHostName(receiver, hostName, portNumber, addressTypes,
                                        transportSemantics)


def install_screening() -> None:
    """Make the reactor's name resolver a :class:`ScreeningResolver` (idempotent).

    Checked before every download, so a resolver installed later (Scrapy's
    ``CrawlerProcess`` installs its own when it starts) is wrapped in turn.
    """
    from twisted.internet import reactor

    current = reactor.nameResolver
    if not isinstance(current, ScreeningResolver):
        reactor.installNameResolver(ScreeningResolver(current))


class GuardedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP(S) download handler; each connection's lookup is screened."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._networks = allowed_networks(crawler.settings)
        upstream = crawler.settings.get(RESOLVER_SETTING)
        self._upstream = build_from_crawler(load_object(upstream), crawler) if upstream else None
        install_screening()

    async def download_request(self, request: Request) -> Response:
        policy = crawl_policy(self.crawler, self._networks)
        if request.meta.get("proxy"):
            # The connection goes to the proxy the operator configured (http_proxy);
            # the proxy resolves the link's name, out of this process's sight.
            policy = TargetPolicy(allow_private=True)
        screen = _Screen(policy, self._upstream)
        install_screening()
        token = _SCREEN.set(screen)
        try:
            return await super().download_request(request)
        except Exception:
            if screen.refused and not screen.passed:
                refused = ", ".join(dict.fromkeys(screen.refused))
                host = urlparse_cached(request).hostname
                raise BlockedTarget(
                    f"blocked: {host} resolves to a private or local address ({refused})"
                ) from None
            raise
        finally:
            _SCREEN.reset(token)
