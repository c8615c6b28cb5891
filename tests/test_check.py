"""`newswatch check`: the archive's integrity, on a real archive made by a real crawl.

Each fault is made the way it happens — a process killed mid-run leaves rows behind, a
damaged disk or a bad copy leaves a broken file — and must give exit 1 naming it, with
no traceback; a healthy archive is "ok".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from conftest import write_config
from sitesrv import SiteServer

from crawler.archive.lock import ArchiveLock

STORY = {
    "name": "us-iraq-coalition",
    "match": {"all": ["Iraq"], "any": ["coalition", "withdrawal", "troops"]},
    "trackers": [{"name": "us-troops-iraq", "kind": "troops", "about": ["Iraq"]}],
}


@pytest.fixture
def archived(tmp_path: Path, site: SiteServer, cli_run: Callable[..., Result]) -> Path:
    """A config whose archive holds a real crawl of the fixture site's wire feed."""
    config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                      "url": site.url + "/feeds/wire.xml"}], stories=[STORY])
    result = cli_run("--config", str(config), "crawl")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "newswatch.db") as db:
        assert db.execute("SELECT count(*) FROM versions").fetchone()[0] >= 3
    return config


def check(cli_run: Callable[..., Result], config: Path) -> Result:
    result = cli_run("--config", str(config), "check")
    assert "Traceback" not in result.output
    return result


def write(db_path: Path, *statements: str) -> None:
    """Change the archive behind newswatch's back (what a dead process or a bug leaves)."""
    conn = sqlite3.connect(db_path)
    try:
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_a_healthy_archive_is_ok(archived: Path, cli_run: Callable[..., Result]) -> None:
    result = check(cli_run, archived)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(": ok")
    assert "problem" not in result.output


def test_runs_and_sends_left_by_a_dead_process_are_reported(
        tmp_path: Path, archived: Path, cli_run: Callable[..., Result]) -> None:
    db = tmp_path / "newswatch.db"
    write(db,
          "INSERT INTO runs (source, started, status) VALUES ('wire', '2025-01-01T00:00:00', "
          "'running')",
          "INSERT INTO changes (tracker, kind, type, detected_at) VALUES ('t', 'troops', "
          "'change', '2025-01-01')",
          "INSERT INTO alerts (change_id, channel, status, attempts) VALUES "
          "(last_insert_rowid(), 'email', 'sending', 1)")
    result = check(cli_run, archived)
    assert result.exit_code == 1, result.output
    assert "of wire (started 2025-01-01T00:00:00) was left 'running'" in result.output
    assert "(email, change" in result.output and "left 'sending'" in result.output
    assert "2 problem(s)" in result.output

    # While a live writer holds the archive, those rows are its work in progress.
    with ArchiveLock(db):
        busy = check(cli_run, archived)
    assert busy.exit_code == 0, busy.output
    assert "is writing to the archive: 1 run(s) running, 1 alert(s) sending" in busy.output

    # The next crawl repairs them; then the archive is ok again.
    assert cli_run("--config", str(archived), "crawl").exit_code == 0
    assert check(cli_run, archived).exit_code == 0


def test_a_corrupted_full_text_index_is_reported(
        tmp_path: Path, archived: Path, cli_run: Callable[..., Result]) -> None:
    db = tmp_path / "newswatch.db"
    # A shadow table of the FTS5 index loses rows: every page still reads fine.
    write(db, "DELETE FROM versions_fts_data WHERE id > 10")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    result = check(cli_run, archived)
    assert result.exit_code == 1, result.output
    assert "problem: full-text index (versions_fts) does not match" in result.output
    before = db.read_bytes()
    check(cli_run, archived)
    assert db.read_bytes() == before  # read-only: the check changed nothing


def test_an_index_out_of_step_with_its_text_is_reported(
        tmp_path: Path, archived: Path, cli_run: Callable[..., Result]) -> None:
    # A version's text rewritten without the trigger that keeps the index current.
    write(tmp_path / "newswatch.db", "DROP TRIGGER versions_au",
          "UPDATE versions SET text = 'nothing like the indexed words' WHERE id = 1")
    result = check(cli_run, archived)
    assert result.exit_code == 1, result.output
    assert "full-text index (versions_fts) does not match" in result.output


def test_a_truncated_archive_is_reported(tmp_path: Path, archived: Path,
                                         cli_run: Callable[..., Result]) -> None:
    db = tmp_path / "newswatch.db"
    data = db.read_bytes()
    assert len(data) > 8192
    db.write_bytes(data[: len(data) // 2])
    result = check(cli_run, archived)
    assert result.exit_code == 1, result.output
    assert "problem: " in result.output
    assert "damaged" in result.output or "database:" in result.output, result.output


def test_a_file_that_is_not_an_archive_is_reported(
        tmp_path: Path, archived: Path, cli_run: Callable[..., Result]) -> None:
    db = tmp_path / "newswatch.db"
    db.write_bytes(b"this was overwritten by something else\n" * 200)
    for stale in tmp_path.glob("newswatch.db-*"):
        stale.unlink()
    result = check(cli_run, archived)
    assert result.exit_code == 1, result.output
    assert "is damaged or not a newswatch archive" in result.output
