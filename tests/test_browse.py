"""The Datasette web view: metadata, canned queries, JSON API, read-only, and a real server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.archives import build_archive

from crawler.archive.browse import make_datasette, metadata

REPORTS = [
    ("http://wire.test/a", "wire", "2024-09-06", "U.S.-Iraq talks",
     "About 2,500 U.S. troops are in Iraq, officials said."),
    ("http://state.test/b", "state", "2025-10-01", "Drawdown begins",
     "Fewer than 2,000 U.S. troops now remain in Iraq, the Pentagon said."),
]


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    """Two reports evaluated by the real detector: a baseline, then a confirmed change."""
    config = tmp_path / "archive-config.yaml"
    config.write_text(yaml.safe_dump({
        "archive": str(tmp_path / "newswatch.db"),
        "sources": [{"name": "wire", "type": "feed", "url": "http://127.0.0.1:9/feed.xml"}],
        "stories": [{"name": "s", "match": {"all": ["Iraq"]}, "trackers": [
            {"name": "us-troops-iraq", "kind": "troops", "place": "Iraq"}]}],
    }), encoding="utf-8")
    return build_archive(config, REPORTS)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    # A private loop: the crawl tests' Twisted reactor owns the thread's default loop.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def get(ds: Any, path: str) -> Any:
    return run(ds.client.get(path))


def test_archive_page_shows_tables_descriptions_and_queries(archive_path: Path) -> None:
    ds = make_datasette(archive_path)
    page = get(ds, "/newswatch")
    assert page.status_code == 200
    for text in ("newswatch archive", "documents", "versions", "facts", "changes",
                 "Latest changes", "A tracker&#39;s history", "Full-text search"):
        assert text in page.text, text
    table = get(ds, "/newswatch/facts")
    assert "Short human form: ~2,500, &lt;2,000, Sep 2025" in table.text


def test_canned_query_with_a_parameter(archive_path: Path) -> None:
    ds = make_datasette(archive_path)
    page = get(ds, "/newswatch/tracker_history?tracker=us-troops-iraq")
    assert page.status_code == 200
    assert "~2,500" in page.text and "&lt;2,000" in page.text
    data = get(ds, "/newswatch/tracker_history.json?tracker=us-troops-iraq&_shape=array").json()
    assert [(r["value"], r["change"]) for r in data] == [
        ("~2,500", "baseline"), ("<2,000", "change")]
    found = get(ds, "/newswatch/search.json?q=U.S.-Iraq&_shape=array").json()
    assert [r["id"] for r in found] == [1] and "[U.S.-Iraq]" in found[0]["snippet"]
    assert get(ds, "/newswatch/search.json?q=&_shape=array").json() == []
    changes = get(ds, "/newswatch/latest_changes.json?_shape=array").json()
    assert changes[0]["old"] == "~2,500" and changes[0]["url"] == "http://state.test/b"
    per_source = get(ds, "/newswatch/documents_per_source.json?_shape=array").json()
    assert {r["source"]: r["documents"] for r in per_source} == {"wire": 1, "state": 1}


def test_json_api_and_read_only(archive_path: Path) -> None:
    ds = make_datasette(archive_path)
    docs = get(ds, "/newswatch/documents.json?_shape=array&_sort=id").json()
    assert [d["url"] for d in docs] == ["http://wire.test/a", "http://state.test/b"]
    sql = "/newswatch.json?sql=DELETE+FROM+documents&_shape=array"
    refused = get(ds, sql)
    assert refused.status_code == 400
    assert len(get(ds, "/newswatch/documents.json?_shape=array").json()) == 2
    served = get(ds, "/-/metadata.json").json()
    assert served["title"] == metadata("newswatch")["title"]
    assert set(served["databases"]["newswatch"]["queries"]) == {
        "latest_changes", "tracker_history", "documents_per_source", "search"}


def test_immutable_mode_serves_the_same_rows(archive_path: Path) -> None:
    ds = make_datasette(archive_path, immutable=True)
    rows = get(ds, "/newswatch/documents.json?_shape=array").json()
    assert len(rows) == 2


def test_browse_command_serves_on_loopback(archive_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "archive": str(archive_path),
        "sources": [{"name": "wire", "type": "feed", "url": "http://127.0.0.1:9/feed.xml"}],
    }), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "browse", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the socket is listening
        assert "newswatch archive at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "newswatch/documents.json?_shape=array",
                                    timeout=30) as response:
            assert len(json.load(response)) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)
