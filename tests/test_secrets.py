"""Secrets (SMTP password, Slack webhook URL) never appear in logs or output."""

from __future__ import annotations

import logging
from pathlib import Path

from alert_servers import free_port
from click.testing import CliRunner
from newssite import BASELINE, MOVED, NewsSite

from crawler.cli.main import SecretsFilter, cli

PASSWORD = "hunter2-very-secret"
TOKEN = "XoXoSecretWebhookToken42"
API_KEY = "feed-api-key-31337"


def test_secrets_filter_masks_values_in_messages_and_args() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1,
                               "login failed for %s with %s", ("user", PASSWORD), None)
    SecretsFilter([PASSWORD, None, ""]).filter(record)
    assert record.getMessage() == "login failed for user with ***"


def test_secrets_never_reach_the_log(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    site = NewsSite(root)
    dead = free_port()
    webhook = f"http://127.0.0.1:{dead}/services/T000/B000/{TOKEN}"
    config = tmp_path / "config.yaml"
    config.write_text(f"""archive: {tmp_path / 'a.db'}
crawl: {{timeout: 2, retries: 0, autothrottle: false}}
sources:
  - {{name: news, type: feed, url: "{site.server.url}/feed.xml?key=${{NEWS_KEY}}", revisit: 0}}
stories:
  - name: s
    match: {{all: [Iraq]}}
    trackers:
      - {{name: us-troops-iraq, kind: troops, about: [Iraq], not_about: [Syria]}}
alerts:
  email: {{smtp: "smtp://alerts@127.0.0.1:{dead}", starttls: true, from: a@test, to: [b@test]}}
  slack: {{webhook_url: "${{HOOK}}"}}
""")
    env = {"NEWSWATCH_SMTP_PASSWORD": PASSWORD, "HOOK": webhook, "NEWS_KEY": API_KEY}
    try:
        site.publish(BASELINE)
        runner = CliRunner()
        first = runner.invoke(cli, ["--config", str(config), "-vv", "crawl"], env=env)
        site.publish(MOVED)
        second = runner.invoke(cli, ["--config", str(config), "-vv", "crawl"], env=env)
        status = runner.invoke(cli, ["--config", str(config), "status", "--json"], env=env)
    finally:
        site.server.stop()
    assert second.exit_code == 0, second.output
    output = first.output + second.output + status.output
    assert "channel 'email' unavailable" in output  # the failures are logged...
    assert "via 'slack': attempt 1 failed" in output
    assert PASSWORD not in output  # ...without the secrets
    assert TOKEN not in output
    assert "crawling" in output and API_KEY not in output  # any ${VAR} value is masked
    db = (tmp_path / "a.db").read_bytes()
    assert PASSWORD.encode() not in db and TOKEN.encode() not in db
