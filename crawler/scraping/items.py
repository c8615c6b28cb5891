"""The item every spider yields: one fetched report, before extraction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FetchedReport:
    """A page (or a feed item standing in for one) as a spider got it.

    Spiders fill what they know; the pipeline extracts the rest. ``html`` is the
    page to extract; ``text`` is set instead when the spider already has clean
    text (a briefing transcript, or a feed item's own content used as fallback).
    """

    url: str
    source: str
    html: str | None = None
    text: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    guid: str | None = None
    via: str = "page"  # "page" | "feed" (archived from the feed item's own content)
    raw_hash: str | None = None  # hash of the fetched body, to skip unchanged pages
