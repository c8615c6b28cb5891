"""Archives for query and view tests, built the way the product builds them.

Reports are stored through ``Archive.store`` with their facts (as the crawl pipeline does)
and evaluated by the real change detector after each one, in the order given: no change
row is written by hand, so every row a test reads is one the detector can produce.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crawler.archive.store import Archive
from crawler.changes.detector import detect_changes
from crawler.config.model import load_config
from crawler.extraction.analysis import fact_rows, matching_stories
from crawler.extraction.records import AnalyzedReport

#: (url, source, published, title, text); the same url again is a revision of that report
Report = tuple[str, str, str, str, str]


def build_archive(config_path: Path, reports: Iterable[Report]) -> Path:
    """Store and evaluate each report in turn; returns the archive's path."""
    config = load_config(config_path, environ={})
    archive = Archive.open(config.archive)
    try:
        for url, source, published, title, text in reports:
            stories = matching_stories(title, text, config.stories)
            archive.store(AnalyzedReport(
                url=url, source=source, title=title, text=text, published=published,
                stories=tuple(s.name for s in stories),
                facts=tuple(fact_rows(text, published, stories, title))))
            detect_changes(archive, config)
    finally:
        archive.close()
    return config.archive


def query(where: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of an archive (a file, or a folder's ``archive.db``) read-only, while another
    process may be writing it; [] while it does not exist yet or is being created."""
    path = where / "archive.db" if where.is_dir() else where
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
