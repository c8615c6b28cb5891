"""The SQLite HTTP cache storage: round trip, expiry and pruning."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.scraping.httpcache import SQLiteCacheStorage


def storage(tmp_path: Path, **settings: object) -> tuple[SQLiteCacheStorage, Spider]:
    crawler = get_crawler(Spider, {"HTTPCACHE_DIR": str(tmp_path), **settings})
    spider = Spider.from_crawler(crawler, name="t")
    store = SQLiteCacheStorage(crawler.settings)
    store.open_spider(spider)
    return store, spider


def test_round_trip_keeps_status_headers_body(tmp_path: Path) -> None:
    store, spider = storage(tmp_path)
    request = Request("http://127.0.0.1/a")
    assert store.retrieve_response(spider, request) is None
    response = HtmlResponse("http://127.0.0.1/a", status=200, body=b"<p>caf\xc3\xa9</p>",
                            headers={"ETag": '"x1"', "Content-Type": "text/html; charset=utf-8"})
    store.store_response(spider, request, response)
    cached = store.retrieve_response(spider, request)
    assert cached is not None and cached.status == 200
    assert cached.headers[b"ETag"] == b'"x1"'
    assert cached.text == "<p>café</p>"
    assert "cache_timestamp" in request.meta
    store.close_spider(spider)


def test_expired_entries_are_ignored_and_old_ones_pruned(tmp_path: Path) -> None:
    store, spider = storage(tmp_path, HTTPCACHE_EXPIRATION_SECS=60, NEWSWATCH_CACHE_KEEP_DAYS=1)
    for name in ("old", "stale", "new"):
        request = Request(f"http://127.0.0.1/{name}")
        store.store_response(spider, request, HtmlResponse(request.url, body=b"x"))
    store.close_spider(spider)
    with sqlite3.connect(tmp_path / "httpcache.db") as conn:
        conn.execute("UPDATE responses SET stored = ? WHERE url LIKE '%old'",
                     [time.time() - 2 * 86400])
        conn.execute("UPDATE responses SET stored = ? WHERE url LIKE '%stale'",
                     [time.time() - 120])
    store, spider = storage(tmp_path, HTTPCACHE_EXPIRATION_SECS=60, NEWSWATCH_CACHE_KEEP_DAYS=1)
    assert store.retrieve_response(spider, Request("http://127.0.0.1/stale")) is None
    assert store.retrieve_response(spider, Request("http://127.0.0.1/new")) is not None
    with sqlite3.connect(tmp_path / "httpcache.db") as conn:
        urls = {u for (u,) in conn.execute("SELECT url FROM responses")}
    assert urls == {"http://127.0.0.1/stale", "http://127.0.0.1/new"}  # "old" was pruned
    store.close_spider(spider)


def test_a_revalidated_entry_gets_new_headers_and_keeps_its_body(tmp_path: Path) -> None:
    """After a 304 Scrapy stores the cached response again (flagged "cached", headers
    freshened): only the headers and the time are written."""
    store, spider = storage(tmp_path)
    request = Request("http://127.0.0.1/a")
    store.store_response(spider, request, HtmlResponse(request.url, body=b"<p>one</p>",
                                                       headers={"ETag": '"1"'}))
    # Age the entry to time 0, so that only a write of the time can make it positive again.
    with sqlite3.connect(tmp_path / "httpcache.db") as conn:
        conn.execute("UPDATE responses SET stored = 0")
    conn.close()
    cached = store.retrieve_response(spider, request)
    assert cached is not None
    assert request.meta["cache_timestamp"] == 0
    # A different body: if the storage wrote it, the cache would serve it.
    freshened = cached.replace(headers={"ETag": '"1"', "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
                               body=b"<p>two</p>", flags=["cached"])
    store.store_response(spider, request, freshened)
    again = store.retrieve_response(spider, request)
    assert again is not None and again.body == b"<p>one</p>"
    assert again.headers[b"Date"] == b"Mon, 01 Jan 2024 00:00:00 GMT"
    assert request.meta["cache_timestamp"] > 0
    store.close_spider(spider)
