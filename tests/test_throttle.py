"""The crawl throttle (crawler/scraping/throttle.py) against a real local server.

A re-check pass of known pages (every one answered 304) runs at the per-domain
concurrency; a 429/503 with Retry-After and a robots.txt Crawl-delay still space
that domain's requests. The server records when each request arrived and was
answered and how many were in flight; the assertions are about concurrency and
about minimum gaps with a margin, never about how fast a pass is. The one upper bound
(the feed's request right after robots.txt: under 0.4 s, where Scrapy's AutoThrottle
waits 0.5 s) is for what takes milliseconds.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import write_config
from scrapy.http import Response
from sitesrv import FIXTURE_SITE, Hit, SiteServer

from crawler.archive.store import Archive
from crawler.config.model import load_config
from crawler.extraction.pages import Extractor
from crawler.pipeline import PassResult, crawl_pass
from crawler.scraping.reactor import run_on_reactor
from crawler.scraping.throttle import retry_after

# The shipped politeness: AutoThrottle on, 4 requests at most per domain.
POLITE = {"autothrottle": True, "concurrency": 8, "per_domain": 4, "timeout": 10}
START_DELAY = 0.5  # AUTOTHROTTLE_START_DELAY


def crawl(config_path: Path, extractor: Extractor) -> PassResult:
    config = load_config(config_path)
    archive = Archive.open(config.archive)
    try:
        return run_on_reactor(crawl_pass(config, archive, list(config.sources), extractor))
    finally:
        archive.close()


def feed_of_pages(site: SiteServer, tmp_path: Path, count: int, **crawl: object) -> Path:
    """Publish ``count`` article pages and a feed of them; return a config crawling it."""
    article = (FIXTURE_SITE / "news" / "iraq-coalition-talks.html").read_text(encoding="utf-8")
    items = []
    for i in range(count):
        site.publish(f"recheck/page-{i}.html", article)
        items.append(f"<item><title>Report {i}</title>"
                     f"<link>{{{{BASE}}}}/recheck/page-{i}.html</link></item>")
    site.publish("feeds/recheck.xml",
                 '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                 "<title>recheck</title><link>{{BASE}}/</link><description>d</description>"
                 + "".join(items) + "</channel></rss>")
    source = {"name": "recheck", "type": "feed", "url": site.url + "/feeds/recheck.xml",
              "max_items": count}  # revisit: 0, every known page is re-checked
    return write_config(tmp_path, [source], crawl={**POLITE, **crawl})


def recheck(site: SiteServer, config: Path, extractor: Extractor, count: int) -> list[Hit]:
    """One more pass, which must find every page unchanged; the requests it made."""
    start = len(site.hits)
    (run,) = crawl(config, extractor).runs
    assert (run.status, run.counts.unchanged, run.counts.errors) == ("ok", count, 0), run
    return sorted(site.hits[start:], key=lambda hit: hit.arrived)


def test_a_recheck_pass_of_304s_runs_at_the_per_domain_concurrency(tmp_path, site, extractor):
    count = 16
    (site.root / "robots.txt").unlink()  # like the bench's site: robots.txt answers 404
    config = feed_of_pages(site, tmp_path, count)
    (first,) = crawl(config, extractor).runs
    assert first.counts.new_documents == count
    for i in range(count):  # each answer takes 0.3 s, so requests sent together overlap
        site.delay(f"/recheck/page-{i}.html", 0.3)

    hits = recheck(site, config, extractor, count)

    assert [(hit.path, hit.status) for hit in hits[:2]] == [("/robots.txt", 404),
                                                           ("/feeds/recheck.xml", 304)]
    # robots.txt is a cheap answer whatever its status: the feed does not wait the start
    # delay after it (Scrapy's AutoThrottle waits it after any non-200 answer).
    assert hits[1].arrived - hits[0].answered < 0.8 * START_DELAY
    pages = hits[2:]
    assert [hit.status for hit in pages] == [304] * count
    # Scrapy's AutoThrottle keeps the 0.5 s start delay through a pass of 304s: one
    # request at a time (each answered in 0.3 s), never two in flight. Here the pass
    # fills the per-domain concurrency, and most requests overlap others ...
    assert max(hit.in_flight for hit in pages) == POLITE["per_domain"]
    assert sum(hit.in_flight >= 2 for hit in pages) >= count // 2
    # ... and never goes past it.
    assert site.max_in_flight <= POLITE["per_domain"]


@pytest.mark.parametrize(
    ("status", "answers"),
    [
        (429, [200, 429, 304]),  # retried
        (503, [200, 503, 304]),  # retried: the cache never stands in for a 5xx (issue 11)
    ],
    ids=["429", "503"],
)
def test_retry_after_pauses_the_domain(tmp_path, site, extractor, status, answers):
    count = 3
    # One request at a time, so "the next request" is one sent after the answer came back.
    config = feed_of_pages(site, tmp_path, count, per_domain=1)
    crawl(config, extractor)
    site.fail("/recheck/page-1.html", status, headers={"Retry-After": "1"})

    hits = recheck(site, config, extractor, count)

    (paused,) = [k for k, hit in enumerate(hits) if hit.status == status]
    assert paused + 1 < len(hits), "the rest of the pass came after"
    # No request reached the domain for the second asked, where the 304s alone bring the
    # delay down to almost nothing (Scrapy's AutoThrottle: the 0.5 s start delay).
    assert hits[paused + 1].arrived - hits[paused].answered >= 0.8
    assert site.statuses("/recheck/page-1.html") == answers


def test_retry_after_is_seconds_or_an_http_date():
    def parsed(value: str) -> float | None:
        return retry_after(Response("http://127.0.0.1/", headers={"Retry-After": value}))

    assert parsed("120") == 120.0
    assert 28 < parsed(formatdate(time.time() + 30, usegmt=True)) <= 30  # type: ignore[operator]
    assert parsed(formatdate(time.time() - 30, usegmt=True)) == 0.0
    assert parsed("soon") is None
    assert retry_after(Response("http://127.0.0.1/")) is None


def test_robots_crawl_delay_spaces_every_request(tmp_path, site, extractor):
    count = 2
    config = feed_of_pages(site, tmp_path, count)
    crawl(config, extractor)
    site.edit("robots.txt", "User-agent: *\nDisallow: /private/\nCrawl-delay: 1\n")

    hits = recheck(site, config, extractor, count)

    assert [hit.path for hit in hits[:2]] == ["/robots.txt", "/feeds/recheck.xml"]
    assert sorted(hit.path for hit in hits[2:]) == ["/recheck/page-0.html",
                                                    "/recheck/page-1.html"]
    # 1 s between requests (less a margin for the server's own timing), where the 304s
    # alone would bring the delay down to almost nothing (Scrapy's AutoThrottle: 0.5 s
    # and less, as it ignores Crawl-delay).
    gaps = [later.arrived - earlier.arrived for earlier, later in pairwise(hits)]
    assert min(gaps) >= 0.8, gaps


def test_retry_after_holds_while_other_answers_come_back(tmp_path, site, extractor):
    """With 4 requests in flight, the others' 304s arriving during the pause do not end it."""
    count = 16
    config = feed_of_pages(site, tmp_path, count)
    crawl(config, extractor)
    for i in range(count):
        site.delay(f"/recheck/page-{i}.html", 0.3)
    site.fail("/recheck/page-8.html", 429, headers={"Retry-After": "1"})

    hits = recheck(site, config, extractor, count)

    (paused,) = [hit for hit in hits if hit.status == 429]
    # Requests already on their way when the 429 was answered arrive within moments
    # (allowed: 0.3 s); after that, nothing until the second asked is over.
    early = [hit.arrived - paused.answered for hit in hits
             if 0.3 < hit.arrived - paused.answered < 0.8]
    assert early == []
