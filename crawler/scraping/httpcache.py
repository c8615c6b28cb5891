"""Scrapy HTTP cache storage in one SQLite file.

Scrapy's filesystem storage writes six files and a folder per URL and never
deletes any: a service polling feeds for months would leave millions of files,
and opening them costs more than parsing the pages. This storage keeps one row
per request fingerprint in ``HTTPCACHE_DIR/httpcache.db`` (WAL, crash-safe) and
drops rows not stored for ``NEWSWATCH_CACHE_KEEP_DAYS`` days. Freshness and
revalidation (conditional GET, 304) stay with Scrapy's RFC2616 policy, except that
the cache never stands in for a failed download (see NetworkTruthCacheMiddleware); a 304
rewrites only the entry's headers, not its body.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_from_dict
from w3lib.http import headers_dict_to_raw, headers_raw_to_dict

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    fingerprint BLOB PRIMARY KEY,
    url TEXT NOT NULL,
    response_url TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers BLOB NOT NULL,
    body BLOB NOT NULL,
    stored REAL NOT NULL
)
"""


class SQLiteCacheStorage:
    """HTTPCACHE_STORAGE backend: one SQLite file, old entries pruned."""

    def __init__(self, settings: BaseSettings):
        self.path = Path(settings["HTTPCACHE_DIR"]) / "httpcache.db"
        self.expiration = settings.getint("HTTPCACHE_EXPIRATION_SECS")
        self.keep = settings.getfloat("NEWSWATCH_CACHE_KEEP_DAYS", 30) * 86400
        self.conn: sqlite3.Connection | None = None

    def open_spider(self, spider: Spider) -> None:
        self._fingerprinter = spider.crawler.request_fingerprinter
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(SCHEMA)
        # Pruning goes through an index: without one, every spider's open read every cached
        # body (`stored` comes after the body in each row), so a crawl of N sources read the
        # whole cache N times and each connection filled its page cache with it.
        self.conn.execute("CREATE INDEX IF NOT EXISTS responses_stored ON responses(stored)")
        self.conn.execute("DELETE FROM responses WHERE stored < ?", [time.time() - self.keep])

    def close_spider(self, spider: Spider) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        assert self.conn is not None
        row = self.conn.execute(
            "SELECT response_url, status, headers, body, stored FROM responses "
            "WHERE fingerprint = ?",
            [self._fingerprinter.fingerprint(request)],
        ).fetchone()
        if row is None:
            return None
        url, status, headers, body, stored = row
        if 0 < self.expiration < time.time() - stored:
            return None
        request.meta["cache_timestamp"] = stored
        data: dict[str, Any] = {"url": url, "status": status, "body": body,
                                "headers": headers_raw_to_dict(headers)}
        return response_from_dict(data)

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        assert self.conn is not None
        if "cached" in response.flags:
            # Our own entry freshened by a 304: same body, so only the headers are new.
            self.conn.execute(
                "UPDATE responses SET headers = ?, stored = ? WHERE fingerprint = ?",
                [headers_dict_to_raw(response.headers), time.time(),
                 self._fingerprinter.fingerprint(request)],
            )
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
            [self._fingerprinter.fingerprint(request), request.url, response.url,
             response.status, headers_dict_to_raw(response.headers), response.body,
             time.time()],
        )


class NetworkTruthPolicy(RFC2616Policy):
    """RFC 2616 revalidation, but a server error is never answered from the cache.

    Scrapy's policy serves the cached copy when revalidation gets a 5xx; newswatch
    wants a source's health from the network, so the 5xx goes on to retries and the
    spider's errback (an error of the run).
    """

    def is_cached_response_valid(self, cachedresponse: Response, response: Response,
                                 request: Request) -> bool:
        return response.status == 304


class NetworkTruthCacheMiddleware(HttpCacheMiddleware):
    """Scrapy's HTTP cache middleware without error recovery.

    On a download error (refused connection, DNS failure, timeout) Scrapy's
    middleware answers with the cached copy, so a dead source looks healthy
    forever. Here the error reaches the spider: it counts as an error of the run,
    the source's error streak grows, and the cached copy is not archived again.
    """

    def process_exception(self, request: Request, exception: Exception,
                          spider: Spider | None = None) -> None:
        request.meta.pop("cached_response", None)
        return None
