"""Scrapy spiders, one per source type: feed, state-briefings, page."""

from __future__ import annotations

from crawler.scraping.spiders.briefings import StateBriefingsSpider
from crawler.scraping.spiders.feed import FeedSpider
from crawler.scraping.spiders.page import PageSpider

SPIDERS = {
    "feed": FeedSpider,
    "state-briefings": StateBriefingsSpider,
    "page": PageSpider,
}

__all__ = ["SPIDERS", "FeedSpider", "PageSpider", "StateBriefingsSpider"]
