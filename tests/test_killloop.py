"""kill -9 at random moments of real `newswatch crawl` runs, then recovery (README, "Exactly once").

Each cycle the local news site publishes one more report moving the troop figure (an
official voice, so each is a confirmed change and one email), `newswatch crawl` starts as
a subprocess and, after a random delay, its whole process group gets SIGKILL — during
start-up, fetching, extraction, change detection or delivery, or after it finished. After
at least 20 kills, complete runs and `alerts send --now` finish the work; then the archive
must be intact, hold every report once, and every alert must have arrived exactly once —
except rows marked `unknown` (killed between the server accepting and the row being
marked), which arrived at most once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from alert_servers import SMTPSink
from newssite import BASELINE, NewsSite
from support.configs import IRAQ_STORY

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20




def report(i: int) -> tuple[str, str, str, str]:
    """The i-th report: a new troop figure 10% above the last, from an official."""
    figure = round(2500 * 1.1 ** (i + 1))
    day = f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}"
    return (f"k{i}", day, f"US force level in Iraq, update {i}",
            f"The United States now has {figure:,} troops in Iraq, a senior defense official "
            "said on Friday.")


def newswatch(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), *args],
            stdout=out, stderr=out, start_new_session=True,  # its own group: workers too
            env={**os.environ, "PYTHONPATH": str(ROOT)})


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_at_random_moments_then_recovery(tmp_path: Path, news_site: NewsSite) -> None:
    seed = int(os.environ.get("KILLLOOP_SEED", time.time()))
    rng = random.Random(seed)
    news_site.publish(BASELINE)
    db, log = tmp_path / "archive.db", tmp_path / "newswatch.log"
    with SMTPSink() as smtp:
        config = tmp_path / "config.yaml"
        config.write_text(f"""archive: {db}
crawl: {{timeout: 5, retries: 0, autothrottle: false, extract_workers: 1}}
sources:
  - {{name: news, type: feed, url: "{news_site.server.url}/feed.xml", revisit: 0}}
{IRAQ_STORY}alerts:
  email: {{smtp: "smtp://127.0.0.1:{smtp.port}", from: "newswatch@test", to: ["desk@test"]}}
  retry: {{base: 1s, max: 1s}}
""", encoding="utf-8")

        # The first crawl (history: no alerts) runs to its end and times a whole crawl.
        started = time.monotonic()
        first = newswatch(config, log, "crawl")
        assert first.wait(timeout=60) == 0, log.read_text()
        length = time.monotonic() - started

        kills = cycles = 0
        while kills < KILLS:
            assert cycles < 3 * KILLS, f"only {kills} kills in {cycles} cycles (seed {seed})"
            news_site.publish([report(cycles)])
            cycles += 1
            crawl = newswatch(config, log, "crawl")
            delay = rng.uniform(0.1, length * 1.2)
            try:
                crawl.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(crawl.pid, signal.SIGKILL)
                kills += 1
            crawl.wait(timeout=30)
            _wait_for_group_gone(crawl.pid)

        # Recovery: a complete crawl (it repairs what the kills left), then every alert.
        final = newswatch(config, log, "crawl")
        assert final.wait(timeout=120) == 0, f"seed {seed}: {log.read_text()[-3000:]}"
        assert rows(db, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
        send = newswatch(config, log, "alerts", "send", "--now")
        assert send.wait(timeout=60) == 0, f"seed {seed}: {log.read_text()[-3000:]}"
        check = subprocess.run(
            [sys.executable, "-m", "crawler", "--config", str(config), "check"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60)
        assert check.returncode == 0, f"seed {seed}: {check.stdout}{check.stderr}"
        assert check.stdout.strip().endswith(": ok")
        messages = list(smtp.messages)

    # Every report once, each with one version (nothing was edited).
    published = 1 + cycles
    assert rows(db, "SELECT count(*), count(DISTINCT url) FROM documents") == [
        (published, published)]
    assert rows(db, "SELECT count(*), count(DISTINCT document_id) FROM versions") == [
        (published, published)]
    # Each new figure is one change, detected once.
    changes = rows(db, "SELECT new_display, count(*) FROM changes WHERE type = 'change' "
                       "GROUP BY new_display")
    assert all(n == 1 for _, n in changes), changes
    assert len(changes) == cycles, (seed, changes)

    # Every alert settled; sent ones arrived exactly once, unknown ones at most once.
    alerts = dict(rows(db, "SELECT id, status FROM alerts"))
    assert len(alerts) == cycles
    assert set(alerts.values()) <= {"sent", "unknown"}, (seed, alerts)
    arrived = Counter(int(re.match(r"<alert-(\d+)-", m["Message-ID"]).group(1))  # type: ignore[union-attr]
                      for m in messages)
    assert set(arrived) <= set(alerts)
    for alert_id, status in alerts.items():
        if status == "sent":
            assert arrived[alert_id] == 1, (seed, alert_id, arrived[alert_id])
        else:
            assert arrived[alert_id] <= 1, (seed, alert_id, arrived[alert_id])
    unknown = sum(1 for s in alerts.values() if s == "unknown")
    print(f"seed {seed}: {kills} kills in {cycles} cycles; {len(alerts)} alerts, "
          f"{unknown} unknown, {len(messages)} emails")


def _wait_for_group_gone(pgid: int, timeout: float = 15) -> None:
    """Until no process of the killed group is left (workers die with their parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} still alive after {timeout} s")
