"""A tiny news site for change-detection tests: a feed listing every article published.

Tests publish reports step by step (``NewsSite.publish``) and edit them in place
(``NewsSite.edit``); the sample reports move a troop figure and an end date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from sitesrv import SiteServer

FILLER = (
    "Officials from both governments met in Baghdad this week to review the security "
    "relationship, the training of Iraqi forces and the future of the advisory mission. "
    "Analysts said the talks reflected years of negotiation between the two capitals."
)

BASELINE = [
    ("a1", "2024-09-06", "US and Iraq agree on coalition plan",
     "The United States has approximately 2,500 troops in Iraq, officials said on Friday. "
     "The coalition mission in Iraq will end by September 2025, according to the statement."),
]
MOVED = [
    ("a2", "2025-10-01", "US to cut forces in Iraq",
     "The U.S. military has cut its forces in Iraq to fewer than 2,000 troops, a senior "
     "official said. The coalition mission in Iraq will now conclude by September 2026, the "
     "two governments said."),
]
REPEATS = [
    ("a3", "2025-10-02", "Drawdown in Iraq begins",
     "Washington keeps fewer than 2,000 troops in Iraq under the new plan. The coalition's "
     "mission in Iraq is scheduled to end by September 2026."),
    ("a4", "2025-10-02", "Coalition timetable confirmed",
     "Under the plan, fewer than 2,000 troops will stay in Iraq. The coalition mission in "
     "Iraq is set to end by September 2026."),
]
STALE = [
    ("a5", "2025-10-03", "Background: the US presence in Iraq",
     "The United States has approximately 2,500 troops in Iraq as part of the coalition."),
]


def article(title: str, date: str, body: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in (body, FILLER, FILLER.replace("week", "month")))
    return (
        f"<!doctype html><html><head><title>{title}</title>"
        f'<meta property="article:published_time" content="{date}T10:00:00Z"></head>'
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>"
        f"<time datetime='{date}'>{date}</time>{paras}</article>"
        "<footer>Copyright Example News</footer></body></html>"
    )


class NewsSite:
    """A site whose feed lists every article published so far."""

    def __init__(self, root: Path):
        self.root = root
        self.items: list[tuple[str, str, str]] = []
        self.server = SiteServer(root).start()

    def publish(self, articles: list[tuple[str, str, str, str]]) -> None:
        for slug, date, title, body in articles:
            self.server.publish(f"news/{slug}.html", article(title, date, body))
            self.items.append((slug, date, title))
        self._write_feed()

    def edit(self, slug: str, date: str, title: str, body: str) -> None:
        self.server.edit(f"news/{slug}.html", article(title, date, body))

    def _write_feed(self) -> None:
        items = "".join(
            f"<item><title>{title}</title><link>{self.server.url}/news/{slug}.html</link>"
            f"<guid>{slug}</guid><pubDate>"
            f"{format_datetime(datetime.fromisoformat(date).replace(tzinfo=UTC))}</pubDate>"
            "</item>"
            for slug, date, title in self.items
        )
        self.server.publish(
            "feed.xml",
            '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
            f"<link>{self.server.url}/</link><description>d</description>{items}"
            "</channel></rss>",
        )
