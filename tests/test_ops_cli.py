"""What the operational commands tell an analyst (issue 13): `alerts test`, `status`, the
crawl summary's `not re-checked`, the demo's next commands."""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alert_servers import SMTPSink
from click.testing import Result
from conftest import write_config
from sitesrv import SiteServer

from crawler.archive.lock import ArchiveLock
from crawler.cli.commands import this_command

STORY = {
    "name": "talks",
    "match": {"any": ["Iraq"]},
    "trackers": [{"name": "advisers", "label": "Advisers in Erbil", "kind": "troops",
                  "about": ["Erbil"]}],
}


def test_alerts_test_is_about_the_users_tracker_with_a_fresh_message_id(
        tmp_path: Path, site: SiteServer, cli_run: Callable[..., Result]) -> None:
    with SMTPSink() as smtp:
        alerts = {"email": {"smtp": f"smtp://127.0.0.1:{smtp.port}", "from": "nw@test",
                            "to": ["desk@test"]}}
        config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                          "url": site.url + "/feeds/wire.xml"}],
                              stories=[STORY], alerts=alerts)
        for _ in range(2):
            result = cli_run("--config", str(config), "alerts", "test")
            assert result.exit_code == 0, result.output
        first, second = smtp.wait_for(2)
    assert first["Subject"].startswith("[test] Advisers in Erbil")
    assert first["Message-ID"] != second["Message-ID"]
    body = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Iraq" not in body and "no report said this" in body

    # No tracker configured: a neutral sample, not someone else's story.
    bare = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                    "url": site.url + "/feeds/wire.xml"}],
                        alerts={"mailbox": str(tmp_path / "box.mbox")})
    assert cli_run("--config", str(bare), "alerts", "test").exit_code == 0
    text = (tmp_path / "box.mbox").read_text()
    assert "Sample tracker" in text and "Iraq" not in text


def test_status_says_whether_a_service_holds_the_archive(
        tmp_path: Path, site: SiteServer, cli_run: Callable[..., Result]) -> None:
    config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                      "url": site.url + "/feeds/wire.xml"}])
    assert cli_run("--config", str(config), "crawl").exit_code == 0
    db = tmp_path / "newswatch.db"
    # A service that stopped left its plan behind: a next run, now past.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sources SET next_run = '2020-01-01T00:00:00+00:00'")
    result = cli_run("--config", str(config), "status")
    assert result.exit_code == 0, result.output
    assert "service: not running" in result.output
    assert "2020-01-01" not in result.output
    rows = [json.loads(line) for line in cli_run("--config", str(config), "status",
                                                  "--json").output.splitlines()]
    assert rows[0]["next_run"] is None and rows[-1]["writer_pid"] is None

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sources SET next_run = '2999-01-01T00:00:00+00:00'")
    with ArchiveLock(db):
        held = cli_run("--config", str(config), "status")
        rows = [json.loads(line) for line in cli_run("--config", str(config), "status",
                                                      "--json").output.splitlines()]
    assert "holds the archive" in held.output and "2999-01-01" in held.output
    assert rows[-1]["writer_pid"] is not None and rows[0]["next_run"].startswith("2999")


def test_crawl_summary_counts_not_rechecked_apart_from_unchanged(
        tmp_path: Path, site: SiteServer, cli_run: Callable[..., Result]) -> None:
    config = write_config(tmp_path, [{"name": "atom", "type": "feed",
                                      "url": site.url + "/feeds/atom.xml", "revisit": "1h"}])
    assert cli_run("--config", str(config), "crawl").exit_code == 0
    again = cli_run("--config", str(config), "crawl")
    assert again.exit_code == 0, again.output
    header, row = (line.split("\t") for line in again.stdout.splitlines()[:2])
    table = dict(zip(header, row, strict=True))
    assert (table["unchanged"], table["not re-checked"], table["fetched"]) == ("0", "2", "0")
    (line,) = [json.loads(x) for x in cli_run("--config", str(config), "crawl",
                                               "--json").stdout.splitlines()]
    assert (line["unchanged"], line["not_rechecked"]) == (0, 2)


def test_demo_next_commands_are_runnable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Under pytest argv[0] is not newswatch: the module form with this interpreter.
    assert this_command() == f"{shlex.quote(sys.executable)} -m crawler"
    script = Path(sys.executable).with_name("newswatch")
    if not script.exists():
        pytest.skip("no installed newswatch script beside this interpreter")
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert this_command() == str(script.resolve())  # not on PATH: its full path
    monkeypatch.setenv("PATH", str(script.parent))
    assert this_command() == "newswatch"
