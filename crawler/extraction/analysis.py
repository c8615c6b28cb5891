"""Turn a fetched report into what the archive stores: text, stories, facts.

These functions run in the extraction worker processes (see ``extract.py``), so
they take and return plain picklable data.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from crawler.config.model import Story
from crawler.extraction.pages import extract_page
from crawler.extraction.records import AnalyzedReport


def report_date(published: str | None) -> date | None:
    try:
        return date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


def matching_stories(title: str | None, text: str, stories: tuple[Story, ...]) -> list[Story]:
    content = f"{title or ''}\n{text}"
    return [s for s in stories if s.match.matches(content)]


def fact_rows(text: str, published: str | None, stories: list[Story], title: str | None = None
              ) -> list[dict[str, Any]]:
    """The facts of a text, once per matching story with that story's trackers.

    ``title`` is context for the facts' subjects (the country a headline names).
    """
    from crawler.facts.extract import extract_facts
    from crawler.facts.trackers import assign_trackers

    facts = extract_facts(text, report_date(published), title=title or "")
    if not facts:
        return []
    rows = []
    targets: list[Story | None] = list(stories) or [None]
    for story in targets:
        assigned = assign_trackers(facts, text, story.trackers) if story else facts
        for fact in assigned:
            row = asdict(fact)
            row.update(story=story.name if story else None, display=fact.display(),
                       published=published, evaluated=0)
            rows.append(row)
    return rows


def analyse(report: dict[str, Any], stories: tuple[Story, ...]) -> AnalyzedReport | None:
    """Extract a fetched report's text (if it came as HTML), match stories, find facts.

    ``report`` holds a fetched report's fields (``crawler.scraping.items.FetchedReport``).
    Returns it analysed, or None when neither the page nor the feed gave any text.
    """
    html = report.get("html")
    if html:
        # A feed item usually carries title and date: then the page's own
        # metadata would be discarded anyway, and skipping it halves the work.
        known = bool(report.get("title") and report.get("published"))
        page = extract_page(html, report["url"], with_metadata=not known)
        feed_text = report.get("text") or ""
        if page is not None and len(page.text) < len(feed_text) / 2:
            page = None  # the page gave less than the feed item itself (junk or a teaser)
        if page is not None:
            report.update(
                text=page.text,
                via="page",
                title=report.get("title") or page.title,
                author=report.get("author") or page.author,
                published=report.get("published") or page.published,
            )
        elif report.get("text"):
            report["via"] = "feed"
    text = report.get("text") or ""
    if not text.strip():
        return None
    matched = matching_stories(report.get("title"), text, stories)
    return AnalyzedReport(
        url=report["url"], source=report["source"], text=text, title=report.get("title"),
        author=report.get("author"), published=report.get("published"),
        guid=report.get("guid"), raw_hash=report.get("raw_hash"),
        via=report.get("via", "page"), stories=tuple(s.name for s in matched),
        facts=tuple(fact_rows(text, report.get("published"), matched, report.get("title"))),
    )
