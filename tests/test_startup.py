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
