"""The `page` spider: one URL watched for revisions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.scraping.items import FetchedReport
from crawler.scraping.spiders.base import NewswatchSpider, is_html


class PageSpider(NewswatchSpider):
    name = "page"

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.source.url, callback=self.parse,
                             errback=self.source_unreachable, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[FetchedReport]:
        if not is_html(response):
            self.not_html(response)
            return
        yield FetchedReport(url=self.source.url, source=self.source.name, html=response.text)
