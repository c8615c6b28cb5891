"""A fetched report analysed in the extraction pool: the typed record the archive stores."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from crawler.config.model import Config, parse_config
from crawler.extraction.analysis import analyse
from crawler.extraction.pages import Extractor
from crawler.extraction.records import AnalyzedReport

CONFIG = """sources: [{name: wire, type: feed, url: 'http://wire.example/feed'}]
stories:
  - name: us-iraq
    match: {all: [Iraq]}
    trackers: [{name: us-troops-iraq, kind: troops, about: [Iraq]}]
"""
TEXT = "The United States has approximately 2,500 troops in Iraq, officials said."


def config(tmp_path: Path) -> Config:
    return parse_config(CONFIG, tmp_path / "config.yaml")


def test_a_feed_item_is_analysed_in_a_worker_into_a_record(tmp_path: Path) -> None:
    """The record comes back from a worker process (it pickles) with stories and facts."""
    fetched = {"url": "https://wire.example/1", "source": "wire", "html": None, "text": TEXT,
               "title": "US troops", "author": None, "published": "2025-01-10", "guid": "g1",
               "via": "feed", "raw_hash": "h1"}
    pool = Extractor(1)
    try:
        report = asyncio.run(pool.run(analyse, fetched, config(tmp_path).stories))
    finally:
        pool.close()
    assert isinstance(report, AnalyzedReport)
    assert (report.url, report.text, report.via, report.guid, report.raw_hash, report.stories) \
        == ("https://wire.example/1", TEXT, "feed", "g1", "h1", ("us-iraq",))
    assert report.facts and {f["tracker"] for f in report.facts} == {"us-troops-iraq"}
    assert (report.official, report.run_id) == (False, None)  # the pipeline's to set


def test_a_report_without_text_is_none(tmp_path: Path) -> None:
    assert analyse({"url": "https://wire.example/2", "source": "wire", "text": " "},
                   config(tmp_path).stories) is None


def test_a_record_crosses_a_cluster_queue_as_json_unchanged(tmp_path: Path) -> None:
    """A worker pushes ``to_dict()`` as JSON; the writer reads it back with ``from_dict``."""
    report = analyse({"url": "https://wire.example/1", "source": "wire", "text": TEXT,
                      "published": "2025-01-10", "via": "feed"}, config(tmp_path).stories)
    assert report is not None and report.facts
    for sent in (report, AnalyzedReport(url="u", source="s", text="t")):  # facts None: not yet
        assert AnalyzedReport.from_dict(json.loads(json.dumps(sent.to_dict()))) == sent
