"""Scrapy settings: politeness and robustness come from Scrapy's own components.

The module-level names are the project defaults (``scrapy.cfg`` points here, so
``scrapy shell`` works as usual); :func:`scrapy_settings` overlays the user's
``crawl:`` section of config.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.settings import Settings, default_settings

from crawler.config.model import DEFAULT_USER_AGENT, CrawlConfig

BOT_NAME = "newswatch"
SPIDER_MODULES = ["crawler.scraping.spiders"]
USER_AGENT = DEFAULT_USER_AGENT
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
# Delays (latency, Retry-After, robots.txt Crawl-delay) are kept as stated: Scrapy's
# default ±50% jitter could cut a Crawl-delay in half. See crawler/scraping/throttle.py.
DOWNLOAD_DELAY_JITTER = 0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
HTTPCACHE_ENABLED = True
HTTPCACHE_POLICY = "crawler.scraping.httpcache.NetworkTruthPolicy"
HTTPCACHE_STORAGE = "crawler.scraping.httpcache.SQLiteCacheStorage"
HTTPCACHE_DIR = ".newswatch-cache"
HTTPCACHE_IGNORE_HTTP_CODES = [301, 302, 303, 307, 308, 400, 401, 403, 404, 408, 429,
                               500, 502, 503, 504]
# Always revalidate: freshness is decided by our revisit policy, not by heuristics
# on Last-Modified, so an updated feed is never served stale from the cache.
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,"
              "application/rss+xml,application/atom+xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
    "Cache-Control": "max-age=0",
}
# Only http(s) is ever fetched (feeds' other schemes are refused): don't load the rest.
# http(s) goes through Scrapy's own handler with each connection's name lookup screened
# by the SSRF guard (crawler/scraping/resolver.py); the middleware refuses the rest.
DOWNLOAD_HANDLERS = {
    "http": "crawler.scraping.resolver.GuardedDownloadHandler",
    "https": "crawler.scraping.resolver.GuardedDownloadHandler",
    "s3": None, "ftp": None, "file": None, "data": None,
}
DOWNLOADER_MIDDLEWARES = {
    "crawler.scraping.middlewares.SafeTargetsMiddleware": 50,
    # The HTTP cache without error recovery: a source's health comes from the network.
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "crawler.scraping.httpcache.NetworkTruthCacheMiddleware": 900,
}
# Cookies are off (COOKIES_ENABLED), so their middleware is left out of Scrapy's own list
# rather than disabled above: Scrapy imports every class named in DOWNLOADER_MIDDLEWARES,
# and that module imports tldextract (~0.06 s of every crawl's start-up).
DOWNLOADER_MIDDLEWARES_BASE = {
    name: order for name, order in default_settings.DOWNLOADER_MIDDLEWARES_BASE.items()
    if name != "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
}
# crawl.allow_private_networks: internal networks links may reach with the guard on.
NEWSWATCH_ALLOW_PRIVATE_NETWORKS: list[str] = []
# An IHostnameResolver class (built from_crawler) to resolve with instead of the
# system's; the guard screens its answers all the same. Tests set a fixed table.
NEWSWATCH_RESOLVER = None
ITEM_PIPELINES = {"crawler.scraping.pipelines.ArchivePipeline": 300}
COOKIES_ENABLED = False
# Per-response costs that a pass of 304s makes visible: Scrapy starts CONCURRENT_ITEMS
# worker tasks for every callback's output (ours yield one item, or one feed's links),
# and by default re-parses each callback's source to warn about `return value` in
# generators (a bound method misses its cache every time).
CONCURRENT_ITEMS = 8
WARN_ON_GENERATOR_RETURN_VALUE = False
TELNETCONSOLE_ENABLED = False
# Only the extensions newswatch uses. Listing them (rather than disabling the others)
# keeps Scrapy from importing the unused ones at start-up: its remote-control endpoint
# alone imports aiohttp (~0.25 s of every `crawl`).
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    # AutoThrottle with 304s at the per-domain concurrency, Retry-After, Crawl-delay.
    "crawler.scraping.throttle.RevalidationThrottle": 0,
}
LOG_LEVEL = "WARNING"
# items are logged by URL and size, never by content (-vv would print whole pages)
LOG_FORMATTER = "crawler.scraping.logformatter.SummaryLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"


def scrapy_settings(crawl: CrawlConfig, base_dir: Path) -> Settings:
    """Project settings overlaid with the user's crawl section."""
    settings = Settings()
    settings.setmodule(__name__, priority="project")
    cache_dir = Path(crawl.cache_dir)
    overrides: dict[str, Any] = {
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_TIMES": crawl.retries,
        "RETRY_ENABLED": crawl.retries > 0,
        "DOWNLOAD_MAXSIZE": crawl.max_size,
        "DOWNLOAD_WARNSIZE": min(crawl.max_size, DOWNLOAD_WARNSIZE),
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_domain,
        "HTTPCACHE_ENABLED": crawl.http_cache,
        "HTTPCACHE_DIR": str(cache_dir if cache_dir.is_absolute() else base_dir / cache_dir),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": list(crawl.allow_private_networks),
    }
    settings.setdict(overrides, priority="cmdline")
    return settings
