"""Backtest trackers on past reports: `newswatch replay FILE.jsonl`.

Each dated report is archived and evaluated in publication order by the same code a crawl
runs (facts, then change detection), into a scratch archive, as if each had just arrived.
Nothing is sent: the result lists the alerts that would have fired.

Input, one JSON object per line: ``url``, ``date`` (YYYY-MM-DD, or YYYY-MM meaning that
month's 15th), ``source`` or ``outlet``, optional ``source_type`` (official,
official-reprint, news, news-reprint, opinion), ``title``, and ``text`` or ``sentence``.
Several lines with one url are one report, their texts in order. Undated reports are
skipped and counted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crawler.archive.store import Archive
from crawler.changes.detector import Detected, detect_changes
from crawler.config.model import AlertsConfig, Config
from crawler.extraction.analysis import fact_rows, matching_stories
from crawler.extraction.records import AnalyzedReport

OFFICIAL_TYPES = frozenset({"official", "official-reprint"})
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


class ReplayError(Exception):
    """The replay file cannot be read (names the line)."""


@dataclass
class ReplayReport:
    """One report to replay: several input lines with one url make one report."""

    url: str
    published: str
    source: str
    source_type: str
    title: str
    texts: list[str] = field(default_factory=list)

    @property
    def official(self) -> bool:
        return self.source_type in OFFICIAL_TYPES

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class Loaded:
    reports: list[ReplayReport]
    skipped_undated: int = 0


def _report_date(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    m = _DATE_RE.match(str(value))
    if not m:
        raise ReplayError(f"{where}: 'date' must be YYYY-MM-DD or YYYY-MM (got {value!r})")
    return f"{m.group(1)}-{m.group(2)}-{m.group(3) or '15'}"


def load_reports(path: Path) -> Loaded:
    """Read a replay file into reports sorted by date (stable: file order within a day)."""
    by_url: dict[str, ReplayReport] = {}
    undated: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ReplayError(f"cannot read {path}: {e.strerror or e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ReplayError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(row, dict) or not row.get("url"):
            raise ReplayError(f"{where}: expected an object with a 'url'")
        url = str(row["url"])
        text = row.get("text") or row.get("sentence") or ""
        published = _report_date(row.get("date"), where)
        if published is None:
            undated.add(url)
            continue
        report = by_url.get(url)
        if report is None:
            report = by_url[url] = ReplayReport(
                url=url, published=published,
                source=str(row.get("source") or row.get("outlet") or "replay"),
                source_type=str(row.get("source_type") or "news"),
                title=str(row.get("title") or ""))
        if text:
            report.texts.append(str(text))
    reports = sorted(by_url.values(), key=lambda r: r.published)
    return Loaded(reports, skipped_undated=len(undated - set(by_url)))


@dataclass(frozen=True)
class ReplayEvent:
    """One change row the replay wrote, with the report that caused it."""

    report: ReplayReport
    detected: Detected


def replay(config: Config, reports: list[ReplayReport], archive_path: Path) -> list[ReplayEvent]:
    """Archive and evaluate each report in order; returns every change row written.

    The config's alert channels are dropped: a replay never sends or queues anything.
    """
    quiet = replace(config, alerts=AlertsConfig())
    archive = Archive.open(archive_path)
    events: list[ReplayEvent] = []
    try:
        for report in reports:
            stories = matching_stories(report.title, report.text, config.stories)
            archive.store(AnalyzedReport(
                url=report.url, source=report.source, title=report.title or None,
                text=report.text, published=report.published, via="replay",
                official=report.official, stories=tuple(s.name for s in stories),
                facts=tuple(fact_rows(report.text, report.published, stories,
                                      title=report.title)),
            ))
            events.extend(ReplayEvent(report, d) for d in detect_changes(archive, quiet))
    finally:
        archive.close()
    return events
