"""Alert delivery never holds up a crawl, and a hung channel does not hold up shutdown.

The real service (a subprocess, its log in a file) crawls a local news site every 2 s
while its only channel, a Slack-style webhook, hangs every request until the client's
own timeout (10 s).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from alert_servers import HangingWebhookSink
from newssite import BASELINE, MOVED, NewsSite
from support.archives import query
from support.configs import IRAQ_STORY
from support.waits import wait_until

EVERY = 2  # seconds between a source's runs
GRACE = 2




def finished_runs(tmp_path: Path) -> int:
    rows = query(tmp_path, "SELECT count(*) FROM runs WHERE finished IS NOT NULL "
                           "AND source = 'news'")
    return int(rows[0][0]) if rows else 0


def test_a_hanging_channel_neither_slows_crawls_nor_holds_up_shutdown(
        tmp_path: Path, news_site: NewsSite) -> None:
    news_site.publish(BASELINE)
    with HangingWebhookSink() as hook:
        config = tmp_path / "config.yaml"
        config.write_text(f"""archive: {tmp_path / 'archive.db'}
crawl: {{timeout: 2, retries: 0, autothrottle: false}}
service: {{jitter: 0, grace: {GRACE}}}
sources:
  - {{name: news, type: feed, url: "{news_site.server.url}/feed.xml", every: {EVERY}s, revisit: 0}}
{IRAQ_STORY}alerts:
  slack: {{webhook_url: "{hook.url}"}}
  retry: {{attempts: 100, base: 1s, max: 1s}}
  every: 1s
""", encoding="utf-8")
        log = tmp_path / "service.log"
        with open(log, "w") as stderr:
            service = subprocess.Popen(
                [sys.executable, "-m", "crawler", "--config", str(config), "run"],
                stdout=subprocess.DEVNULL, stderr=stderr)
        stopped = None
        try:
            wait_until(lambda: query(tmp_path, "SELECT 1 FROM changes WHERE type = 'baseline'"),
                       what="the baseline")
            news_site.publish(MOVED[:1])  # a confirmed change: one alert, to the hanging webhook
            hook.wait_for(1, timeout=30)

            # Delivery is stuck in the webhook now; crawls keep their 2-second pace.
            start, before = time.monotonic(), finished_runs(tmp_path)
            wait_until(lambda: finished_runs(tmp_path) >= before + 4, timeout=14,
                       what="4 runs in 14 s while delivery hangs")
            assert time.monotonic() - start < 14
            assert hook.requests  # and delivery is really being attempted, and hanging
            assert query(tmp_path, "SELECT status FROM alerts") in ([("sending",)],
                                                                   [("pending",)])

            # Stop while a request is held: exit within the grace period, not the timeout.
            seen = len(hook.requests)
            hook.wait_for(seen + 1, timeout=15)
            stopped = time.monotonic()
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
        finally:
            if service.poll() is None:
                service.kill()
                service.wait()
        took = time.monotonic() - stopped
        err = log.read_text()
        assert service.returncode == 0, err
        assert took < GRACE + 4, (took, err)
        assert "alert delivery still in progress after the grace period: abandoned" in err
        assert "service stopped" in err
    # The alert was not lost: the next start marks it 'unknown' (it may have arrived).
    rows = query(tmp_path, "SELECT status FROM alerts")
    assert rows in ([("sending",)], [("pending",)]), rows
