"""Change detection and alert delivery, end to end with real servers.

A small news site (written into tmp_path, served by SiteServer) publishes reports
step by step; real crawls archive them; alerts go to a real SMTP server
(aiosmtpd) and a real HTTP endpoint standing in for Slack's webhook.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alert_servers import SMTPSink, WebhookSink, free_port
from conftest import run_cli
from newssite import BASELINE, FILLER, MOVED, REPEATS, STALE, NewsSite
from support.configs import alerting_config

from crawler.changes.records import FactRecord
from crawler.changes.rules import same_value
from crawler.extraction.records import AnalyzedReport


def newswatch(config: Path, *args: str) -> Any:
    return run_cli("--config", str(config), *args)


def rows(config_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(config_dir / "archive.db") as conn:
        return conn.execute(sql).fetchall()


def test_same_value_rules() -> None:
    def fact(kind: str, value: str, granularity: str = "month", number: float | None = None,
             low: float | None = None, high: float | None = None) -> FactRecord:
        return FactRecord(id=1, version_id=1, doc=1, story=None, tracker=None, kind=kind,
                          value=value, display=value, number=number, low=low, high=high,
                          granularity=granularity, start=0, end=0, sentence="", day="",
                          url="", source="", official=False, attributed=False, history=False)

    def count(granularity: str, number: float, low: float | None, high: float | None
              ) -> FactRecord:
        return fact("troops", str(number), granularity, number, low, high)

    approx = count("approx", 2500, 2375, 2625)
    about = count("exact", 2520, 2520, 2520)
    fewer = count("upper", 2000, 0, 2000)
    fewer_500 = count("upper", 500, 0, 500)
    about_1900 = count("approx", 1900, 1805, 1995)
    more_80, members_86 = count("lower", 80, 80, None), count("exact", 86, 86, 86)
    assert same_value(approx, about, 0.05)  # re-wording, within tolerance
    assert not same_value(approx, fewer, 0.05)  # ~2,500 and <2,000 exclude each other
    assert not same_value(fewer, fewer_500, 0.05)  # a moved bound is a change
    assert same_value(about_1900, fewer, 0.05)  # compatible statements of one drawdown
    assert same_value(members_86, more_80, 0.05)
    year, sept, dec = fact("timeline", "2026"), fact("timeline", "2026-09"), \
        fact("timeline", "2026-12")
    assert same_value(year, sept, 0.05)  # 2026 does not contradict September 2026
    assert not same_value(sept, dec, 0.05)  # end of 2026 does


def test_fact_changes_alert_once_per_channel(tmp_path: Path, news_site: NewsSite, smtp: SMTPSink,
                                             hook: WebhookSink) -> None:
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)

    news_site.publish(BASELINE)
    assert newswatch(config, "crawl").exit_code == 0
    assert smtp.messages == [] and hook.requests == []  # baselines are not alerts
    assert {r[0] for r in rows(tmp_path, "SELECT type FROM changes")} == {"baseline"}

    news_site.publish(MOVED)
    result = newswatch(config, "crawl")
    assert result.exit_code == 0, result.output
    mails = smtp.wait_for(2)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == ["Coalition mission end: Sep 2025 → Sep 2026",
                        "US troops in Iraq: ~2,500 → <2,000"]
    assert len(hook.requests) == 2
    assert all("blocks" in r.json for r in hook.requests)
    body = next(m for m in mails if "troops" in m["Subject"]).get_body(("plain",)).get_content()
    assert "fewer than 2,000 troops" in body and "/news/a2.html" in body
    assert "/news/a1.html" in body  # the old value's source

    news_site.publish(REPEATS)
    assert newswatch(config, "crawl").exit_code == 0
    assert len(smtp.messages) == 2 and len(hook.requests) == 2  # no new alerts
    corroborations = rows(
        tmp_path,
        "SELECT c.tracker, count(*) FROM corroborations k JOIN changes c ON c.id = k.change_id "
        "GROUP BY c.tracker ORDER BY c.tracker",
    )
    assert corroborations == [("coalition-end", 2), ("us-troops-iraq", 2)]

    news_site.publish(STALE)
    assert newswatch(config, "crawl").exit_code == 0
    assert len(smtp.messages) == 2 and len(hook.requests) == 2
    conflicts = rows(tmp_path, "SELECT tracker, old_display, new_display FROM changes "
                               "WHERE type = 'conflict'")
    assert conflicts == [("us-troops-iraq", "<2,000", "~2,500")]

    # The article is edited: its figure moves, a revision alert carries the diff.
    slug, date, title, body_text = MOVED[0]
    news_site.edit(slug, date, title, body_text.replace("fewer than 2,000", "fewer than 1,500"))
    assert newswatch(config, "crawl").exit_code == 0
    mails = smtp.wait_for(3)
    revision = mails[2]
    assert revision["Subject"] == "US troops in Iraq: article revised, <2,000 → <1,500"
    text = revision.get_body(("plain",)).get_content()
    assert "1,500" in text and "2,000" in text
    assert len(hook.requests) == 3
    (diff,) = rows(tmp_path, "SELECT diff FROM changes WHERE type = 'revision'")[0]
    ops = json.loads(diff)
    assert ["delete", "2,000"] in [[op, t.strip()] for op, t in ops]
    assert ["insert", "1,500"] in [[op, t.strip()] for op, t in ops]

    statuses = rows(tmp_path, "SELECT status, count(*) FROM alerts GROUP BY status")
    assert statuses == [("sent", 6)]
    # Nothing new: one more crawl sends nothing.
    assert newswatch(config, "crawl").exit_code == 0
    assert len(smtp.messages) == 3 and len(hook.requests) == 3


def test_smtp_down_then_up_delivers_exactly_once(tmp_path: Path, news_site: NewsSite,
                                                hook: WebhookSink) -> None:
    port = free_port()
    config = alerting_config(tmp_path, news_site, port, hook.url)
    news_site.publish(BASELINE)
    assert newswatch(config, "crawl").exit_code == 0
    news_site.publish(MOVED)
    hook.fail_next(1, status=500)
    result = newswatch(config, "crawl")  # SMTP is down; Slack answers 500 once
    assert result.exit_code == 0, result.output
    pending = rows(tmp_path, "SELECT channel, status, attempts, last_error FROM alerts "
                             "ORDER BY channel, id")
    email_rows = [r for r in pending if r[0] == "email"]
    assert [r[1:3] for r in email_rows] == [("pending", 1), ("pending", 1)]
    assert all(r[3] for r in email_rows)  # the error is recorded
    slack_statuses = sorted(r[1] for r in pending if r[0] == "slack")
    assert slack_statuses == ["pending", "sent"]  # the 500 is retried, the other went out

    with SMTPSink(port=port) as smtp:
        result = newswatch(config, "alerts", "send", "--now")
        assert result.exit_code == 0, result.output
        assert len(smtp.wait_for(2)) == 2
        assert len(hook.requests) == 3  # 500, then 2 delivered
        # Again: nothing left to send, nothing sent twice.
        assert newswatch(config, "alerts", "send", "--now").exit_code == 0
        assert len(smtp.messages) == 2 and len(hook.requests) == 3
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(set(ids)) == 2


def test_slack_429_retry_after_sets_next_attempt(tmp_path: Path, news_site: NewsSite,
                                                smtp: SMTPSink,
                                                hook: WebhookSink) -> None:
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    news_site.publish(BASELINE)
    newswatch(config, "crawl")
    news_site.publish(MOVED[:1])
    hook.fail_next(5, status=429, retry_after=120)
    newswatch(config, "crawl")
    waits = rows(tmp_path, "SELECT next_attempt, last_error FROM alerts "
                           "WHERE channel = 'slack' AND status = 'pending'")
    assert waits, "the 429 leaves the alerts pending"
    for next_attempt, error in waits:
        delay = datetime.fromisoformat(next_attempt) - datetime.now(UTC)
        assert delay.total_seconds() > 100  # Retry-After: 120 is honoured
        assert "429" in error


class KillingSMTPSink(SMTPSink):
    """Receives the message, then kills the sender before answering 250."""

    victim: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return answer


def test_kill_between_sending_and_recording_sends_no_duplicate(
    tmp_path: Path, news_site: NewsSite, hook: WebhookSink
) -> None:
    with KillingSMTPSink() as smtp:
        config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
        news_site.publish(BASELINE)
        assert newswatch(config, "crawl").exit_code == 0
        news_site.publish(MOVED[:1])
        # Crawl without delivering: alerts are queued in the outbox.
        smtp_stop_port = smtp.port
        smtp.stop()
        newswatch(config, "crawl")
        smtp.port = smtp_stop_port
        smtp.start()
        queued = rows(tmp_path, "SELECT count(*) FROM alerts WHERE channel = 'email' "
                                "AND status = 'pending'")[0][0]
        assert queued == 2
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), "alerts", "send", "--now"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        smtp.victim = proc.pid
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert len(smtp.messages) == 1
        states = rows(tmp_path, "SELECT status FROM alerts WHERE channel = 'email' ORDER BY id")
        assert sorted(s for (s,) in states) == ["pending", "sending"]

        # The next run delivers the other alert, and does not resend the ambiguous one.
        result = newswatch(config, "alerts", "send", "--now")
        assert result.exit_code == 0, result.output
        assert len(smtp.wait_for(2)) == 2
        subjects = [m["Subject"] for m in smtp.messages]
        assert len(set(subjects)) == 2
        states = rows(tmp_path, "SELECT status FROM alerts WHERE channel = 'email' ORDER BY id")
        assert sorted(s for (s,) in states) == ["sent", "unknown"]
        # The user may decide to send the ambiguous one again.
        again = newswatch(config, "alerts", "send", "--resend-unknown")
        assert again.exit_code == 0 and "queued again: 1 alert(s)" in again.output
        assert len(smtp.wait_for(3)) == 3
        states = rows(tmp_path, "SELECT status FROM alerts WHERE channel = 'email'")
        assert {s for (s,) in states} == {"sent"}


def test_failed_alerts_can_be_queued_again(tmp_path: Path, news_site: NewsSite,
                                          hook: WebhookSink) -> None:
    port = free_port()
    config = alerting_config(tmp_path, news_site, port, hook.url)
    config.write_text(config.read_text().replace("attempts: 4", "attempts: 1"))
    news_site.publish(BASELINE)
    newswatch(config, "crawl")
    news_site.publish(MOVED[:1])
    newswatch(config, "crawl")  # SMTP is down: one attempt allowed, the alerts give up
    assert rows(tmp_path, "SELECT DISTINCT status FROM alerts WHERE channel = 'email'") == [
        ("failed",)]
    with SMTPSink(port=port) as smtp:
        assert newswatch(config, "alerts", "send", "--now").exit_code == 0
        assert smtp.messages == []  # failed alerts stay failed...
        result = newswatch(config, "alerts", "send", "--retry-failed")
        assert result.exit_code == 0, result.output  # ...until queued again
        assert len(smtp.wait_for(2)) == 2


def _store(archive: Any, config: Any, url: str, published: str, text: str) -> None:
    from crawler.extraction.analysis import fact_rows, matching_stories

    stories = matching_stories(None, text, config.stories)
    archive.store(AnalyzedReport(url=url, source="news", title=url, text=text,
                                 published=published, stories=tuple(s.name for s in stories),
                                 facts=tuple(fact_rows(text, published, stories))))


def test_one_report_with_old_and_new_figure(tmp_path: Path) -> None:
    """'From about 2,500 to fewer than 2,000': a change when current is ~2,500, history after."""
    from crawler.archive.store import Archive
    from crawler.changes.detector import detect_changes
    from crawler.config.model import load_config

    (tmp_path / "config.yaml").write_text(
        "sources: [{name: news, type: feed, url: 'http://127.0.0.1/feed'}]\n"
        "stories:\n  - name: s\n    match: {all: [Iraq]}\n    trackers:\n"
        "      - {name: us-troops-iraq, kind: troops, about: [Iraq], not_about: [Syria]}\n"
        "changes: {confirm: {voices: 1}}\n")  # one voice confirms: the rule is not tested here
    config = load_config(tmp_path / "config.yaml")
    archive = Archive.open(config.archive)
    _store(archive, config, "http://x/1", "2024-09-06",
           "The United States has approximately 2,500 troops in Iraq.")
    _store(archive, config, "http://x/2", "2025-10-01",
           "The drawdown in Iraq goes from about 2,500 to fewer than 2,000 troops.")
    found = [(d.type, d.old_display, d.new_display) for d in detect_changes(archive, config)]
    assert found == [("baseline", None, "~2,500"), ("change", "~2,500", "<2,000")]
    # Later reports recalling the move carry no stale copy: the old figure is history.
    _store(archive, config, "http://x/3", "2025-10-05",
           "Troops in Iraq were cut from about 2,500 to fewer than 2,000 this month.")
    assert detect_changes(archive, config) == []
    # A revision replacing the upper bound is compared with the upper bound.
    _store(archive, config, "http://x/2", "2025-10-01",
           "The drawdown in Iraq goes from about 2,500 to fewer than 1,500 troops.")
    found = [(d.type, d.old_display, d.new_display) for d in detect_changes(archive, config)]
    assert found == [("revision", "<2,000", "<1,500")]
    archive.close()


def test_alerts_test_command_uses_the_real_channels(tmp_path: Path, news_site: NewsSite,
                                                     smtp: SMTPSink, hook: WebhookSink) -> None:
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    result = newswatch(config, "alerts", "test")
    assert result.exit_code == 0, result.output
    assert "email: sent" in result.output and "slack: sent" in result.output
    assert smtp.wait_for(1)[0]["Subject"].startswith("[test] ")
    assert len(hook.requests) == 1

    only = newswatch(config, "alerts", "test", "slack")
    assert only.exit_code == 0 and len(hook.requests) == 2 and len(smtp.messages) == 1

    unknown = newswatch(config, "alerts", "test", "pager")
    assert unknown.exit_code == 2
    assert "unknown channel 'pager'; configured: email, slack" in unknown.output

    hook.fail_next(1, status=500)
    failing = newswatch(config, "alerts", "test", "slack")
    assert failing.exit_code == 1
    assert "slack: FAILED" in failing.output
    assert hook.url not in failing.output  # the webhook URL is a secret


def _detector_config(tmp_path: Path, changes: str = "") -> Any:
    """A config whose changes alert on one voice (the confirmation rule has its own tests);
    ``changes``: more keys of the `changes` section, e.g. "alert_conflicts: true"."""
    from crawler.config.model import load_config

    (tmp_path / "config.yaml").write_text(
        "sources: [{name: news, type: feed, url: 'http://127.0.0.1/feed'}]\n"
        "stories:\n  - name: s\n    match: {all: [Iraq]}\n    trackers:\n"
        "      - {name: us-troops-iraq, kind: troops, about: [Iraq], not_about: [Syria]}\n"
        "      - {name: coalition-end, kind: timeline, about: [coalition], cues: [end]}\n"
        "alerts: {mailbox: box.mbox}\n"
        f"changes: {{confirm: {{voices: 1}}{', ' + changes if changes else ''}}}\n")
    return load_config(tmp_path / "config.yaml")


def _outcomes(archive: Any, config: Any) -> list[tuple[str, str | None, str, int]]:
    from crawler.changes.detector import detect_changes

    return [(d.type, d.old_display, d.new_display, d.alerts)
            for d in detect_changes(archive, config)]


def test_detector_edge_cases(tmp_path: Path) -> None:
    """Cases from review: revisions, backfill, refinements, repeated conflicts, fallbacks."""
    from crawler.archive.store import Archive

    config = _detector_config(tmp_path, "alert_conflicts: true")
    archive = Archive.open(config.archive)
    # A first pass over history records changes without alerting them (backfill).
    _store(archive, config, "http://b/1", "2024-09-06",
           "The United States has approximately 2,500 troops in Iraq.")
    _store(archive, config, "http://a/1", "2024-12-01",
           "The United States has about 2,400 troops in Iraq.")
    assert _outcomes(archive, config) == [("baseline", None, "~2,500", 0)]  # 2,400: same
    _store(archive, config, "http://c/1", "2025-01-10",
           "The United States now keeps fewer than 2,000 troops in Iraq.")
    assert _outcomes(archive, config) == [("change", "~2,500", "<2,000", 1)]
    # B edits its old article to the value already alerted: no second alert.
    _store(archive, config, "http://b/1", "2024-09-06",
           "The United States now keeps fewer than 2,000 troops in Iraq.")
    assert _outcomes(archive, config) == []
    # Another outlet's estimate inside the bound is the same drawdown, not news.
    _store(archive, config, "http://d/1", "2025-01-11",
           "About 1,900 US troops remain in Iraq.")
    assert _outcomes(archive, config) == []
    # Two stale copies of the old figure: one conflict (alerted, as configured), not two.
    for url in ("http://e/1", "http://f/1"):
        _store(archive, config, url, "2025-01-12",
               "The United States has approximately 2,500 troops in Iraq.")
    assert _outcomes(archive, config) == [("conflict", "<2,000", "~2,500", 1)]
    # A feed summary standing in for a failed page is not a revision of the page.
    archive.store(AnalyzedReport(url="http://c/1", source="news", text="Iraq: short summary.",
                                 via="feed", stories=("s",), facts=()))
    assert archive.scalar("SELECT count(*) FROM versions v JOIN documents d "
                          "ON d.id = v.document_id WHERE d.url = 'http://c/1'") == 1
    archive.close()


def test_timeline_refinement_then_move(tmp_path: Path) -> None:
    from crawler.archive.store import Archive

    config = _detector_config(tmp_path)
    archive = Archive.open(config.archive)
    _store(archive, config, "http://a/1", "2025-01-01",
           "The coalition mission in Iraq will end in 2026.")
    assert _outcomes(archive, config) == [("baseline", None, "2026", 0)]
    _store(archive, config, "http://b/1", "2025-02-01",
           "The coalition mission in Iraq will end by September 2026.")
    assert _outcomes(archive, config) == [("refinement", "2026", "Sep 2026", 0)]
    _store(archive, config, "http://c/1", "2025-03-01",
           "The coalition mission in Iraq will now end by December 2026.")
    assert _outcomes(archive, config) == [("change", "Sep 2026", "Dec 2026", 1)]
    archive.close()


def test_revisions_off_still_alert_the_change(tmp_path: Path) -> None:
    from crawler.archive.store import Archive

    config = _detector_config(tmp_path, "revisions: false")
    archive = Archive.open(config.archive)
    _store(archive, config, "http://a/1", "2025-01-01",
           "The United States has approximately 2,500 troops in Iraq.")
    _outcomes(archive, config)
    _store(archive, config, "http://a/1", "2025-01-01",
           "The United States now keeps fewer than 2,000 troops in Iraq.")
    assert _outcomes(archive, config) == [("change", "~2,500", "<2,000", 1)]
    archive.close()


def P(x: str) -> str:
    return f"The United States now keeps {x} troops in Iraq."


def T(x: str) -> str:
    return f"The coalition mission in Iraq will end {x}."


def _passes(tmp_path: Path, steps: list[list[tuple[str, str, str]]], changes: str = ""
            ) -> list[list[tuple[str, str | None, str, int]]]:
    """Store each step's reports (url, date, text) and run detection after each step."""
    from crawler.archive.store import Archive

    config = _detector_config(tmp_path, changes)
    archive = Archive.open(config.archive)
    out = []
    for step in steps:
        for url, day, text in step:
            _store(archive, config, url, day, text)
        out.append(_outcomes(archive, config))
    archive.close()
    return out


def test_edit_of_an_older_article_to_a_new_value_is_a_revision(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", P("approximately 2,500"))],
        [("http://b/1", "2025-02-01", P("fewer than 2,000"))],
        [("http://c/1", "2025-03-01", P("fewer than 1,500"))],
        [("http://b/1", "2025-02-01", P("fewer than 1,000"))],
    ])
    assert out[3] == [("revision", "<2,000", "<1,000", 1)]


def test_a_correction_withdrawing_the_current_value_is_a_revision(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", P("approximately 2,500"))],
        [("http://b/1", "2025-02-01",
          "US troops in Iraq go from about 2,500 to fewer than 2,000 troops.")],
        [("http://b/1", "2025-02-01", P("about 2,500"))],
    ])
    assert out[1] == [("change", "~2,500", "<2,000", 1)]
    assert out[2] == [("revision", "<2,000", "~2,500", 1)]


def test_from_x_to_y_alerts_only_the_new_figure(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", P("approximately 3,000"))],
        [("http://b/1", "2025-02-01",
          "US troops in Iraq go from about 2,500 to fewer than 2,000 troops.")],
    ])
    assert out[1] == [("change", "~3,000", "<2,000", 1)]


def test_stale_copies_must_repeat_an_old_value_in_the_same_form(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", P("approximately 2,500"))],
        [("http://b/1", "2025-02-01", P("fewer than 2,000"))],
        [("http://c/1", "2025-03-01", P("approximately 3,000"))],
        [("http://d/1", "2025-04-01", P("about 1,000"))],  # overlaps "<2,000": still news
        [("http://e/1", "2025-05-01", P("about 300"))],  # far below the bound: news
    ])
    assert out[3] == [("change", "~3,000", "~1,000", 1)]
    assert out[4] == [("change", "~1,000", "~300", 1)]


def test_one_conflict_per_stale_value_across_refinements(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", T("in 2026"))],
        [("http://b/1", "2025-02-01", T("in 2027"))],
        [("http://c/1", "2025-03-01", T("in 2026"))],
        [("http://d/1", "2025-04-01", T("by June 2027"))],
        [("http://e/1", "2025-05-01", T("in 2026"))],
    ], "alert_conflicts: true")
    assert out[2] == [("conflict", "2027", "2026", 1)]
    assert out[3] == [("refinement", "2027", "Jun 2027", 0)]
    assert out[4] == []  # the same stale "2026" again: a corroboration of that conflict


def test_an_older_report_does_not_refine_the_current_value(tmp_path: Path) -> None:
    out = _passes(tmp_path, [
        [("http://a/1", "2025-01-01", T("by September 2025"))],
        [("http://b/1", "2025-03-01", T("in 2026"))],
        [("http://c/1", "2025-02-01", T("by June 2026"))],  # arrives late, dated earlier
        [("http://d/1", "2025-02-15", T("by December 2025"))],
    ])
    assert out[2] == []  # corroborates "2026", does not become the current value
    assert out[3] == [("conflict", "2026", "Dec 2025", 0)]


def test_a_sources_first_crawl_is_history_not_alerts(tmp_path: Path, news_site: NewsSite,
                                                     smtp: SMTPSink, hook: WebhookSink) -> None:
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    news_site.publish(BASELINE + MOVED)  # months of reports already in the feed
    assert newswatch(config, "crawl").exit_code == 0
    recorded = rows(tmp_path, "SELECT type, old_display, new_display FROM changes "
                              "WHERE type != 'baseline' ORDER BY id")
    assert ("change", "~2,500", "<2,000") in recorded
    assert rows(tmp_path, "SELECT count(*) FROM alerts") == [(0,)]
    assert smtp.messages == [] and hook.requests == []
    slug, date, title, body = MOVED[0]
    news_site.publish([("a9", "2025-11-01", "US cuts forces again",
                   body.replace("fewer than 2,000", "fewer than 1,200"))])
    assert newswatch(config, "crawl").exit_code == 0
    assert [m["Subject"] for m in smtp.wait_for(1)] == ["US troops in Iraq: <2,000 → <1,200"]


def test_an_edit_of_an_article_the_first_crawl_archived_alerts(
        tmp_path: Path, news_site: NewsSite, smtp: SMTPSink, hook: WebhookSink) -> None:
    """Only the facts a first crawl found are history; a later edit is news."""
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    news_site.publish(BASELINE + MOVED)
    assert newswatch(config, "crawl").exit_code == 0
    assert smtp.messages == []  # the first crawl: history
    slug, date, title, body = MOVED[0]
    news_site.edit(slug, date, title, body.replace("fewer than 2,000", "fewer than 1,500"))
    assert newswatch(config, "crawl").exit_code == 0
    mails = smtp.wait_for(1)
    assert [m["Subject"] for m in mails] == [
        "US troops in Iraq: article revised, <2,000 → <1,500"]
    assert "1,500" in mails[0].get_body(("plain",)).get_content()


def test_a_watched_page_alerts_every_edit_with_its_diff(tmp_path: Path, news_site: NewsSite,
                                                       smtp: SMTPSink, hook: WebhookSink
                                                       ) -> None:
    """A `page` source keeps the page monitor's promise: an edit of its text alerts."""
    body = "Opening hours of the embassy consular section: Monday to Thursday. " * 3
    news_site.server.publish("notice.html", f"<html><body><article><h1>Consular notice</h1>"
                                       f"<p>{body}</p><p>{body}</p></article></body></html>")
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    text = config.read_text().replace(
        "sources:\n", f"sources:\n  - {{name: notice, type: page, url: "
                      f"'{news_site.server.url}/notice.html', revisit: 0}}\n")
    config.write_text(text)
    assert newswatch(config, "crawl", "--source", "notice").exit_code == 0
    assert smtp.messages == []  # first crawl: the page's first version
    edited = body.replace("Thursday", "Friday")
    news_site.server.edit("notice.html", f"<html><body><article><h1>Consular notice</h1>"
                                    f"<p>{edited}</p><p>{body}</p></article></body></html>")
    assert newswatch(config, "crawl", "--source", "notice").exit_code == 0
    mails = smtp.wait_for(1)
    assert [m["Subject"] for m in mails] == ["Consular notice (notice): page revised"]
    text = mails[0].get_body(("plain",)).get_content()
    assert "Friday" in text and "/notice.html" in text
    assert len(hook.requests) == 1
    # an unchanged re-check is not an edit
    assert newswatch(config, "crawl", "--source", "notice").exit_code == 0
    assert len(smtp.messages) == 1


def _confirming_config(tmp_path: Path) -> Any:
    """The detector config with the default confirmation rule (two voices)."""
    from crawler.config.model import load_config

    (tmp_path / "config.yaml").write_text(
        "sources: [{name: news, type: feed, url: 'http://127.0.0.1/feed'}]\n"
        "stories:\n  - name: s\n    match: {all: [Iraq]}\n    trackers:\n"
        "      - {name: us-troops-iraq, kind: troops, place: Iraq}\n"
        "alerts: {mailbox: box.mbox}\n")
    return load_config(tmp_path / "config.yaml")


def test_an_edit_of_an_unconfirmed_statement_is_a_new_statement(tmp_path: Path) -> None:
    """One outlet editing its own unconfirmed figure neither moves the tracker nor counts
    twice."""
    from crawler.archive.store import Archive

    config = _confirming_config(tmp_path)
    archive = Archive.open(config.archive)
    _store(archive, config, "http://dod.example/0", "2025-01-10",
           "The United States has approximately 2,500 troops in Iraq, officials said.")
    assert _outcomes(archive, config) == [("baseline", None, "~2,500", 0)]
    _store(archive, config, "http://a.example/1", "2025-02-01",
           "The US now has about 2,000 troops in Iraq.")
    assert _outcomes(archive, config) == [("change", "~2,500", "~2,000", 0)]  # unconfirmed
    _store(archive, config, "http://a.example/1", "2025-02-01",
           "The US now has about 1,800 troops in Iraq.")
    found = detect_changes_rows(archive, config)
    assert found == [("change", "unconfirmed", "~2,500", "~1,800", 0)]
    archive.close()


def detect_changes_rows(archive: Any, config: Any) -> list[tuple[Any, ...]]:
    from crawler.changes.detector import detect_changes

    return [(d.type, d.status, d.old_display, d.new_display, d.alerts)
            for d in detect_changes(archive, config)]


def test_a_pass_killed_half_way_through_history_stays_history(tmp_path: Path) -> None:
    from crawler.archive.changes import ChangeStore
    from crawler.archive.store import Archive

    config = _detector_config(tmp_path)
    archive = Archive.open(config.archive)
    _store(archive, config, "http://a/1", "2024-09-06",
           "The United States has approximately 2,500 troops in Iraq.")
    _store(archive, config, "http://b/1", "2025-01-10",
           "The United States now keeps fewer than 2,000 troops in Iraq.")
    original = ChangeStore.record
    calls = []

    def killed_after_the_baseline(self: Any, *args: Any, **kwargs: Any) -> int:
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(1)
        return original(self, *args, **kwargs)

    ChangeStore.record = killed_after_the_baseline  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            _outcomes(archive, config)
    finally:
        ChangeStore.record = original  # type: ignore[method-assign]
    # the next pass finishes the history: recorded, not alerted
    assert _outcomes(archive, config) == [("change", "~2,500", "<2,000", 0)]
    _store(archive, config, "http://c/1", "2025-03-01",
           "The United States now keeps fewer than 1,500 troops in Iraq.")
    assert _outcomes(archive, config) == [("change", "<2,000", "<1,500", 1)]  # news
    archive.close()


def test_a_failed_first_run_does_not_end_the_first_crawl(tmp_path: Path) -> None:
    """A source whose first run failed gets its backlog in the second: still history."""
    from crawler.archive.store import Archive, RunCounts

    config = _detector_config(tmp_path)
    archive = Archive.open(config.archive)
    failed = archive.start_run("news")
    archive.finish_run(failed, "news", RunCounts(errors=1), ["cannot resolve the host"])
    backlog = archive.start_run("news")
    for url, day, figure in (("http://a/1", "2024-09-06", "approximately 2,500"),
                             ("http://b/1", "2025-01-10", "fewer than 2,000")):
        text = f"The United States now keeps {figure} troops in Iraq."
        from crawler.extraction.analysis import fact_rows, matching_stories

        stories = matching_stories(None, text, config.stories)
        archive.store(AnalyzedReport(url=url, source="news", title=url, text=text,
                                     published=day, run_id=backlog, stories=("s",),
                                     facts=tuple(fact_rows(text, day, stories))))
    archive.finish_run(backlog, "news", RunCounts(fetched=2, new_documents=2), [])
    assert _outcomes(archive, config) == [("baseline", None, "~2,500", 0),
                                          ("change", "~2,500", "<2,000", 0)]
    archive.close()


def test_a_watched_page_edit_that_moves_a_tracked_fact_alerts_once(
        tmp_path: Path, news_site: NewsSite, smtp: SMTPSink, hook: WebhookSink) -> None:
    def page(figure: str) -> str:
        body = (f"The United States has {figure} troops in Iraq, a senior defense official "
                f"said. " + FILLER)
        return (f"<html><body><article><h1>US posture in Iraq</h1><p>{body}</p>"
                f"<p>{FILLER}</p></article></body></html>")

    news_site.server.publish("posture.html", page("approximately 2,500"))
    config = alerting_config(tmp_path, news_site, smtp.port, hook.url)
    config.write_text(config.read_text().replace(
        "sources:\n", f"sources:\n  - {{name: posture, type: page, url: "
                      f"'{news_site.server.url}/posture.html', revisit: 0}}\n"))
    assert newswatch(config, "crawl", "--source", "posture").exit_code == 0
    news_site.server.edit("posture.html", page("fewer than 2,000"))
    assert newswatch(config, "crawl", "--source", "posture").exit_code == 0
    mails = smtp.wait_for(1)
    assert [m["Subject"] for m in mails] == [
        "US troops in Iraq: article revised, ~2,500 → <2,000"]  # not a second "page revised"
    assert len(hook.requests) == 1
