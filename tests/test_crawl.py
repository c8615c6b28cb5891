"""Real Scrapy crawls of the fixture site (SiteServer on 127.0.0.1) into a real SQLite archive.

Most tests crawl in-process with ``run_on_reactor(crawl_pass(...))``, several times per
process; the CLI tests go through click's CliRunner, and one test runs the installed
``newswatch crawl`` command as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_config
from sitesrv import SiteServer

from crawler.archive.store import Archive, RunCounts, RunStatus
from crawler.config.model import load_config
from crawler.extraction.pages import Extractor
from crawler.pipeline import PassResult, crawl_pass
from crawler.scraping.crawl import CrawlContext
from crawler.scraping.reactor import run_on_reactor

STORY = {
    "name": "us-iraq-coalition",
    "match": {"all": ["Iraq"], "any": ["coalition", "withdrawal", "troops"]},
    "trackers": [
        {"name": "us-troops-iraq", "kind": "troops", "about": ["Iraq"], "not_about": ["Syria"]},
    ],
}
BRIEFINGS = "/briefings/department-press-briefing-{}/"


def crawl(config_path: Path, extractor: Extractor, *names: str) -> PassResult:
    """One pass over the named sources (all when none), as `newswatch crawl` does it."""
    config = load_config(config_path)
    archive = Archive.open(config.archive)
    try:
        sources = [config.source(n) for n in names] or list(config.sources)
        return run_on_reactor(crawl_pass(config, archive, sources, extractor))
    finally:
        archive.close()


class Archived:
    """Read-side view of the test archive, keyed by site path."""

    def __init__(self, tmp_path: Path, site: SiteServer):
        self.path = tmp_path / "newswatch.db"
        self.base = site.url

    def rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with sqlite3.connect(self.path) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params)]

    def doc(self, path_or_url: str) -> dict[str, Any]:
        """The document (joined with its current version's text and via) at a site path."""
        url = path_or_url if ":" in path_or_url else self.base + path_or_url
        rows = self.rows(
            "SELECT d.*, v.text, v.via, v.title AS version_title FROM documents d "
            "JOIN versions v ON v.id = d.current_version WHERE d.url = ?",
            (url,),
        )
        assert rows, f"{url} was not archived"
        return rows[0]

    def versions(self, path: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT v.* FROM versions v JOIN documents d ON d.id = v.document_id "
            "WHERE d.url = ? ORDER BY v.id",
            (self.base + path,),
        )

    def runs(self, source: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM runs WHERE source = ? ORDER BY id", (source,))

    def count(self, table: str) -> int:
        return self.rows(f"SELECT count(*) AS n FROM {table}")[0]["n"]


@pytest.fixture
def archived(tmp_path, site) -> Archived:
    return Archived(tmp_path, site)


def source(site: SiteServer, name: str, type_: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "url": site.url + path, **extra}


def test_the_crawl_context_counts_what_spiders_and_the_pipeline_report(tmp_path, extractor):
    """Spiders and the pipeline change a run's counts only through CrawlContext's methods."""
    config = load_config(write_config(tmp_path, [{"name": "wire", "type": "feed",
                                                  "url": "http://127.0.0.1:9/feed"}]))
    archive = Archive.open(config.archive)
    try:
        ctx = CrawlContext(source=config.sources[0], archive=archive, extractor=extractor,
                           stories=(), run_id=archive.start_run("wire"),
                           revisit=config.sources[0].revisit, allow_private=False)
        for stored in ("new", "new", "revised", "unchanged"):
            ctx.count_fetched()
            ctx.count_stored(stored)
        ctx.count_fetched()
        ctx.count_unchanged()  # the same fetched bytes as last time
        ctx.count_fallback()
        assert ctx.counts == RunCounts(fetched=5, new_documents=2, new_versions=1,
                                       unchanged=2, fallbacks=1)
        assert ctx.status is RunStatus.OK
        ctx.lose("not stored: the disk is full", cause="full")
        assert (ctx.counts.lost, ctx.counts.errors, ctx.status) == (1, 1, RunStatus.PARTIAL)
    finally:
        archive.close()


# ---------------------------------------------------------------- state-briefings


def test_briefings_first_crawl(tmp_path, site, archived, extractor):
    cfg = write_config(tmp_path, [source(site, "briefings", "state-briefings",
                                         "/department-press-briefings/")], stories=[STORY])

    result = crawl(cfg, extractor)

    (run,) = result.runs
    assert (run.status, run.counts.fetched, run.counts.new_documents, run.counts.errors) == (
        "ok", 5, 5, 0)
    assert site.statuses("/department-press-briefings/page/2/") == [200]
    expected = {
        "september-27-2024": ("September 27, 2024", "2024-09-27", "Matthew Miller", True),
        "september-23-2024": ("September 23, 2024", "2024-09-23", "Matthew Miller", False),
        "september-10-2024": ("September 10, 2024", "2024-09-10", "Matthew Miller", True),
        "august-29-2024": ("August 29, 2024", "2024-08-29", "Vedant Patel", False),  # near miss
        "july-23-2024": ("July 23, 2024", "2024-07-23", "Matthew Miller", True),
    }
    assert archived.count("documents") == 5
    for slug, (day, published, speaker, on_topic) in expected.items():
        doc = archived.doc(BRIEFINGS.format(slug))
        assert doc["title"] == f"Department Press Briefing \u2013 {day}"
        assert doc["published"] == published
        assert doc["author"].startswith(speaker + ", ")
        assert doc["source"] == "briefings" and doc["via"] == "page"
        assert (json.loads(doc["stories"]) == ["us-iraq-coalition"]) is on_topic, slug
        # The transcript: time line first, speaker turns, no summary index block.
        text = doc["text"]
        assert text.splitlines()[0].endswith(("a.m. EDT", "p.m. EDT")), text[:80]
        assert "QUESTION:" in text
        assert "Index for Today" not in text
    sep27 = archived.doc(BRIEFINGS.format("september-27-2024"))["text"]
    assert "conclude by September 2025" in sep27
    assert "Joint Statement on the Coalition Mission in Iraq" not in sep27  # an index entry
    assert "Rapid Support Forces" in sep27  # the Sudan aside is part of the transcript


def test_briefings_max_items_counts_per_crawl(tmp_path, site, archived, extractor):
    cfg = write_config(tmp_path, [source(site, "briefings", "state-briefings",
                                         "/department-press-briefings/", max_items=2)])

    (run,) = crawl(cfg, extractor).runs

    assert (run.status, run.counts.new_documents) == ("ok", 2)
    # The newest two, from listing page 1; page 2 is not needed.
    urls = {d["url"] for d in archived.rows("SELECT url FROM documents")}
    assert urls == {site.url + BRIEFINGS.format(d) for d in ("september-27-2024",
                                                             "september-23-2024")}
    assert site.count("/department-press-briefings/page/2/") == 0


def test_briefings_listing_page_failure_does_not_stop_the_walk(tmp_path, site, archived,
                                                                extractor):
    site.fail("/department-press-briefings/", 503, times=2)  # retries: 1 -> gives up
    cfg = write_config(tmp_path, [source(site, "briefings", "state-briefings",
                                         "/department-press-briefings/")])

    (run,) = crawl(cfg, extractor).runs

    assert (run.status, run.counts.new_documents, run.counts.errors) == ("partial", 2, 1)
    assert run.details == (f"HTTP 503: {site.url}/department-press-briefings/",)
    assert site.statuses("/department-press-briefings/page/2/") == [200]


# ---------------------------------------------------------------- feeds

FEED_ITEMS = {
    "wire": [
        ("/news/us-drawdown-iraq-2025.html",
         "US military begins drawing down in Iraq, shifting forces away from Baghdad",
         "2025-10-01", "Daniel Okafor", "{BASE}/?p=5120", "page", True),
        ("/news/japan-ldp-leadership.html",
         "Ishiba wins Japan ruling party leadership, set to become prime minister",
         "2024-09-27", "Kenji Mori", "{BASE}/?p=4833", "page", False),
        ("/missing/gone.html",
         "US officials say some troops may stay in Iraq as coalition talks near end",
         "2024-09-20", "Daniel Okafor", "{BASE}/?p=4790", "feed", True),
        ("/news/iraq-coalition-talks.html",
         "US and Iraq agree on plan to wind down coalition mission, sources say",
         "2024-09-06", "Sara Haddad", "{BASE}/?p=4712", "page", True),
    ],
    "atom": [
        ("/news/advisers-remain-iraq.html", "Sudani says up to 350 US advisers will stay in Iraq",
         "2025-10-20", "Layla Karim",  # published, not the later <updated>
         "tag:meridianwire.example,2025-10-20:/news/advisers-remain-iraq", "page", True),
        ("/news/ain-al-asad-handover.html",
         "US forces prepare to leave Ain al-Asad as base handover nears", "2025-08-24",
         "Sara Haddad", "tag:meridianwire.example,2025-08-24:/news/ain-al-asad-handover",
         "page", True),
    ],
    "rdf": [
        ("/news/kurdistan-coalition-presence.html",
         "Coalition mission in federal Iraq effectively over, Iraqi official says", "2025-11-26",
         "Layla Karim", "{BASE}/news/kurdistan-coalition-presence.html", "page", True),
        ("/news/higher-military-commission.html",
         "US and Iraq launch talks on future of coalition mission", "2024-01-26",
         "Daniel Okafor", "{BASE}/news/higher-military-commission.html", "page", True),
    ],
}


@pytest.mark.parametrize("feed", ["wire", "atom", "rdf"])
def test_feed_items_archived(tmp_path, site, archived, extractor, feed):
    cfg = write_config(tmp_path, [source(site, feed, "feed", f"/feeds/{feed}.xml")],
                       stories=[STORY])

    (run,) = crawl(cfg, extractor).runs

    items = FEED_ITEMS[feed]
    assert archived.count("documents") == len(items)
    assert run.counts.new_documents == len(items)
    for path, title, published, author, guid, via, on_topic in items:
        doc = archived.doc(path)
        assert (doc["title"], doc["published"], doc["author"]) == (title, published, author)
        assert doc["guid"] == guid.replace("{BASE}", site.url)
        assert doc["source"] == feed and doc["via"] == via, path
        assert (json.loads(doc["stories"]) == ["us-iraq-coalition"]) is on_topic, path
        assert "All rights reserved" not in doc["text"]  # page chrome is not article text
    if feed == "wire":
        # The 404 item is archived from the feed's own content:encoded ...
        gone = archived.doc("/missing/gone.html")
        assert "no formal agreement on ending the coalition" in gone["text"]
        assert "<p>" not in gone["text"]
        # ... and the 404 is counted.
        assert (run.status, run.counts.errors, run.counts.fallbacks) == ("partial", 1, 1)
        (stored,) = archived.runs("wire")
        assert json.loads(stored["error_detail"]) == [f"HTTP 404: {site.url}/missing/gone.html"]
        # Extracted from the page, not the feed: the page's standfirst is not in the feed.
        talks = archived.doc("/news/iraq-coalition-talks.html")["text"]
        assert "approximately 2,500 troops in Iraq" in talks
    else:
        assert (run.status, run.counts.errors) == ("ok", 0)
        # The page gives much more than the one-sentence feed summary.
        assert all(len(archived.doc(item[0])["text"]) > 500 for item in items)


@pytest.mark.parametrize(
    ("element", "stamp", "day"),
    [
        ("pubDate", "Fri, 27 Sep 2024 20:40:00 -0500", "2024-09-27"),  # the 28th in UTC
        ("pubDate", "Fri, 27 Sep 2024 20:40:00 EDT", "2024-09-27"),
        ("pubDate", "Sat, 28 Sep 2024 01:30:00 +0300", "2024-09-28"),  # the 27th in UTC
        ("pubDate", "27 Sep 2024", "2024-09-27"),
        ("dc:date", "2025-08-24T22:10:00-04:00", "2025-08-24"),
        ("dc:date", "2025-08-24T02:10:00+05:00", "2025-08-24"),
    ],
)
def test_feed_item_date_is_the_day_the_publisher_stated(element, stamp, day):
    import feedparser

    from crawler.scraping.spiders.feed import entry_date

    feed = feedparser.parse(
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item>'
        f"<title>t</title><{element}>{stamp}</{element}></item></channel></rss>")
    assert entry_date(feed.entries[0]) == day


def test_relative_item_links_resolve_against_the_feed_url(tmp_path, site, archived, extractor):
    site.publish("feeds/relative.xml", rss([
        ("Root-relative", "/news/advisers-remain-iraq.html", "Short."),
        ("Path-relative", "../news/ain-al-asad-handover.html", "Short."),
    ]))
    cfg = write_config(tmp_path, [source(site, "relative", "feed", "/feeds/relative.xml")])

    (run,) = crawl(cfg, extractor).runs

    assert (run.status, run.counts.new_documents, run.counts.fallbacks) == ("ok", 2, 0)
    assert archived.doc("/news/advisers-remain-iraq.html")["via"] == "page"
    assert archived.doc("/news/ain-al-asad-handover.html")["via"] == "page"


def test_feed_without_fetching_articles(tmp_path, site, archived, extractor):
    cfg = write_config(tmp_path, [source(site, "wire", "feed", "/feeds/wire.xml",
                                         fetch_articles=False)])

    (run,) = crawl(cfg, extractor).runs

    assert (run.status, run.counts.new_documents, run.counts.errors) == ("ok", 4, 0)
    assert [path for _, path, _ in site.requests if path.startswith(("/news/", "/missing/"))] == []
    doc = archived.doc("/news/us-drawdown-iraq-2025.html")
    assert doc["via"] == "feed" and doc["published"] == "2025-10-01"
    assert doc["text"].startswith("WASHINGTON - The U.S. military is shifting")  # content:encoded


# ---------------------------------------------------------------- recrawls


def test_second_crawl_of_unchanged_site_revalidates_and_stores_nothing(
        tmp_path, site, archived, extractor):
    cfg = write_config(tmp_path, [
        source(site, "briefings", "state-briefings", "/department-press-briefings/"),
        source(site, "atom", "feed", "/feeds/atom.xml"),
    ])
    crawl(cfg, extractor)
    versions, documents = archived.count("versions"), archived.count("documents")

    second = {r.source: r for r in crawl(cfg, extractor).runs}

    assert (archived.count("versions"), archived.count("documents")) == (versions, documents)
    for name, n in (("briefings", 5), ("atom", 2)):
        counts = second[name].counts
        assert (counts.fetched, counts.unchanged, counts.new_documents, counts.new_versions,
                counts.errors) == (n, n, 0, 0, 0), name
    # Every page was revalidated with a conditional request and answered 304.
    paths = ["/feeds/atom.xml", "/news/advisers-remain-iraq.html",
             "/department-press-briefings/", "/department-press-briefings/page/2/",
             BRIEFINGS.format("september-27-2024"), BRIEFINGS.format("july-23-2024")]
    for path in paths:
        assert site.statuses(path) == [200, 304], path


def test_default_revisit_skips_known_articles(tmp_path, site, archived, extractor):
    # revisit: None drops the key, so the default (1h) applies.
    cfg = write_config(tmp_path, [source(site, "atom", "feed", "/feeds/atom.xml", revisit=None),
                                  source(site, "briefings", "state-briefings",
                                         "/department-press-briefings/", revisit=None)])
    assert {s.revisit.total_seconds() for s in load_config(cfg).sources} == {3600}
    crawl(cfg, extractor)

    second = {r.source: r.counts for r in crawl(cfg, extractor).runs}

    assert site.statuses("/feeds/atom.xml") == [200, 304]
    assert site.count("/news/advisers-remain-iraq.html") == 1
    assert site.count("/news/ain-al-asad-handover.html") == 1
    assert site.count(BRIEFINGS.format("september-27-2024")) == 1
    assert (second["atom"].fetched, second["atom"].unchanged) == (0, 2)
    assert (second["briefings"].fetched, second["briefings"].unchanged) == (0, 5)


def test_edited_article_gets_one_new_version_with_facts(tmp_path, site, archived, extractor):
    cfg = write_config(tmp_path, [source(site, "wire", "feed", "/feeds/wire.xml")],
                       stories=[STORY])
    crawl(cfg, extractor)
    path = "/news/us-drawdown-iraq-2025.html"
    (first,) = archived.versions(path)
    page = site.root / path.lstrip("/")
    old = page.read_text(encoding="utf-8")
    assert old.count("fewer than 2,000 troops") == 1
    site.edit(path, old.replace("fewer than 2,000 troops", "fewer than 1,500 troops"))

    (run,) = crawl(cfg, extractor).runs

    assert (run.counts.new_versions, run.counts.new_documents) == (1, 0)
    versions = archived.versions(path)
    assert [v["id"] for v in versions][0] == first["id"] and len(versions) == 2
    new = versions[1]
    assert "fewer than 1,500 troops" in new["text"]
    assert "fewer than 1,500 troops" not in first["text"]
    assert archived.doc(path)["current_version"] == new["id"]
    # No other document changed.
    assert archived.count("versions") == archived.count("documents") + 1
    facts = archived.rows("SELECT * FROM facts WHERE version_id = ?", (new["id"],))
    assert facts, "the new version has no facts"
    assert any(f["raw"] and "1,500" in f["raw"] and f["tracker"] == "us-troops-iraq"
               for f in facts), facts
    assert all(f["document_id"] == first["document_id"] for f in facts)


def test_page_source_watches_one_url_for_revisions(tmp_path, site, archived, extractor):
    path = "/news/ain-al-asad-handover.html"
    cfg = write_config(tmp_path, [source(site, "one-page", "page", path)], stories=[STORY])
    (first,) = crawl(cfg, extractor).runs
    doc = archived.doc(path)
    assert (first.status, first.counts.new_documents) == ("ok", 1)
    assert doc["title"] == "US forces prepare to leave Ain al-Asad as base handover nears"
    assert doc["published"] == "2025-08-24"  # found in the page itself: no feed here
    assert json.loads(doc["stories"]) == ["us-iraq-coalition"]

    (unchanged,) = crawl(cfg, extractor).runs
    page = site.root / path.lstrip("/")
    text = page.read_text(encoding="utf-8")
    site.edit(path, text.replace("</article>", "<p>The handover was completed on Sunday, "
                                 "Iraqi officials said.</p></article>"))
    (revised,) = crawl(cfg, extractor).runs

    assert (unchanged.counts.unchanged, unchanged.counts.new_versions) == (1, 0)
    assert revised.counts.new_versions == 1
    versions = archived.versions(path)
    assert len(versions) == 2
    assert "handover was completed on Sunday" in versions[1]["text"]
    assert site.statuses(path) == [200, 304, 200]


# ---------------------------------------------------------------- bad input


def test_malformed_feed_fails_its_run_and_others_complete(tmp_path, site, archived):
    cfg = write_config(tmp_path, [source(site, "bad", "feed", "/feeds/malformed.xml"),
                                  source(site, "rdf", "feed", "/feeds/rdf.xml")])

    result = run_cli("--config", str(cfg), "crawl", "--json")

    assert result.exit_code == 1  # the job ran and (for one source) failed
    (bad,) = archived.runs("bad")
    assert (bad["status"], bad["errors"], bad["fetched"]) == ("failed", 1, 0)
    (detail,) = json.loads(bad["error_detail"])
    assert detail.startswith("malformed feed") and detail.endswith("/feeds/malformed.xml")
    (rdf,) = archived.runs("rdf")
    assert (rdf["status"], rdf["new_documents"], rdf["errors"]) == ("ok", 2, 0)
    assert archived.doc("/news/higher-military-commission.html")["via"] == "page"
    lines = {json.loads(line)["source"]: json.loads(line) for line in result.stdout.splitlines()}
    assert lines["bad"]["status"] == "failed" and lines["bad"]["errors"] == 1


def test_troublesome_items_are_counted_and_the_rest_archived(tmp_path, site, archived,
                                                             extractor):
    site.slow_seconds = 3  # > crawl.timeout (1 s)
    cfg = write_config(tmp_path, [source(site, "troubles", "feed", "/feeds/troubles.xml")],
                       crawl={"max_size": 100_000}, stories=[STORY])

    (run,) = crawl(cfg, extractor).runs

    (stored,) = archived.runs("troubles")
    details = json.loads(stored["error_detail"])
    base = site.url
    assert sorted(details) == sorted([
        f"forbidden by robots.txt: {base}/private/secret.html",
        f"not an HTML page (Content-Type application/octet-stream): {base}/files/report.pdf",
        f"response over the size limit: {base}/big/article.html",
        f"timeout: {base}/slow/article.html",
    ])
    assert (stored["status"], stored["errors"], stored["fetched"], stored["fallbacks"]) == (
        "partial", 4, 8, 5)
    assert run.counts.errors == 4
    # All eight items are archived: five of them from the feed's own content.
    assert archived.count("documents") == 8
    # flaky: 500, retried, then archived from the page
    assert site.statuses("/flaky/article.html") == [500, 200]
    flaky = archived.doc("/flaky/article.html")
    assert flaky["via"] == "page" and "Al-Hadath TV" in flaky["text"]
    # slow: timed out -> the item's description
    slow = archived.doc("/slow/article.html")
    assert slow["via"] == "feed" and slow["text"].startswith("Some troops may stay at Hareer")
    # big: over crawl.max_size -> the item's description
    big = archived.doc("/big/article.html")
    assert big["via"] == "feed" and big["text"] == "Follow our live coverage of the talks."
    # PDF: not HTML -> the item's description, and the PDF bytes are not archived as text
    pdf = archived.doc("/files/report.pdf")
    assert (pdf["via"], pdf["text"]) == ("feed", "Download the fact sheet (PDF, 1 page).")
    # latin-1 page: decoded with its declared charset
    latin = archived.doc("/latin1/article.html")
    assert latin["via"] == "page"
    for word in ("Ministère des Armées", "Opération Chammal", "cafés", "«Military operations"):
        assert word in latin["text"]
    assert "Ã" not in latin["text"] and "\ufffd" not in latin["text"]
    assert latin["author"] == "Hélène Marchand"
    # no <link>: archived from its description under a stable non-http URL
    (nolink,) = archived.rows("SELECT * FROM documents WHERE url LIKE 'urn:newswatch:%'")
    nolink = archived.doc(nolink["url"])
    assert nolink["guid"] == "urn:uuid:5f0c2a9e-6b1d-4c1e-9a57-2d7e0b6f3c11"
    assert nolink["via"] == "feed" and nolink["published"] == "2025-11-07"
    assert nolink["text"].startswith("Senior officials from the United States and Iraq met")
    assert json.loads(nolink["stories"]) == ["us-iraq-coalition"]
    # robots.txt: /private/ is never requested
    assert site.count("/private/secret.html") == 0
    assert site.count("/robots.txt") >= 1
    # the good article
    assert archived.doc("/news/coalition-transition-announced.html")["via"] == "page"


def test_page_without_article_text_falls_back_to_the_feed_item(tmp_path, site, archived,
                                                               extractor):
    site.publish("news/loading.html",
                 "<html><head><title>Loading</title></head><body><script>load()</script>"
                 "</body></html>")
    site.publish("feeds/app.xml", rss([("App shell", site.url + "/news/loading.html",
                                        "The item's own summary of the talks.")]))
    cfg = write_config(tmp_path, [source(site, "app", "feed", "/feeds/app.xml")])

    (run,) = crawl(cfg, extractor).runs

    doc = archived.doc("/news/loading.html")
    assert (doc["via"], doc["text"]) == ("feed", "The item's own summary of the talks.")
    assert (run.status, run.counts.new_documents, run.counts.errors) == ("ok", 1, 0)
    assert run.counts.fallbacks == 1


# ---------------------------------------------------------------- SSRF


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("10.1.2.3", True), ("172.16.0.1", True),
        ("192.168.1.1", True), ("169.254.169.254", True), ("0.0.0.0", True),
        ("100.64.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("fe80::1%eth0", True),
        ("fd00::1", True), ("224.0.0.1", True),
        ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("8.8.8.8", False),
    ],
)
def test_is_internal(host, internal):
    from crawler.scraping.middlewares import is_internal

    assert is_internal(host) is internal


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("127.0.0.1", True), ("10.0.0.8", True), ("169.254.169.254", True), ("::1", True),
        ("::ffff:127.0.0.1", True), ("localhost", True), ("LOCALHOST", True),
        ("api.localhost", True), ("localhost.localdomain", True),
        ("2130706433", True), ("127.1", True),  # other spellings of 127.0.0.1
        ("93.184.216.34", False),
    ],
)
def test_named_internal_without_dns(host, internal):
    # Names that are addresses by themselves; every other name is screened where the
    # connection resolves it (tests/test_ssrf.py).
    from crawler.scraping.middlewares import named_internal

    assert named_internal(host) is internal


class _Spider:
    def __init__(self, allow_private: bool):
        self.context = type("Ctx", (), {"allow_private": allow_private})()


class _Crawler:
    def __init__(self, allow_private: bool):
        self.spider = _Spider(allow_private)


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/admin", "http://169.254.169.254/latest/meta-data/",
     "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/", "http://localhost:6379/"],
)
def test_middleware_blocks_internal_targets_unless_allowed(url):
    import asyncio

    from scrapy import Request

    from crawler.scraping.middlewares import BlockedTarget, SafeTargetsMiddleware

    guarded = SafeTargetsMiddleware(_Crawler(allow_private=False))
    with pytest.raises(BlockedTarget, match="private or local"):
        asyncio.run(guarded.process_request(Request(url)))
    allowed = SafeTargetsMiddleware(_Crawler(allow_private=True))
    assert asyncio.run(allowed.process_request(Request(url))) is None
    public = Request("http://93.184.216.34/news")
    assert asyncio.run(guarded.process_request(public)) is None


def test_non_http_links_in_a_feed_are_not_fetched(tmp_path, site, archived, extractor):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOPSECRET\n")
    site.redirect("/go/secret", secret.as_uri())
    items = [
        ("File link", secret.as_uri(), "A local file."),
        ("FTP link", f"ftp://127.0.0.1:{site.url.rsplit(':', 1)[1]}/secret.txt", "An FTP file."),
        ("Redirect to a file", site.url + "/go/secret", "A redirect to a local file."),
        ("Good link", site.url + "/news/advisers-remain-iraq.html", "Advisers."),
    ]
    site.publish("feeds/schemes.xml", rss(items))
    cfg = write_config(tmp_path, [source(site, "schemes", "feed", "/feeds/schemes.xml")])

    (run,) = crawl(cfg, extractor).runs

    texts = [r["text"] for r in archived.rows("SELECT text FROM versions")]
    assert not any("TOPSECRET" in t for t in texts)
    assert archived.count("documents") == 4  # every item kept, from the feed where needed
    for title, _link, description in items[:3]:
        (doc,) = archived.rows("SELECT * FROM documents WHERE title = ?", (title,))
        assert archived.doc(doc["url"])["text"] == description
        assert archived.doc(doc["url"])["via"] == "feed"
    assert archived.doc("/news/advisers-remain-iraq.html")["via"] == "page"
    assert site.statuses("/go/secret") == [302]
    assert run.counts.fallbacks == 3
    assert run.details == (f"HTTP 302: {site.url}/go/secret",)  # the refused redirect


def test_redirected_item_links_are_followed(tmp_path, site, archived, extractor):
    # News-search feeds link to redirectors; the article is archived under the feed's link.
    site.redirect("/go/story", "/news/advisers-remain-iraq.html", status=301)
    site.publish("feeds/search.xml", rss([("Advisers stay", site.url + "/go/story", "Short.")]))
    cfg = write_config(tmp_path, [source(site, "search", "feed", "/feeds/search.xml")])

    (run,) = crawl(cfg, extractor).runs

    assert (run.status, run.counts.new_documents, run.counts.fallbacks) == ("ok", 1, 0)
    doc = archived.doc("/go/story")
    assert doc["via"] == "page" and "between 250 to 350" in doc["text"]
    assert site.statuses("/news/advisers-remain-iraq.html") == [200]


def rss(items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>{text}</description>"
        f"<guid isPermaLink=\"false\">item-{i}</guid>"
        f"<pubDate>Mon, 0{i + 1} Sep 2025 10:00:00 +0000</pubDate></item>"
        for i, (title, link, text) in enumerate(items)
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Schemes</title><link>{{{{BASE}}}}/</link><description>x</description>"
            f"{entries}</channel></rss>")


# ---------------------------------------------------------------- CLI


def test_cli_crawl_prints_a_summary_per_source(tmp_path, site):
    cfg = write_config(tmp_path, [source(site, "atom", "feed", "/feeds/atom.xml"),
                                  source(site, "wire", "feed", "/feeds/wire.xml")])

    result = run_cli("--config", str(cfg), "crawl")

    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header[:1] == ["source"]
    for column in ("fetched", "new", "revised", "unchanged", "errors"):
        assert column in header
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(table) == {"atom", "wire"}
    assert {k: table["atom"][k] for k in ("fetched", "new", "revised", "unchanged", "errors")} == {
        "fetched": "2", "new": "2", "revised": "0", "unchanged": "0", "errors": "0"}
    assert (table["wire"]["new"], table["wire"]["errors"]) == ("4", "1")
    assert "HTTP 404" in result.stderr  # the error is named, not just counted

    again = run_cli("--config", str(cfg), "crawl", "--json")  # a second run in one process

    assert again.exit_code == 0, again.output
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert sorted(line["source"] for line in lines) == ["atom", "wire"]
    for line in lines:
        assert {"fetched", "new_documents", "new_versions", "unchanged", "errors",
                "status"} <= set(line)
        assert line["new_documents"] == 0 and line["new_versions"] == 0
    atom = next(line for line in lines if line["source"] == "atom")
    assert (atom["fetched"], atom["unchanged"], atom["errors"]) == (2, 2, 0)


def test_cli_crawl_one_source(tmp_path, site, archived):
    cfg = write_config(tmp_path, [source(site, "atom", "feed", "/feeds/atom.xml"),
                                  source(site, "rdf", "feed", "/feeds/rdf.xml")])

    result = run_cli("--config", str(cfg), "crawl", "--source", "rdf", "--json")

    assert result.exit_code == 0, result.output
    assert [json.loads(line)["source"] for line in result.stdout.splitlines()] == ["rdf"]
    assert site.count("/feeds/atom.xml") == 0
    assert {r["source"] for r in archived.rows("SELECT source FROM runs")} == {"rdf"}
    assert {d["source"] for d in archived.rows("SELECT source FROM documents")} == {"rdf"}


def test_cli_crawl_unknown_source_is_a_usage_error(tmp_path, site):
    cfg = write_config(tmp_path, [source(site, "atom", "feed", "/feeds/atom.xml")])

    result = run_cli("--config", str(cfg), "crawl", "--source", "nope")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "'nope'" in result.stderr and "atom" in result.stderr
    assert site.requests == []


def test_newswatch_crawl_command_end_to_end(tmp_path, site):
    cfg = write_config(tmp_path, [
        source(site, "briefings", "state-briefings", "/department-press-briefings/"),
        source(site, "wire", "feed", "/feeds/wire.xml"),
    ], stories=[STORY])
    command = Path(sys.executable).with_name("newswatch")

    proc = subprocess.run([str(command), "--config", str(cfg), "crawl", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = {json.loads(line)["source"]: json.loads(line) for line in proc.stdout.splitlines()}
    assert lines["briefings"]["new_documents"] == 5
    assert (lines["wire"]["new_documents"], lines["wire"]["errors"]) == (4, 1)
    with sqlite3.connect(tmp_path / "newswatch.db") as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (9,)
        on_topic = conn.execute(
            "SELECT count(*) FROM documents WHERE stories LIKE '%us-iraq-coalition%'").fetchone()
    assert on_topic == (3 + 3,)  # 3 briefings + 3 wire items


def test_reactor_plumbing_reaches_what_it_needs_in_this_twisted() -> None:
    """The two Twisted internals newswatch relies on exist in the installed version."""
    from crawler.scraping.reactor import _reactor_loop, run_on_reactor

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = run_on_reactor(running_loop())  # installs the asyncio reactor if needed
    from twisted.internet import reactor  # (after: importing it first installs another)

    assert _reactor_loop(reactor) is loop
    assert callable(reactor._stopThreadPool)  # type: ignore[attr-defined]


def test_verbose_logs_name_items_by_url_and_size_never_their_bodies(tmp_path, news_site):
    """`-vv` shows what was scraped (URL, size), not whole pages."""
    import subprocess
    import sys

    from newssite import BASELINE, FILLER

    news_site.publish(BASELINE)
    config = write_config(tmp_path, [{"name": "news", "type": "feed",
                                      "url": f"{news_site.server.url}/feed.xml"}])
    proc = subprocess.run([sys.executable, "-m", "crawler", "-vv", "--config", str(config),
                           "crawl"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Scraped from" in proc.stderr and "characters)>" in proc.stderr
    assert FILLER[:60] not in proc.stderr and "<article>" not in proc.stderr


@pytest.mark.parametrize("at_once,overlap", [(1, False), (3, True)])
def test_sources_at_once_caps_the_crawlers_running_together(tmp_path, news_site, at_once,
                                                            overlap):
    """Three feeds answering slowly: with `sources_at_once: 1` they are fetched one after
    another; with 3 they overlap (each source is its own crawler)."""
    from newssite import BASELINE

    news_site.publish(BASELINE)
    feed = news_site.server.root / "feed.xml"
    for name in ("a", "b", "c"):
        (news_site.server.root / f"feed-{name}.xml").write_text(feed.read_text())
        news_site.server.delay(f"/feed-{name}.xml", 0.5)
    config = write_config(tmp_path, [
        {"name": f"feed-{name}", "type": "feed", "fetch_articles": False,
         "url": f"{news_site.server.url}/feed-{name}.xml"} for name in ("a", "b", "c")],
        crawl={"sources_at_once": at_once, "obey_robots": False})
    result = run_cli("--config", str(config), "crawl")
    assert result.exit_code == 0, result.output
    feeds = [hit for hit in news_site.server.hits if hit.path.startswith("/feed-")]
    assert len(feeds) == 3
    assert (max(hit.in_flight for hit in feeds) > 1) is overlap
