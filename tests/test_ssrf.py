"""The SSRF guard on real crawls: a name is checked where the connection resolves it.

Names resolve through a fixed table (tests/dnstable.py) given to Scrapy, never through
DNS; the guard screens the table's answers as it screens the system resolver's, so what
is checked is what the connection uses. Every server is on loopback: 127.0.0.1 stands
for a public site where ``crawl.allow_private_networks`` lets it, 127.0.0.2 for an
internal service (a trap server that must never see a request).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_config
from dnstable import HostsTable, TableResolver
from sitesrv import SiteServer
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

from crawler.archive.store import Archive
from crawler.config.model import load_config
from crawler.extraction.pages import Extractor
from crawler.scraping.crawl import RunSummary, crawl_sources
from crawler.scraping.reactor import run_on_reactor

ARTICLE = "/news/advisers-remain-iraq.html"
OTHER = "/news/iraq-coalition-talks.html"


@pytest.fixture
def trap(tmp_path: Path, site: SiteServer) -> Iterator[SiteServer]:
    """An internal service: a server on 127.0.0.2 at the site's port."""
    (tmp_path / "trap").mkdir()
    with SiteServer(tmp_path / "trap", host="127.0.0.2", port=port(site)) as server:
        yield server


def port(site: SiteServer) -> int:
    return int(site.url.rsplit(":", 1)[1])


def crawl(config_path: Path, table: HostsTable, extractor: Extractor) -> list[RunSummary]:
    """One crawl of every source, names resolved from ``table``."""
    config = load_config(config_path)
    archive = Archive.open(config.archive)
    try:
        return run_on_reactor(crawl_sources(config, archive, list(config.sources), extractor,
                                            scrapy_overrides=table.settings()))
    finally:
        archive.close()


def documents(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The archived documents by title: their via and text."""
    with sqlite3.connect(tmp_path / "newswatch.db") as conn:
        rows = conn.execute("SELECT d.title, v.via, v.text FROM documents d "
                            "JOIN versions v ON v.id = d.current_version").fetchall()
    return {title: {"via": via, "text": text} for title, via, text in rows}


def rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>{title}, from the feed.</description><guid>item-{i}</guid>"
        f"<pubDate>Mon, 0{i + 1} Sep 2025 10:00:00 +0000</pubDate></item>"
        for i, (title, link) in enumerate(items))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Links</title><link>http://public.example.test/</link>"
            f"<description>x</description>{entries}</channel></rss>")


def test_a_source_whose_name_resolves_to_loopback_is_refused(tmp_path, site, extractor):
    url = f"http://feeds.example.test:{port(site)}/feeds/wire.xml"
    table = HostsTable({"feeds.example.test": ["127.0.0.1"]})
    cfg = write_config(tmp_path, [{"name": "wire", "type": "feed", "url": url}])

    (run,) = crawl(cfg, table, extractor)

    assert run.details == (
        f"blocked: feeds.example.test resolves to a private or local address (127.0.0.1): {url}",)
    assert (run.status, run.counts.errors, run.counts.new_documents) == ("failed", 1, 0)
    assert site.requests == []  # not the feed, not even robots.txt
    assert "feeds.example.test" in table.asked  # looked up by the connection, refused there

    # The same source with allow_private: the guard is off for it.
    cfg = write_config(tmp_path, [{"name": "wire", "type": "feed", "url": url,
                                   "allow_private": True}])

    (run,) = crawl(cfg, table, extractor)

    assert (run.status, run.counts.new_documents) == ("partial", 4)  # its /missing/ item 404s
    assert site.statuses("/feeds/wire.xml") == [200]


def test_an_allowed_network_is_fetched_and_links_inward_are_refused(tmp_path, site, trap,
                                                                     extractor):
    base = f":{port(site)}"
    site.publish("feeds/links.xml", rss([
        ("Public article", f"http://public.example.test{base}{ARTICLE}"),
        ("Intranet page", f"http://intranet.example.test{base}{OTHER}"),
        ("Internal address", f"http://127.0.0.2{base}{OTHER}"),
        ("Redirected inward", f"http://public.example.test{base}/go/inward"),
    ]))
    site.redirect("/go/inward", f"http://intranet.example.test{base}/admin/")
    table = HostsTable({"public.example.test": ["127.0.0.1"],
                        "intranet.example.test": ["127.0.0.2"]})
    cfg = write_config(
        tmp_path,
        [{"name": "links", "type": "feed", "url": f"http://public.example.test{base}/feeds/links.xml"}],
        crawl={"allow_private_networks": ["127.0.0.1/32"]},
    )

    (run,) = crawl(cfg, table, extractor)

    docs = documents(tmp_path)
    assert docs["Public article"]["via"] == "page"  # fetched through the name
    assert "between 250 to 350" in docs["Public article"]["text"]
    assert site.statuses(ARTICLE) == [200]
    for title in ("Intranet page", "Internal address", "Redirected inward"):  # the item kept
        assert docs[title] == {"via": "feed", "text": f"{title}, from the feed."}
    inward = "blocked: intranet.example.test resolves to a private or local address (127.0.0.2)"
    assert sorted(run.details) == [
        f"blocked: 127.0.0.2 is a private or local address: http://127.0.0.2{base}{OTHER}",
        f"{inward}: http://intranet.example.test{base}/admin/",  # the redirect's target
        f"{inward}: http://intranet.example.test{base}{OTHER}",
    ]
    assert site.statuses("/go/inward") == [302]
    assert (run.counts.errors, run.counts.fallbacks) == (3, 3)
    assert trap.requests == []
    assert "127.0.0.2" not in table.asked  # an IP literal is screened, never looked up


def test_a_rebinding_name_is_checked_on_the_address_the_connection_uses(tmp_path, site, trap,
                                                                         extractor):
    # The name answers an allowed address to its first lookup and an internal one after.
    # Had the guard looked the name up apart from the connection, the connection's
    # lookup (the second) would have reached the trap.
    url = f"http://rebind.example.test:{port(site)}{ARTICLE}"
    table = HostsTable({"rebind.example.test": [["127.0.0.1"], ["127.0.0.2"]]})
    cfg = write_config(tmp_path, [{"name": "page", "type": "page", "url": url}],
                       crawl={"allow_private_networks": ["127.0.0.1/32"], "obey_robots": False})

    (first,) = crawl(cfg, table, extractor)

    assert (first.status, first.counts.new_documents) == ("ok", 1)
    assert table.asked == ["rebind.example.test"]  # one lookup served the check and the connection
    assert site.statuses(ARTICLE) == [200]

    (second,) = crawl(cfg, table, extractor)  # a new connection: the name now rebinds

    assert second.details == (
        "blocked: rebind.example.test resolves to a private or local address (127.0.0.2): "
        f"{url}",)
    assert table.asked == ["rebind.example.test"] * 2
    assert trap.requests == []


def test_through_a_proxy_the_proxy_resolves_names(tmp_path, site, monkeypatch, extractor):
    # The connection goes to the proxy the operator configured, which resolves the link's
    # name; links that are addresses by themselves are still refused before that.
    monkeypatch.setenv("http_proxy", site.url)  # the site server answers as a proxy too
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    table = HostsTable({})  # no name resolves in this process
    cfg = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                   "url": "http://feeds.example.test/feeds/wire.xml"}])

    (run,) = crawl(cfg, table, extractor)

    assert ("GET", "http://feeds.example.test/feeds/wire.xml", 200) in site.requests
    assert table.asked == []
    assert run.counts.fallbacks == 4  # the items link to http://127.0.0.1:PORT/...
    assert run.details and all(d.startswith("blocked: 127.0.0.1 is a private or local address")
                               for d in run.details)


@implementer(IResolutionReceiver)
class Receiver:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:
        self.complete = True


@pytest.mark.parametrize(
    ("host", "passed"),
    [("mixed.example.test", ["93.184.216.34"]), ("inside.example.test", []),
     ("127.1", []), ("2130706433", []), ("::1", []), ("93.184.216.34", ["93.184.216.34"])],
)
def test_lookups_outside_a_guarded_download_are_screened(host, passed):
    # Fails closed: a lookup no newswatch download asked for gets the strict policy.
    from crawler.scraping.resolver import ScreeningResolver

    table = HostsTable({"mixed.example.test": ["10.0.0.7", "93.184.216.34"],
                        "inside.example.test": ["169.254.169.254"]})
    receiver = Receiver()

    ScreeningResolver(TableResolver(table)).resolveHostName(receiver, host, 80)

    assert (receiver.addresses, receiver.complete) == (passed, True)
    assert table.asked == ([host] if host.endswith(".test") else [])  # literals: no lookup
