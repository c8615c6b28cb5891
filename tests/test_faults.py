"""Faults, for real: a full disk, a dead server, signals, a user's files, redirects.

Each test makes the fault happen (a small filesystem, a stopped server, a signal to a
real process) and then checks what the archive recorded — the `runs` row's status and
counts — as well as what the user was told (one line, the documented exit code, no
traceback).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alert_servers import free_port
from conftest import run_cli, write_config
from sitesrv import SiteServer
from support.waits import wait_until

from crawler.archive.store import Archive
from crawler.config.model import load_config
from crawler.extraction.pages import Extractor
from crawler.pipeline import crawl_pass
from crawler.scraping.reactor import run_on_reactor

WORKTREE = Path(__file__).resolve().parent.parent
PARAGRAPH = ("Officials from both governments met in Baghdad this week to review the "
             "security relationship and the training of Iraqi forces. ")


def rss(base: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 feed of (link, title, description) items."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{text}</description></item>"
        for link, title, text in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<link>{base}/</link><description>d</description>{body}</channel></rss>")


def runs(db: Path) -> list[dict[str, Any]]:
    frozen = "" if os.access(db.parent, os.W_OK) else "&immutable=1"  # read-only media
    conn = sqlite3.connect(f"file:{db}?mode=ro{frozen}", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]
    finally:
        conn.close()


def scalar(db: Path, sql: str) -> Any:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()



def try_scalar(db: Path, sql: str) -> Any:
    """``scalar``, or None while the archive or its tables do not exist yet."""
    if not db.exists():
        return None
    try:
        return scalar(db, sql)
    except sqlite3.OperationalError:
        return None


def opened(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux /proc)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(WORKTREE)})


def newswatch(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
              ) -> subprocess.CompletedProcess[str]:
    """The real `newswatch` command in a subprocess (the worktree's code)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONPATH": str(WORKTREE), **(env or {})})


def assert_one_line(output: str, *needles: str) -> None:
    assert "Traceback" not in output, output
    for needle in needles:
        assert needle in output, output


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A real 1 MB filesystem (tmpfs) if this process may mount one, else None."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                              capture_output=True).returncode
    except OSError:
        done = -1
    if done != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


# ---------------------------------------------------------------------------- disk full


def _many_items_site(tmp_path: Path, n: int) -> SiteServer:
    root = tmp_path / "site"
    root.mkdir()
    server = SiteServer(root).start()
    items = [(f"{server.url}/news/{i}.html", f"Report {i}", f"Report {i}. " + PARAGRAPH * 30)
             for i in range(n)]
    server.publish("feed.xml", rss(server.url, items))
    return server


def test_full_disk_stops_the_crawl_and_the_run_says_what_was_lost(tmp_path, small_disk):
    """The archive on a small filesystem (or at SQLite's page limit) fills up mid-crawl."""
    server = _many_items_site(tmp_path, 400)
    try:
        archive_dir = small_disk or tmp_path
        config = write_config(tmp_path, [{"name": "big", "type": "feed",
                                          "url": server.url + "/feed.xml",
                                          "fetch_articles": False, "max_items": 400}],
                              archive=str(archive_dir / "newswatch.db"),
                              crawl={"cache_dir": str(tmp_path / "cache")})
        db = archive_dir / "newswatch.db"
        if small_disk is not None:
            result = run_cli("--config", str(config), "crawl")
            out = result.output
            assert result.exit_code == 1, out
            assert_one_line(out, "archive", str(db), "full", "free")
        else:
            cfg = load_config(config)
            archive = Archive.open(db)
            archive.db.execute("PRAGMA max_page_count = 120")  # SQLite refuses to grow past it
            extractor = Extractor(1)
            try:
                result_ = run_on_reactor(crawl_pass(cfg, archive, list(cfg.sources), extractor))
            finally:
                extractor.close()
                archive.close()
            assert result_.failed and result_.runs[0].stopped
            assert "full" in result_.runs[0].stopped
    finally:
        server.stop()
    (run,) = runs(db)
    stored = scalar(db, "SELECT count(*) FROM documents")
    assert 0 < stored < 400
    assert run["status"] == "partial"
    assert run["new_documents"] == stored
    assert run["lost"] >= 1 and run["errors"] >= run["lost"]
    # One line for the cause, not one per report.
    details = json.loads(run["error_detail"])
    assert len([d for d in details if "full" in d]) == 1, details


# ---------------------------------------------------------------------------- signals


def test_sigint_stops_crawl_and_records_its_run_as_interrupted(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        items = [(f"{server.url}/news/{i}.html", f"Report {i}", "x") for i in range(6)]
        server.publish("feed.xml", rss(server.url, items))
        for i in range(6):
            server.publish(f"news/{i}.html", "<html><body><article>"
                           + f"<p>Report {i}. {PARAGRAPH * 5}</p>" + "</article></body></html>")
        for i in range(1, 6):
            server.delay(f"/news/{i}.html", 30)  # the crawl hangs on these
        config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                          "url": server.url + "/feed.xml"}],
                              crawl={"timeout": 60, "per_domain": 8})
        db = tmp_path / "newswatch.db"
        proc = spawn("--config", str(config), "crawl")
        try:
            wait_until(lambda: try_scalar(db, "SELECT count(*) FROM documents"), 60,
                       "the first report stored")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert_one_line(err, "interrupted")
    (run,) = runs(db)
    assert (run["status"], run["new_documents"]) == ("interrupted", 1)
    assert run["finished"] is not None
    assert scalar(db, "SELECT last_status FROM sources WHERE name = 'wire'") == "interrupted"
    # `status` shows the run that stored the document.
    status = run_cli("--config", str(config), "status", "--json")
    source = json.loads(status.output.splitlines()[0])
    assert (source["last_status"], source["last_counts"]["new"]) == ("interrupted", 1)


RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture
def archive_config(tmp_path: Path) -> Path:
    config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                      "url": "http://127.0.0.1:9/feed.xml"}])
    Archive.open(tmp_path / "newswatch.db").close()
    return config


def test_sigint_stops_a_runaway_sql_query_within_a_second(tmp_path, archive_config):
    db = tmp_path / "newswatch.db"
    proc = spawn("--config", str(archive_config), "sql", "--timeout", "0", RUNAWAY)
    try:
        wait_until(lambda: opened(proc.pid, db), 30, "the query to start")
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert took < 1.0
    assert_one_line(err, "interrupted")


def test_sql_time_limit(archive_config):
    started = time.monotonic()
    result = run_cli("--config", str(archive_config), "sql", "--timeout", "0.5", RUNAWAY)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1, result.output
    assert_one_line(result.output, "time limit of 0.5 s", "--timeout")


def test_sql_reads_table_valued_pragmas_and_still_refuses_writes(archive_config):
    result = run_cli("--config", str(archive_config), "sql", "--csv",
                     "SELECT name FROM pragma_table_info('runs') WHERE name = 'lost'")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["name", "lost"]
    for write in ("DELETE FROM runs", "SELECT 1; DROP TABLE runs",
                  "WITH x AS (SELECT 1) UPDATE runs SET status = 'ok'",
                  "PRAGMA writable_schema = 1"):
        refused = run_cli("--config", str(archive_config), "sql", write)
        assert refused.exit_code == 2 and "read-only" in refused.output, (write, refused.output)


# ---------------------------------------------------------------------------- demo --dir


@pytest.mark.parametrize("users_file", ["config.yaml", "alerts.mbox"])
def test_demo_never_replaces_a_users_files(tmp_path, users_file):
    mine = tmp_path / users_file
    mine.write_text("archive: precious.db\n", encoding="utf-8")
    result = run_cli("demo", "--dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert_one_line(result.output, "did not write", "new or empty folder")
    assert mine.read_text(encoding="utf-8") == "archive: precious.db\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [users_file]


def test_demo_reuses_only_a_folder_it_wrote(tmp_path):
    from crawler.demo.runner import MARKER, DemoFolderInUse, prepare_folder

    folder = tmp_path / "demo"
    prepare_folder(folder)  # new: created and marked
    (folder / "alerts.mbox").write_text("old demo alerts", encoding="utf-8")
    prepare_folder(folder)  # an earlier demo's: cleared
    assert sorted(p.name for p in folder.iterdir()) == [MARKER]
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DemoFolderInUse, match="notes.txt"):
        prepare_folder(folder)
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_demo_wait_fails_loudly_on_timeout(tmp_path):
    import asyncio

    from crawler.demo.runner import DemoTimeout, _wait_for_fresh_runs

    Archive.open(tmp_path / "demo.db").close()
    with pytest.raises(DemoTimeout, match="0 of 3 sources"):
        asyncio.run(_wait_for_fresh_runs(tmp_path / "demo.db", "2000-01-01", 3, 0.5))


# ---------------------------------------------------------------------------- dead source


def test_a_dead_source_is_an_error_even_with_its_pages_in_the_http_cache(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    server = SiteServer(root).start()
    server.publish("news/a.html", "<html><body><article><p>" + PARAGRAPH * 5
                   + "</p></article></body></html>")
    server.publish("feed.xml", rss(server.url, [(f"{server.url}/news/a.html", "A", "a")]))
    config = write_config(tmp_path, [
        {"name": "wire", "type": "feed", "url": server.url + "/feed.xml"},
        {"name": "page", "type": "page", "url": server.url + "/news/a.html"}],
        crawl={"http_cache": True, "retries": 0})
    db = tmp_path / "newswatch.db"
    try:
        first = run_cli("--config", str(config), "crawl")
        assert first.exit_code == 0, first.output
    finally:
        server.stop()  # the site is gone; its pages stay in the HTTP cache
    versions = scalar(db, "SELECT count(*) FROM versions")
    for attempt in (1, 2):
        result = run_cli("--config", str(config), "crawl")
        assert result.exit_code == 1, result.output
        assert_one_line(result.output)
        for run in runs(db)[-2:]:
            assert (run["status"], run["fetched"], run["errors"]) == ("failed", 0, 1), run
        status = run_cli("--config", str(config), "status", "--json")
        for line in status.output.splitlines()[:2]:
            source = json.loads(line)
            assert source["error_streak"] == attempt, source
            assert "refused" in source["last_error"].lower(), source
    assert scalar(db, "SELECT count(*) FROM versions") == versions  # nothing re-archived


# ---------------------------------------------------------------------------- one line each


def test_unreachable_host_with_robots_is_one_line_not_a_traceback(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, [{"name": "gone", "type": "feed", "url": url + "/feed.xml"},
                                     {"name": "page", "type": "page", "url": url + "/a.html"}],
                          crawl={"obey_robots": True, "retries": 0})
    done = newswatch("--config", str(config), "crawl")
    assert done.returncode == 1, done.stderr
    assert_one_line(done.stderr, "refused")
    assert "robots.txt" not in done.stderr  # the page's own request says it, once
    db = tmp_path / "newswatch.db"
    assert [(r["source"], r["status"], r["errors"]) for r in runs(db)] == [
        ("gone", "failed", 1), ("page", "failed", 1)]
    quiet = newswatch("-q", "--config", str(config), "crawl")
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert "WARNING" not in quiet.stderr


def _corrupt(path: Path) -> None:
    """Overwrite the middle of a real archive: SQLite finds it malformed when reading."""
    data = bytearray(path.read_bytes())
    for at in range(4096 * 2, len(data) - 4096, 4096):
        data[at:at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case", ["folder", "garbage", "malformed"])
def test_unusable_archive_is_one_line_and_exit_2(tmp_path, case):
    config = write_config(tmp_path, [{"name": "s", "type": "feed",
                                      "url": f"http://127.0.0.1:{free_port()}/f.xml"}])
    db = tmp_path / "newswatch.db"
    if case == "folder":
        db.mkdir()
    elif case == "garbage":
        db.write_bytes(b"this is not a database " * 100)
    else:
        archive = Archive.open(db)
        with archive.write():
            archive.db["documents"].insert_all(
                {"url": f"http://x/{i}", "source": "s", "first_seen": "t", "last_seen": "t",
                 "title": PARAGRAPH * 3} for i in range(400))
        archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        archive.close()
        _corrupt(db)
    before = db.read_bytes() if db.is_file() else None
    commands = [["crawl"], ["status"], ["export", "--table", "documents"]]
    if case == "malformed":
        commands = [["export", "--table", "documents"]]
    for command in commands:
        result = run_cli("--config", str(config), *command)
        assert result.exit_code == 2, (command, result.output)
        assert_one_line(result.output, str(db))
        assert ("folder" if case == "folder" else "damaged") in result.output
    if before is not None:
        assert db.read_bytes() == before  # nothing written into it


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder that cannot be written: a read-only tmpfs as root, else chmod."""
    folder = tmp_path / "ro"
    folder.mkdir()
    Archive.open(folder / "newswatch.db").close()
    (folder / "newswatch.db.reserve").unlink()
    if os.geteuid() == 0:
        try:
            ok = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                                capture_output=True).returncode == 0
        except OSError:
            ok = False
        if not ok:
            pytest.skip("running as root without mount: permissions cannot make a folder "
                        "read-only")
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        (folder / "newswatch.db").chmod(0o444)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


def test_read_only_archive_is_one_line_and_exit_2(tmp_path, read_only_dir):
    db = read_only_dir / "newswatch.db"
    config = write_config(tmp_path, [{"name": "s", "type": "feed",
                                      "url": f"http://127.0.0.1:{free_port()}/f.xml"}],
                          archive=str(db))
    before = db.read_bytes()
    result = run_cli("--config", str(config), "crawl")
    assert result.exit_code == 2, result.output
    assert_one_line(result.output, str(db), "cannot be written", "writable")
    assert db.read_bytes() == before
    assert runs(db) == []
    # Reading it still works.
    status = run_cli("--config", str(config), "status")
    assert status.exit_code == 0, status.output


def test_bad_url_in_config_is_a_config_error(tmp_path):
    config = write_config(tmp_path, [{"name": "s", "type": "feed", "url": "http://[bad/f.xml"}])
    done = newswatch("--config", str(config), "crawl")
    assert done.returncode == 2, done.stderr
    assert_one_line(done.stderr, "config error")
    assert not (tmp_path / "newswatch.db").exists()


def test_bad_url_in_a_feed_item_is_counted_and_the_rest_archived(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        server.publish("feed.xml", rss(server.url, [
            ("http://[bad/x.html", "Bad link", "The bad item's own text. " + PARAGRAPH),
            (f"{server.url}/missing/b.html", "Good", "Second item. " + PARAGRAPH)]))
        config = write_config(tmp_path, [{"name": "wire", "type": "feed",
                                          "url": server.url + "/feed.xml"}])
        result = run_cli("--config", str(config), "crawl")
    assert "Traceback" not in result.output
    (run,) = runs(tmp_path / "newswatch.db")
    # The bad link is no link: the item is archived from the feed; the 404 falls back too.
    assert (run["fetched"], run["new_documents"], run["fallbacks"]) == (2, 2, 2), run


def test_export_into_a_missing_folder_and_onto_a_full_device(tmp_path, archive_config):
    result = run_cli("--config", str(archive_config), "export", "-o",
                     str(tmp_path / "nowhere" / "out.jsonl"))
    assert result.exit_code == 2, result.output
    assert_one_line(result.output, "cannot write", "nowhere")
    if not Path("/dev/full").exists():
        return
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(archive_config), "sql",
             "SELECT * FROM sqlite_master"], stdout=full, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(WORKTREE)}, timeout=60)
    assert done.returncode == 1, done.stderr
    assert_one_line(done.stderr, "No space left")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_browse_on_a_port_in_use(tmp_path, archive_config):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("--config", str(archive_config), "browse", "--port", str(port))
    assert result.exit_code == 2, result.output
    assert_one_line(result.output, f"127.0.0.1:{port}", "--port")


def test_config_error_masks_an_expanded_secret(tmp_path):
    config = write_config(tmp_path, [{"name": "s", "type": "feed", "url": "http://127.0.0.1:9/"}],
                          alerts={"slack": {"webhook_url": "${HOOK_URL}"}})
    secret = "ftp://hooks.example/T000/B000/SeCrEtToKeN"
    result = run_cli("--config", str(config), "status", env={"HOOK_URL": secret})
    assert result.exit_code == 2, result.output
    assert "config error" in result.output and "webhook_url" in result.output
    assert "SeCrEtToKeN" not in result.output and "***" in result.output


# ---------------------------------------------------------------------------- redirects, html


def test_items_redirecting_to_one_url_are_each_stored(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        server.publish("news/story.html", "<html><body><article><p>The story. " + PARAGRAPH * 4
                       + "</p></article></body></html>")
        items = []
        for i in range(3):
            server.redirect(f"/r/{i}", "/news/story.html")
            items.append((f"{server.url}/r/{i}", f"Item {i}", f"Item {i}"))
        server.publish("feed.xml", rss(server.url, items))
        config = write_config(tmp_path, [{"name": "search", "type": "feed",
                                          "url": server.url + "/feed.xml"}])
        result = run_cli("--config", str(config), "crawl")
    assert result.exit_code == 0, result.output
    db = tmp_path / "newswatch.db"
    (run,) = runs(db)
    assert (run["status"], run["fetched"], run["errors"]) == ("ok", 3, 0), run
    assert run["new_documents"] + run["unchanged"] == 3
    urls = {r[0] for r in sqlite3.connect(db).execute("SELECT url FROM documents")}
    assert urls == {f"{server.url}/r/{i}" for i in range(3)}  # each item linked


def test_a_feed_url_answering_html_is_an_error_of_the_run(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    with SiteServer(root) as server:
        server.publish("index.html", "<!doctype html><html><body><p>Home</p></body></html>")
        config = write_config(tmp_path, [{"name": "home", "type": "feed",
                                          "url": server.url + "/index.html"}])
        result = run_cli("--config", str(config), "crawl")
    assert result.exit_code == 1, result.output
    assert_one_line(result.output, "not a feed")
    (run,) = runs(tmp_path / "newswatch.db")
    assert (run["status"], run["errors"], run["fetched"]) == ("failed", 1, 0)
