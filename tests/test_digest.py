"""The digest: one message per period with its changes, unconfirmed changes and conflicts."""

from __future__ import annotations

import mailbox
import signal
import sqlite3
from pathlib import Path

import pytest
import yaml
from alert_servers import SMTPSink
from click.testing import CliRunner
from support.archives import build_archive
from support.service import Service
from support.waits import wait_until

from crawler.archive.store import Archive
from crawler.cli.main import cli
from crawler.config.model import ConfigError, load_config, parse_config
from crawler.delivery import deliver_alerts, queue_digest

STORY = {"name": "s", "match": {"all": ["Iraq"]}, "trackers": [
    {"name": "us-troops-iraq", "label": "US troops in Iraq", "kind": "troops",
     "place": "Iraq"}]}
REPORTS = [
    ("https://dod.example/0", "dod", "2025-01-10", "Posture",
     "The United States has approximately 2,500 troops in Iraq, a Pentagon spokesman said."),
    ("https://dod.example/1", "dod", "2025-02-01", "Drawdown",
     "The US now has fewer than 2,000 troops in Iraq, a senior defense official said."),
    ("https://blog.example/1", "blog", "2025-02-02", "A rumour",
     "The US has about 800 troops in Iraq."),  # one outlet: unconfirmed
    ("https://old.example/1", "old", "2025-02-03", "Background",
     "The United States has approximately 2,500 troops in Iraq."),  # a stale copy
]


def _config(tmp_path: Path, alerts: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "archive": str(tmp_path / "archive.db"),
        "sources": [{"name": "dead", "type": "feed", "url": "http://127.0.0.1:9/feed.xml",
                     "every": "1h"}],
        "stories": [STORY], "alerts": alerts}), encoding="utf-8")
    return path


def test_a_period_s_digest_is_sent_once_with_every_kind_of_news(tmp_path: Path) -> None:
    with SMTPSink() as smtp:
        path = _config(tmp_path, {
            "email": {"smtp": f"smtp://127.0.0.1:{smtp.port}", "from": "nw@example.org",
                      "to": ["desk@example.org"], "timeout": 5},
            "digest": {"cron": "0 8 * * *", "timezone": "Europe/Berlin"}})
        build_archive(path, REPORTS)
        config = load_config(path)
        archive = Archive.open(config.archive)
        try:
            first = queue_digest(archive, config)
            assert first is not None
            assert queue_digest(archive, config) is None  # nothing new since
            deliver_alerts(archive, config, ignore_backoff=True)
        finally:
            archive.close()
        mails = smtp.wait_for(2)  # the change's own alert, and the digest
        digests = [m for m in mails if m["Subject"].startswith("newswatch digest")]
        assert len(digests) == 1
        body = digests[0].get_body(("plain",)).get_content()
        assert "(Europe/Berlin)" in body
        changes = body.index("Changes:")
        waiting = body.index("Waiting for confirmation:")
        stale = body.index("Stale reports (conflicts):")
        assert "US troops in Iraq: ~2,500 → <2,000" in body[changes:waiting]
        assert "~800" in body[waiting:stale] and "blog" in body[waiting:stale]
        assert "~2,500" in body[stale:] and "https://old.example/1" in body[stale:]
        # a second delivery pass sends nothing again
        archive = Archive.open(config.archive)
        try:
            assert deliver_alerts(archive, config, ignore_backoff=True).sent == 0
        finally:
            archive.close()
        assert len(smtp.messages) == 2


def test_a_period_is_queued_once_across_restarts(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    path = _config(tmp_path, {"mailbox": "box.mbox", "digest": {"every": "1d"}})
    build_archive(path, REPORTS)
    config = load_config(path)
    end = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    for _ in range(2):  # the job fires again for the same period after a restart
        archive = Archive.open(config.archive)
        try:
            queue_digest(archive, config, end)
        finally:
            archive.close()
    with sqlite3.connect(config.archive) as conn:
        assert conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM alerts WHERE digest_id IS NOT NULL"
                            ).fetchone()[0] == 1


def test_digest_now_previews_without_queuing(tmp_path: Path) -> None:
    path = _config(tmp_path, {"mailbox": "box.mbox", "digest": {"every": "1d"}})
    build_archive(path, REPORTS)
    result = CliRunner().invoke(cli, ["--config", str(path), "alerts", "digest", "--now"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("newswatch digest ")
    assert "Changes:" in result.output and "Waiting for confirmation:" in result.output
    with sqlite3.connect(tmp_path / "archive.db") as conn:
        assert conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 0


def test_the_service_sends_digests_on_schedule(tmp_path: Path) -> None:
    path = _config(tmp_path, {"mailbox": "box.mbox", "every": "1s",
                              "digest": {"every": "2s"}})
    config = path.read_text().replace("archive:", "service: {jitter: 0, grace: 2}\narchive:")
    path.write_text(config)
    build_archive(path, REPORTS)
    service = Service(path, tmp_path / "service.log")
    box = tmp_path / "box.mbox"

    def digests() -> list[str]:
        if not box.exists():
            return []
        return [str(m["Subject"]) for m in mailbox.mbox(box)
                if str(m["Subject"]).startswith("newswatch digest")]

    try:
        wait_until(digests, timeout=30, what="the scheduled digest in the mailbox")
    finally:
        service.send_signal(signal.SIGTERM)
        code, log = service.stop(timeout=20)
    assert code == 0, log
    assert len(digests()) == 1  # later periods had nothing new: no empty digests


@pytest.mark.parametrize("digest,message", [
    ({"every": "1d", "cron": "0 8 * * *"}, "give either 'every' or 'cron'"),
    ({}, "give either 'every' or 'cron'"),
    ({"every": "1d", "timezone": "Mars/Olympus"}, "timezone: expected an IANA time zone"),
    ({"cron": "at eight"}, "cron: expected a crontab expression"),
])
def test_bad_digest_config_is_a_clear_error(digest: dict, message: str) -> None:
    text = yaml.safe_dump({"sources": [{"name": "s", "type": "feed",
                                        "url": "http://example.org/f"}],
                           "alerts": {"digest": digest}})
    with pytest.raises(ConfigError, match=message):
        parse_config(text, Path("config.yaml"), environ={})
