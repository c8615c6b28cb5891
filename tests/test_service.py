"""The background service as users run it: a real subprocess on a 1-second schedule."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from alert_servers import SMTPSink
from click.testing import CliRunner
from newssite import BASELINE, MOVED, NewsSite
from support.archives import query
from support.configs import service_config
from support.service import Service
from support.waits import wait_until

from crawler.cli.main import cli


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def runs_per_source(tmp_path: Path) -> dict[str, int]:
    return dict(query(tmp_path, "SELECT source, count(*) FROM runs WHERE finished IS NOT NULL "
                                "GROUP BY source"))


def test_service_runs_schedules_alerts_and_stops_cleanly(tmp_path: Path,
                                                         news_site: NewsSite) -> None:
    news_site.publish(BASELINE)
    with SMTPSink() as smtp:
        config = service_config(tmp_path, news_site, smtp.port)
        service = Service(config, tmp_path / "service.log")
        try:
            # Both sources run repeatedly; the failing one does not stop the other.
            wait_until(lambda: all(n >= 2 for n in runs_per_source(tmp_path).values())
                       and len(runs_per_source(tmp_path)) == 2, what="two runs per source")
            streak = query(tmp_path, "SELECT error_streak FROM sources WHERE name = 'dead'")
            assert streak[0][0] >= 2
            assert query(tmp_path, "SELECT last_status FROM sources WHERE name = 'news'") != [
                ("failed",)]
            wait_until(lambda: query(tmp_path, "SELECT 1 FROM changes WHERE type = 'baseline'"),
                       what="the baseline")

            # A second instance on the same archive is refused, clearly.
            second = CliRunner().invoke(cli, ["--config", str(config), "run"])
            assert second.exit_code == 2
            assert "another newswatch process" in second.output

            # A change published while the service runs is alerted.
            news_site.publish(MOVED[:1])
            mails = smtp.wait_for(1, timeout=30)
            assert mails[0]["Subject"] == "US troops in Iraq: ~2,500 → <2,000"

            # Status shows the sources and the alert.
            status = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
            assert status.exit_code == 0, status.output
            assert '"source": "dead"' in status.output and '"sent": 1' in status.output
        finally:
            start = time.monotonic()
            service.send_signal(signal.SIGTERM)
            code, err = service.stop(timeout=15)
        assert time.monotonic() - start < 10
        assert code == 0, err
        assert "service stopped" in err
        assert len(smtp.messages) == 1  # exactly once
    # The lock is released: a crawl can run now.
    assert CliRunner().invoke(cli, ["--config", str(config), "crawl", "--source",
                                    "news"]).exit_code == 0


def test_sighup_reloads_config(tmp_path: Path, news_site: NewsSite) -> None:
    news_site.publish(BASELINE)
    config = service_config(tmp_path, news_site, 1)
    service = Service(config, tmp_path / "service.log")
    try:
        wait_until(lambda: runs_per_source(tmp_path).get("news", 0) >= 1, what="a first run")
        text = config.read_text().replace("  - {name: dead,", "  - {name: dead2,")
        config.write_text(text)
        service.send_signal(signal.SIGHUP)
        wait_until(lambda: runs_per_source(tmp_path).get("dead2", 0) >= 1,
                   what="the reloaded source's run")
        # A broken config on reload is refused; the service keeps running.
        config.write_text("sources: [")
        service.send_signal(signal.SIGHUP)
        before = runs_per_source(tmp_path).get("news", 0)
        wait_until(lambda: runs_per_source(tmp_path).get("news", 0) > before,
                   what="runs after a bad reload")
    finally:
        service.send_signal(signal.SIGTERM)
        code, err = service.stop(timeout=15)
    assert code == 0, err
    assert "config reload failed" in err


def test_sigkill_mid_run_loses_nothing_and_sends_no_duplicate(tmp_path: Path,
                                                              news_site: NewsSite) -> None:
    news_site.publish(BASELINE)
    with SMTPSink() as smtp:
        config = service_config(tmp_path, news_site, smtp.port)

        def start() -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(config), "run"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)

        service = start()
        wait_until(lambda: query(tmp_path, "SELECT 1 FROM changes"), what="the baseline")
        news_site.publish(MOVED[:1])
        smtp.wait_for(1, timeout=30)
        wait_until(lambda: query(tmp_path, "SELECT 1 FROM alerts WHERE status = 'sent'"),
                   what="the alert recorded as sent")
        helpers = descendants(service.pid)  # forkserver and extraction workers
        assert helpers
        service.kill()  # SIGKILL: no cleanup at all
        service.wait(timeout=10)
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in helpers),
                   timeout=15, what="the extraction workers to exit with their parent")
        documents = query(tmp_path, "SELECT count(*) FROM documents")[0][0]
        assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]

        service = start()  # the lock died with the process; the service starts again
        try:
            before = runs_per_source(tmp_path).get("news", 0)
            wait_until(lambda: runs_per_source(tmp_path).get("news", 0) >= before + 2,
                       what="runs after the restart")
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=15)
        assert service.returncode == 0
        assert query(tmp_path, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
        assert query(tmp_path, "SELECT count(*) FROM documents")[0][0] == documents
        assert len(smtp.messages) == 1  # the alert was not sent again
        assert query(tmp_path, "SELECT status FROM alerts") == [("sent",)]


def test_sigterm_cuts_a_hung_crawl_after_the_grace_period(tmp_path: Path,
                                                          news_site: NewsSite) -> None:
    news_site.publish(BASELINE)
    news_site.server.delay("/feed.xml", 30)  # the source hangs
    config = service_config(tmp_path, news_site, 1)
    config.write_text(config.read_text().replace("grace: 5", "grace: 1")
                      .replace("timeout: 2", "timeout: 60"))
    service = Service(config, tmp_path / "service.log")
    try:
        wait_until(lambda: query(tmp_path, "SELECT 1 FROM runs WHERE source = 'news' "
                                           "AND status = 'running'"), what="a hung run")
    finally:
        started = time.monotonic()
        service.send_signal(signal.SIGTERM)
        code, err = service.stop(timeout=20)
    assert time.monotonic() - started < 8
    assert code == 0, err
    assert "cut short after the grace period" in err
    statuses = {s for (s,) in query(tmp_path, "SELECT status FROM runs WHERE source = 'news'")}
    assert statuses == {"interrupted"}
