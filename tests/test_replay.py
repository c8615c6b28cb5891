"""`newswatch replay`: backtest trackers on dated reports, and the confirmation rule."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from newssite import NewsSite

from crawler.cli.main import cli

STORY = """stories:
  - name: us-iraq
    match: {all: [Iraq]}
    trackers:
      - {name: us-troops-iraq, label: US troops in Iraq, kind: troops, place: Iraq}
"""


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"archive: {tmp_path / 'archive.db'}\n"
                    "sources: [{name: news, type: feed, url: 'http://127.0.0.1:9/feed'}]\n"
                    + STORY + extra, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _replay(config: Path, file: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "replay", str(file),
                                      "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


OFFICIAL = {"url": "https://dod.example/1", "date": "2025-01-10", "source": "DoD",
            "source_type": "official", "title": "Posture in Iraq",
            "text": "The United States has approximately 2,500 troops in Iraq."}


def test_one_outlet_is_held_a_second_one_confirms_once(tmp_path: Path) -> None:
    rows = [
        OFFICIAL,
        {"url": "https://wire-a.example/x", "date": "2025-02-01", "outlet": "Wire A",
         "title": "US cuts forces", "sentence": "The US now has about 2,000 troops in Iraq."},
        # the same wire text reprinted elsewhere: one voice, not confirmation
        {"url": "https://reprints.example/x", "date": "2025-02-02", "outlet": "Reprints",
         "source_type": "news-reprint", "title": "US cuts forces",
         "sentence": "The US now has about 2,000 troops in Iraq."},
        # an independent outlet with its own words confirms: one alert
        {"url": "https://daily-b.example/y", "date": "2025-02-03", "outlet": "Daily B",
         "title": "Drawdown", "text": "Roughly 2,000 U.S. troops remain in Iraq today."},
        {"url": "https://daily-c.example/z", "date": "2025-02-04", "outlet": "Daily C",
         "title": "Drawdown", "text": "Some 2,000 American troops are in Iraq."},
        # a stale copy of the old figure: a conflict, never an alert
        {"url": "https://old-news.example/s", "date": "2025-03", "outlet": "Old News",
         "title": "Background", "text": "The United States has approximately 2,500 troops "
                                        "in Iraq."},
        {"url": "https://undated.example/u", "date": None, "outlet": "Undated",
         "text": "The United States has 900 troops in Iraq."},
    ]
    config = _config(tmp_path)
    every = _replay(config, _jsonl(tmp_path / "r.jsonl", rows), "--all")
    outcome = [(r["date"], r["type"], r["status"], r["old"], r["new"], r["alerted"])
               for r in every]
    assert outcome == [
        ("2025-01-10", "baseline", "confirmed", None, "~2,500", False),
        ("2025-02-01", "change", "unconfirmed", "~2,500", "~2,000", False),
        ("2025-02-03", "change", "confirmed", "~2,500", "~2,000", True),
        ("2025-03-15", "conflict", "confirmed", "~2,000", "~2,500", False),  # month → 15th
    ]
    alerts = _replay(config, tmp_path / "r.jsonl")
    assert [(a["date"], a["new"], a["outlet"]) for a in alerts] == [
        ("2025-02-03", "~2,000", "Daily B")]


def test_an_official_voice_confirms_alone_unless_the_jump_is_implausible(tmp_path: Path
                                                                         ) -> None:
    rows = [
        OFFICIAL,
        {"url": "https://wire.example/1", "date": "2025-05-01", "outlet": "Wire",
         "text": "The U.S. now keeps fewer than 2,000 troops in Iraq, a senior defense "
                 "official said."},
        {"url": "https://wire.example/2", "date": "2025-06-01", "outlet": "Wire",
         "text": "The United States has 40,000 troops in Iraq, a Pentagon spokesman said."},
    ]
    every = _replay(_config(tmp_path), _jsonl(tmp_path / "r.jsonl", rows), "--all")
    assert [(r["type"], r["status"], r["new"], r["alerted"]) for r in every] == [
        ("baseline", "confirmed", "~2,500", False),
        ("change", "confirmed", "<2,000", True),  # attributed to an official
        ("change", "unconfirmed", "40,000", False),  # 20x: needs a second voice
    ]


def test_confirmation_window_is_measured_in_report_dates(tmp_path: Path) -> None:
    rows = [
        OFFICIAL,
        {"url": "https://a.example/1", "date": "2025-02-01", "outlet": "A",
         "text": "The US now has about 2,000 troops in Iraq."},
        {"url": "https://b.example/1", "date": "2025-04-01", "outlet": "B",
         "text": "Roughly 2,000 U.S. troops remain in Iraq."},
    ]
    every = _replay(_config(tmp_path, "changes: {confirm: {window: 30d}}\n"),
                    _jsonl(tmp_path / "r.jsonl", rows), "--all")
    # two months apart: two unconfirmed changes, no alert
    assert [(r["status"], r["alerted"]) for r in every[1:]] == [
        ("unconfirmed", False), ("unconfirmed", False)]


def test_replay_reports_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": "https://a/1", "date": "2025-01-01"}\nnot json\n')
    result = CliRunner().invoke(cli, ["--config", str(_config(tmp_path)), "replay", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl line 2: not JSON" in result.output and "Traceback" not in result.output




def test_a_crawl_and_a_replay_of_the_same_reports_write_the_same_changes(
        tmp_path: Path, news_site: NewsSite) -> None:
    reports = [
        ("r1", "2025-01-10", "US posture in Iraq",
         "The United States has approximately 2,500 troops in Iraq, officials said."),
        ("r2", "2025-02-01", "US cuts forces in Iraq",
         "The US now has about 2,000 troops in Iraq."),
        ("r3", "2025-02-03", "Drawdown under way in Iraq",
         "Fewer than 2,000 U.S. troops will stay in Iraq, a senior defense official said."),
        ("r4", "2025-03-01", "Background on Iraq",
         "The United States has approximately 2,500 troops in Iraq."),
    ]
    news_site.publish(reports)
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"archive: {tmp_path / 'crawl.db'}\n"
        f"crawl: {{timeout: 2, retries: 0, autothrottle: false, extract_workers: 1, "
        f"cache_dir: {tmp_path / 'cache'}}}\n"
        f"sources: [{{name: news, type: feed, url: '{news_site.server.url}/feed.xml'}}]\n"
        + STORY,
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "crawl"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the replay reads the same texts the crawl archived, dated and linked the same way
    with sqlite3.connect(tmp_path / "crawl.db") as conn:
        texts = dict(conn.execute("SELECT d.url, v.text FROM documents d "
                                  "JOIN versions v ON v.id = d.current_version"))
    rows = [{"url": f"{news_site.server.url}/news/{slug}.html", "date": day, "source": "news",
             "title": title, "text": texts[f"{news_site.server.url}/news/{slug}.html"]}
            for slug, day, title, _ in reports]
    _replay(_config(tmp_path), _jsonl(tmp_path / "r.jsonl", rows), "--keep",
            str(tmp_path / "kept"))
    sql = ("SELECT c.tracker, c.type, coalesce(c.status, 'confirmed'), c.old_value, "
           "c.new_value, d.url FROM changes c JOIN facts f ON f.id = c.new_fact_id "
           "JOIN documents d ON d.id = f.document_id ORDER BY c.id")
    with sqlite3.connect(tmp_path / "crawl.db") as a, \
            sqlite3.connect(tmp_path / "kept" / "replay.db") as b:
        crawled, replayed = a.execute(sql).fetchall(), b.execute(sql).fetchall()
    assert len(crawled) >= 3
    assert crawled == replayed


# ---------------------------------------------------------------- review cases

def R(url: str, date: str, text: str, source_type: str = "news") -> dict[str, Any]:
    return {"url": url, "date": date, "outlet": url.split("/")[2], "source_type": source_type,
            "title": "Iraq", "text": text}


def _outcome(tmp_path: Path, rows: list[dict[str, Any]], extra: str = "",
             story: str = STORY) -> list[tuple[Any, ...]]:
    path = tmp_path / "config.yaml"
    path.write_text(f"archive: {tmp_path / 'archive.db'}\n"
                    "sources: [{name: news, type: feed, url: 'http://127.0.0.1:9/feed'}]\n"
                    + story + extra, encoding="utf-8")
    every = _replay(path, _jsonl(tmp_path / "r.jsonl", rows), "--all")
    return [(r["type"], r["status"], r["old"], r["new"], r["alerted"]) for r in every]


BASE = R("https://dod.example/0", "2025-01-10",
         "The United States has approximately 2,500 troops in Iraq.", "official")


def test_a_late_report_of_a_value_never_held_does_not_block_it(tmp_path: Path) -> None:
    out = _outcome(tmp_path, [
        BASE,
        R("https://dod.example/1", "2025-03-01", "The US now has about 1,500 troops in Iraq.",
          "official"),
        R("https://late.example/1", "2025-02-20", "The US has about 1,000 troops in Iraq."),
        R("https://dod.example/2", "2025-06-01", "The US now has about 1,000 troops in Iraq.",
          "official"),
    ])
    # (the replay sorts by date: the late report comes second, as an unconfirmed change)
    assert out[-1] == ("change", "confirmed", "~1,500", "~1,000", True)


def test_a_pending_change_survives_a_refinement(tmp_path: Path) -> None:
    story = STORY.replace("{name: us-troops-iraq, label: US troops in Iraq, kind: troops, "
                          "place: Iraq}", "{name: end, kind: timeline}")
    text = "The coalition mission in Iraq will end {}."
    out = _outcome(tmp_path, [
        R("https://dod.example/0", "2025-01-10", text.format("in 2026"), "official"),
        R("https://a.example/1", "2025-01-12", text.format("in 2027")),
        R("https://b.example/1", "2025-01-13", text.format("by September 2026"), "official"),
        R("https://c.example/1", "2025-01-14", "Coalition forces will end their mission in "
                                               "Iraq by 2027, diplomats expect."),
    ], story=story)
    assert [o[:2] for o in out] == [("baseline", "confirmed"), ("change", "unconfirmed"),
                                    ("refinement", "confirmed"), ("change", "confirmed")]
    assert out[-1] == ("change", "confirmed", "Sep 2026", "2027", True)


def test_a_confirmed_change_is_from_the_value_held_then(tmp_path: Path) -> None:
    out = _outcome(tmp_path, [
        BASE,
        R("https://a.example/1", "2025-02-01", "The US now has about 2,000 troops in Iraq."),
        R("https://b.example/1", "2025-02-02", "Only about 1,500 US troops are in Iraq now."),
        R("https://c.example/1", "2025-02-03", "Roughly 2,000 American troops remain in Iraq."),
        R("https://d.example/1", "2025-02-04", "Some 1,500 U.S. troops are now in Iraq."),
    ])
    alerts = [o for o in out if o[4]]
    assert alerts == [("change", "confirmed", "~2,500", "~2,000", True),
                      ("change", "confirmed", "~2,000", "~1,500", True)]


def test_the_window_counts_from_any_statement(tmp_path: Path) -> None:
    out = _outcome(tmp_path, [
        BASE,
        R("https://a.example/1", "2025-02-01", "The US now has about 2,000 troops in Iraq."),
        R("https://a.example/2", "2025-02-12", "About 2,000 US troops remain in Iraq, it said."),
        R("https://b.example/1", "2025-02-20", "Roughly 2,000 American troops are in Iraq."),
    ])
    assert out[-1] == ("change", "confirmed", "~2,500", "~2,000", True)


def test_a_looser_bound_that_holds_the_current_value_is_not_news(tmp_path: Path) -> None:
    out = _outcome(tmp_path, [
        BASE,
        R("https://dod.example/1", "2025-02-01", "The US has fewer than 5,000 troops in Iraq.",
          "official"),
        R("https://dod.example/2", "2025-03-01", "The US has fewer than 2,000 troops in Iraq.",
          "official"),
    ])
    assert out == [("baseline", "confirmed", None, "~2,500", False),
                   ("change", "confirmed", "~2,500", "<2,000", True)]


def test_one_report_stating_two_values_moves_nothing(tmp_path: Path) -> None:
    out = _outcome(tmp_path, [
        BASE,
        R("https://dod.example/1", "2025-02-01", "The US has about 2,000 troops in Iraq.\n"
          "Officials later said the US has about 1,500 troops in Iraq.", "official"),
    ])
    assert out == [("baseline", "confirmed", None, "~2,500", False)]


@pytest.mark.parametrize("a,b,same", [
    ("https://edition.cnn.com/1", "https://www.cnn.com/2", True),
    ("https://news.bbc.co.uk/1", "https://www.bbc.co.uk/2", True),
    ("https://www.rudaw.net/1", "https://www.kurdistan24.net/2", False),
    ("http://127.0.0.1:8000/1", "http://127.0.0.2:8000/2", False),
])
def test_one_outlet_is_one_registered_domain(a: str, b: str, same: bool) -> None:
    from crawler.changes.rules import outlet

    assert (outlet(a) == outlet(b)) is same
