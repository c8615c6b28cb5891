"""Hostile and unusual feeds: feedparser's own test corpus, crawled as real sources.

Nothing may crash, every failure is counted in `runs`, and no script or raw HTML
from a feed reaches the archive's text or an alert unescaped.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import feedparser
from sitesrv import SiteServer

from alerts.render import ChangeRecord, Report, render
from crawler.archive.store import Archive
from crawler.config.model import load_config
from crawler.extraction.pages import Extractor
from crawler.pipeline import crawl_pass
from crawler.scraping.reactor import run_on_reactor

PEER_FEEDS = Path(__file__).parent / "fixtures" / "peer-feeds"


def test_peer_feeds_never_crash_and_never_leak_markup(tmp_path: Path) -> None:
    feeds = sorted(p.relative_to(PEER_FEEDS) for p in PEER_FEEDS.rglob("*.xml"))
    assert len(feeds) > 150
    with SiteServer(PEER_FEEDS) as server:
        sources = "\n".join(
            f'  - {{name: "f{i}", type: feed, url: "{server.url}/{path}", '
            "fetch_articles: false}"
            for i, path in enumerate(feeds)
        )
        (tmp_path / "config.yaml").write_text(
            f"archive: {tmp_path / 'a.db'}\n"
            "crawl: {timeout: 5, retries: 0, autothrottle: false, concurrency: 32}\n"
            f"sources:\n{sources}\n",
            encoding="utf-8",
        )
        config = load_config(tmp_path / "config.yaml")
        archive = Archive.open(config.archive)
        extractor = Extractor(1)
        try:
            result = run_on_reactor(crawl_pass(config, archive, list(config.sources), extractor))
        finally:
            extractor.close()
            archive.close()

    assert len(result.runs) == len(feeds)
    conn = sqlite3.connect(config.archive)
    runs = conn.execute("SELECT status, errors, error_detail FROM runs").fetchall()
    assert len(runs) == len(feeds)
    for status, errors, detail in runs:
        assert status in ("ok", "partial", "failed")
        assert bool(errors) == bool(detail)  # every failure is counted with its reason
        assert "crawl crashed" not in (detail or "")
        assert "Traceback" not in (detail or "")
    failed = [json.loads(d) for s, _, d in runs if s == "failed"]
    assert failed and all("malformed feed" in d[0] or "HTTP" in d[0] for d in failed)
    documents = conn.execute(
        "SELECT d.title, v.text, d.url FROM documents d "
        "JOIN versions v ON v.id = d.current_version").fetchall()
    assert len(documents) >= 40
    # Every item feedparser finds reached the pipeline (none silently dropped).
    fetched = dict(conn.execute("SELECT source, fetched FROM runs").fetchall())
    for i, path in enumerate(feeds):
        entries = feedparser.parse((PEER_FEEDS / path).read_bytes()).entries
        assert fetched[f"f{i}"] == min(len(entries), 50), path
    for title, text, url in documents:
        for field in (title or "", text):
            assert "<script" not in field.lower()
            assert "javascript:" not in field.lower() or "<" not in field
        message = render(ChangeRecord(
            change_id=1, story="s", tracker="t", tracker_title=title or "t", kind="troops",
            type="change", old=None,
            new=Report(value="1", sentence=text[:300], source="peer", title=title or "",
                       url=url, published=None),
        ), "<x@newswatch>")
        assert "<script" not in message.html.lower()
        assert "<!channel>" not in message.slack_text
    conn.close()
