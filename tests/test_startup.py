"""Query and status commands start fast: they import no Scrapy, Twisted or trafilatura.

Each command runs in a fresh interpreter (a subprocess), in-process there through the
click group, against a small archive; the wrapper then says which of the heavy packages
``sys.modules`` holds. Scrapy and Twisted are loaded only to crawl, trafilatura only in
the extraction workers (bench/startup.py times the commands).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from analyst_archive import build_archive

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scrapy", "twisted", "trafilatura")

WRAPPER = f"""
import json, sys
from crawler.cli.main import cli
out, args = sys.argv[1], sys.argv[2:]
try:
    cli(args, prog_name="newswatch")
    code = 0
except SystemExit as e:
    code = e.code
loaded = [m for m in {HEAVY!r} if m in sys.modules]
with open(out, "w") as f:
    json.dump({{"exit": code, "loaded": loaded}}, f)
"""

COMMANDS = [
    ["--version"],
    ["status"],
    ["status", "--json"],
    ["search", "troops"],
    ["changes"],
    ["facts", "history", "us-troops-iraq"],
    ["trackers"],
    ["sql", "SELECT count(*) FROM documents"],
]


@pytest.fixture(scope="module")
def archive_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("startup"))


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_query_commands_import_no_crawler_stack(archive_config: Path, tmp_path: Path,
                                                args: list[str]) -> None:
    out = tmp_path / "loaded.json"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), "-q", "--config", str(archive_config), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    assert out.exists(), proc.stderr
    report = json.loads(out.read_text())
    assert report["exit"] in (0, None), proc.stderr
    assert proc.stdout.strip()  # the command did its work
    assert report["loaded"] == []


def _counted(db: Any) -> dict[str, Any]:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    alerts = dict(db.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())
    return {
        "documents": one("SELECT count(*) FROM documents"),
        "versions": one("SELECT count(*) FROM versions"),
        "facts": one("SELECT count(*) FROM facts"),
        "changes": one("SELECT count(*) FROM changes WHERE type != 'baseline'"),
        "alerts": {k: alerts.get(k, 0) for k in ("pending", "sending", "sent", "failed",
                                                 "unknown")},
    }


def test_status_counts_are_kept_not_counted(archive_config: Path, tmp_path: Path) -> None:
    """`status` reads counts kept by triggers (constant time); they equal count(*) after
    inserts, revisions, facts replaced, changes and alerts moving between statuses."""
    import shutil

    from crawler.archive.queries import archive_counts
    from crawler.archive.store import Archive
    from crawler.extraction.records import AnalyzedReport

    db_path = tmp_path / "archive.db"
    shutil.copy(archive_config.parent / "archive.db", db_path)
    archive = Archive.open(db_path)
    try:
        db = archive.db
        assert archive_counts(db) == _counted(db) and _counted(db)["changes"] > 0
        stored = archive.store(AnalyzedReport(url="https://example.org/a", source="news",
                                              title="t", text="one", facts=()))
        archive.store(AnalyzedReport(url="https://example.org/a", source="news", title="t",
                                     text="two"))
        fact = next(db.query("SELECT * FROM facts LIMIT 1"))
        fact.pop("id")
        archive.store_facts(stored.version_id or 0, [{**fact, "version_id": stored.version_id,
                                                      "document_id": stored.document_id}])
        archive.store_facts(stored.version_id or 0, [])  # replaced: deleted
        change = next(db.query("SELECT id FROM changes LIMIT 1"))["id"]
        with archive.write():
            for channel in ("email", "slack", "mailbox"):
                db.table("alerts").insert({"change_id": change, "channel": channel,
                                           "status": "pending", "attempts": 0})
        with archive.write():
            db.execute("UPDATE alerts SET status = 'sent' WHERE channel = 'email'")
            db.execute("UPDATE alerts SET status = 'failed' WHERE channel = 'slack'")
        with archive.write():
            db.execute("UPDATE changes SET type = 'baseline' WHERE id = ?", [change])
        assert archive_counts(db) == _counted(db)
        assert archive_counts(db)["alerts"] == {"pending": 1, "sending": 0, "sent": 1,
                                                "failed": 1, "unknown": 0}
    finally:
        archive.close()


def test_crawl_start_up_shortcut_names_scrapys_classes_as_scrapy_does() -> None:
    """crawler/scraping/startup.py: Scrapy's deprecated TLS aliases get the module name
    Scrapy's own lookup gives them, and `inspect` is Scrapy's again afterwards."""
    code = (
        "import inspect, crawler.scraping.resolver\n"
        "from scrapy.core.downloader import contextfactory, tls\n"
        "from scrapy.utils import deprecate\n"
        "print(tls.ScrapyClientTLSOptions.__module__,"
        " contextfactory.ScrapyClientContextFactory.__module__,"
        " contextfactory.AcceptableProtocolsContextFactory.__module__,"
        " deprecate.inspect is inspect)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["scrapy.core.downloader.tls",
                                  "scrapy.core.downloader.contextfactory",
                                  "scrapy.core.downloader.contextfactory", "True"], out.stderr
