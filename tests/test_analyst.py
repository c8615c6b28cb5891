"""What an analyst sees: trackers, facts history's chart, the HTML report, the browse
tracker pages, tables that fit the terminal, and unknown names as errors.

The archive is built through the real detector (``newswatch replay``'s code) from dated
reports, so change rows, confirmations, conflicts and corroborations are the ones a
crawl would write.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from analyst_archive import build_archive
from click.testing import CliRunner, Result
from support.terminal import on_a_terminal

from crawler.cli import output
from crawler.cli.main import cli

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("analyst"))


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-q", "--config", str(config), *args],
                              catch_exceptions=False)


def jsonl(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def tsv(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(result.stdout.splitlines(), delimiter="\t",
                               quoting=csv.QUOTE_NONE))


def db_rows(config: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(config.parent / "archive.db") as conn:
        return conn.execute(sql, params).fetchall()


# ---------------------------------------------------------------- trackers


def test_trackers_current_value_since_sources_and_what_waits(config: Path) -> None:
    rows = {r["tracker"]: r for r in jsonl(run(config, "trackers", "--json"))}
    assert list(rows) == ["us-troops-iraq", "coalition-end"]  # config order
    troops = rows["us-troops-iraq"]
    # the latest report says ~1,500 and stale copies say ~2,500: neither is the value
    assert (troops["value"], troops["since"], troops["set_by"]) == ("~2,000", "2025-02-01",
                                                                   "change")
    assert troops["sources"] == 3 and troops["official"] == "no"
    assert troops["outlets"] == ["daily-b.example", "daily-c.example", "wire-a.example"]
    assert [(p["display"], p["since"], p["voices"]) for p in troops["pending"]] == [
        ("~1,500", "2025-04-01", 1)]
    assert [(c["display"], c["since"], c["reports"]) for c in troops["conflicts"]] == [
        ("~2,500", "2025-03-01", 2)]
    assert troops["label"] == "US troops in Iraq" and troops["last_report"] == "2025-04-01"
    # the same current value as the detector's own rule: the newest confirmed value row
    newest = db_rows(config, "SELECT new_display FROM changes WHERE tracker = ? AND type IN "
                             "('baseline','change','revision','refinement') AND "
                             "coalesce(status,'confirmed') = 'confirmed' ORDER BY id DESC "
                             "LIMIT 1", "us-troops-iraq")
    assert newest == [("~2,000",)]
    end = rows["coalition-end"]
    assert (end["value"], end["official"], end["sources"]) == ("Sep 2026", "attributed", 1)
    assert end["pending"] == [] and end["conflicts"] == []
    table = tsv(run(config, "trackers"))
    assert table[0]["value"] == "~2,000" and table[0]["pending"].startswith("~1,500 (1 source")
    only = jsonl(run(config, "trackers", "--tracker", "coalition-end", "--json"))
    assert [r["tracker"] for r in only] == ["coalition-end"]


def test_a_configured_tracker_without_facts_has_no_value_yet(config: Path, tmp_path: Path
                                                             ) -> None:
    text = config.read_text(encoding="utf-8").replace(
        "      - {name: us-troops-iraq", "      - {name: members, kind: members}\n"
        "      - {name: us-troops-iraq")
    other = tmp_path / "config.yaml"
    other.write_text(text, encoding="utf-8")
    rows = {r["tracker"]: r for r in jsonl(run(other, "trackers", "--json"))}
    assert rows["members"]["value"] is None and rows["members"]["statements"] == 0
    assert tsv(run(other, "trackers"))[0]["value"] == "(no value yet)"


# ---------------------------------------------------------------- facts history


def test_facts_history_marks_stale_copies_and_unconfirmed(config: Path) -> None:
    rows = jsonl(run(config, "facts", "history", "us-troops-iraq", "--json"))
    assert [(r["published"], r["display"], r["status"]) for r in rows] == [
        ("2025-01-10", "~2,500", "value"), ("2025-01-20", "~2,500", "value"),
        ("2025-02-01", "~2,000", "value"), ("2025-02-03", "~2,000", "value"),
        ("2025-02-04", "~2,000", "value"), ("2025-03-01", "~2,500", "stale"),
        ("2025-03-05", "~2,500", "stale"), ("2025-04-01", "~1,500", "pending")]
    marks = [r["change"] for r in tsv(run(config, "facts", "history", "us-troops-iraq"))]
    assert marks[5:] == ["stale copy (conflict; current ~2,000)", "stale copy",
                         "change from ~2,000 (unconfirmed)"]


def test_facts_history_chart_ends_at_the_current_value(config: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "120")
    result = run(config, "facts", "history", "us-troops-iraq")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    chart = lines[lines.index("timeline") + 1:]
    assert chart[0].startswith("2025-01-10") and "~2,500" in chart[0] and "2 reports" in chart[0]
    assert chart[1].startswith("2025-02-01") and "~2,000" in chart[1]
    assert "(current, 3 sources)" in chart[1] and "━" in chart[1]
    # what the latest reports say is listed beside the value, not drawn as it
    assert chart[2].startswith("2025-04-01") and "~1,500" in chart[2]
    assert "unconfirmed change: 1 report, 1 source" in chart[2]
    assert chart[3].startswith("2025-03-01") and "~2,500" in chart[3]
    assert "stale copy of an older value: 2 reports" in chart[3]
    assert len(chart) == 4


# ---------------------------------------------------------------- unknown names


@pytest.mark.parametrize("args, message", [
    (["search", "troops", "--source", "nosuch"],
     "unknown source 'nosuch'; configured sources: news (also in the archive: Daily B, "
     "Daily C, DoD, Old News, Reprints, Wire A)"),
    (["search", "troops", "--story", "nosuch"],
     "unknown story 'nosuch'; configured stories: us-iraq"),
    (["changes", "--tracker", "nosuch"],
     "unknown tracker 'nosuch'; configured trackers: coalition-end, us-troops-iraq"),
    (["changes", "--story", "nosuch"], "unknown story 'nosuch'"),
    (["facts", "list", "--tracker", "nosuch"], "unknown tracker 'nosuch'; configured"),
    (["facts", "history", "nosuch"], "unknown tracker 'nosuch'; configured"),
    (["trackers", "--tracker", "nosuch"], "unknown tracker 'nosuch'; configured"),
    (["trackers", "--story", "nosuch"], "unknown story 'nosuch'; configured stories"),
    (["report", "--html", "-", "--tracker", "nosuch"], "unknown tracker 'nosuch'"),
], ids=["search-source", "search-story", "changes-tracker", "changes-story", "facts-list",
        "facts-history", "trackers-tracker", "trackers-story", "report"])
def test_unknown_names_are_usage_errors_naming_the_valid_ones(config: Path, args: list[str],
                                                              message: str) -> None:
    result = run(config, *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr


def test_known_names_from_the_archive_still_work(config: Path) -> None:
    # "Wire A" is not in config.yaml, but the archive holds its reports
    rows = jsonl(run(config, "search", "troops", "--source", "Wire A", "--json"))
    assert {r["source"] for r in rows} == {"Wire A"} and len(rows) == 2


# ---------------------------------------------------------------- terminal tables


def _on_a_terminal(config: Path, columns: int, *args: str) -> list[str]:
    """Run the real `newswatch` under a pseudo-terminal ``columns`` wide; its lines."""
    text = on_a_terminal(config, "-q", *args, columns=columns,
                         env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return plain.replace("\r", "").splitlines()


def test_changes_fit_an_80_column_terminal_with_document_ids(config: Path) -> None:
    lines = _on_a_terminal(config, 80, "changes")
    assert lines and max(len(line) for line in lines) <= 80
    header = lines[0].split()
    assert header[0] == "doc" and "change" in header and header[-1] == "sentence"
    assert not any("…" in h for h in header)  # no header cut
    changes = db_rows(config, "SELECT c.document_id, c.new_display FROM changes c "
                              "WHERE c.type != 'baseline' ORDER BY c.id DESC")
    starts = [line.split()[0] for line in lines[2:] if line[:1].strip()]
    assert starts == [str(doc) for doc, _ in changes]  # each row starts with `show`'s id
    # every word of every sentence is there, wrapped, in a handful of lines per change
    words = " ".join(" ".join(lines[2:]).split())
    for (sentence,) in db_rows(config, "SELECT f.sentence FROM changes c JOIN facts f "
                                       "ON f.id = c.new_fact_id WHERE c.type != 'baseline'"):
        for word in sentence.split():
            assert word in words
    assert len(lines) <= 2 + 5 * len(changes)
    shown = _on_a_terminal(config, 80, "show", starts[0])
    assert any(line.startswith(f"document:   {starts[0]}") for line in shown)


def test_wide_terminals_show_more_columns_and_pipes_keep_tsv(config: Path) -> None:
    wide = _on_a_terminal(config, 200, "changes")
    assert wide[0].split() == ["doc", "id", "reported", "tracker", "type", "change",
                               "source", "corr", "sentence"]
    assert max(len(line) for line in wide) <= 200
    piped = tsv(run(config, "changes"))
    assert list(piped[0]) == ["id", "detected_at", "tracker", "type", "change", "source",
                              "corroborations", "sentence", "url"]
    narrow = _on_a_terminal(config, 80, "facts", "list")
    assert max(len(line) for line in narrow) <= 80
    assert narrow[0].split()[:1] != [] and "doc" in narrow[0].split()
    history = _on_a_terminal(config, 80, "facts", "history", "us-troops-iraq")
    assert max(len(line) for line in history) <= 80 and "timeline" in history


def test_fit_columns_drops_in_order_and_keeps_the_id() -> None:
    from crawler.cli.output import Column, fit_columns

    columns = [Column("doc"), Column("tracker", drop=2), Column("source", drop=1),
               Column("sentence", wrap=True)]
    rows = [["12", "us-troops-iraq", "Daily B", "x" * 200]]
    assert fit_columns(columns, rows, 200) == [0, 1, 2, 3]
    assert fit_columns(columns, rows, 50) == [0, 1, 3]  # 3 + 14 + 24 + 6 = 47
    assert fit_columns(columns, rows, 30) == [0, 3]
    assert fit_columns(columns, rows, 5) == [0, 3]  # never the id or the sentence


# ---------------------------------------------------------------- the HTML report


def test_report_html_is_one_self_contained_file(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    result = run(config, "report", "--html", str(path))
    assert result.exit_code == 0 and "wrote" in result.stderr
    page = path.read_text(encoding="utf-8")
    # nothing to load: no scripts, stylesheets, images or frames, and a CSP forbidding it
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"\bsrc=|url\(", page, re.I)
    assert "default-src 'none'" in page
    assert page.count("<svg") == 2 and 'class="current-value">~2,000<' in page
    facts = db_rows(config, "SELECT f.id, d.url, f.sentence FROM facts f JOIN documents d "
                            "ON d.id = f.document_id WHERE f.tracker = 'us-troops-iraq'")
    points = dict(re.findall(r'<a class="statement \w+" data-fact="(\d+)"[^>]*'
                             r'href="([^"]*)"', page))
    troops = {str(i) for i, _, _ in facts}
    assert troops <= set(points)
    for fact, url, sentence in facts:
        href = points[str(fact)].replace("&amp;", "&")
        assert href.startswith(url + "#:~:text=")  # the document, at its sentence
        assert sentence.split()[0] in href
    assert len(re.findall(r'class="conflict-mark"', page)) == 1
    assert len(re.findall(r'class="change-mark"', page)) == 2  # one per tracker


def test_report_escapes_web_text_and_links_only_http(config: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(
        (ROOT / "tests/fixtures/analyst/reports.jsonl").read_text(encoding="utf-8")
        + json.dumps({"url": "javascript:alert(1)", "date": "2025-04-02",
                      "outlet": "<script>alert('x')</script>", "title": "<b>Iraq</b>",
                      "text": "About 2,000 U.S. troops are in Iraq <img src=x onerror=y>."})
        + "\n", encoding="utf-8")
    folder = tmp_path / "archive"
    folder.mkdir()
    hostile_config = build_archive(folder, hostile)
    page = run(hostile_config, "report", "--html", "-").stdout
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert not re.search(r"href=\"\s*javascript", page, re.I)  # shown, never a link
    assert "javascript:alert(1)" in page
    assert 'data-source="&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"' in page


# ---------------------------------------------------------------- browse tracker pages


def _get(ds: Any, path: str) -> Any:
    loop = asyncio.new_event_loop()  # the crawl tests' reactor owns the default loop
    try:
        return loop.run_until_complete(ds.client.get(path))
    finally:
        loop.close()


def test_browse_has_a_page_per_tracker(config: Path) -> None:
    from crawler.archive.browse import make_datasette

    ds = make_datasette(config.parent / "archive.db")
    index = _get(ds, "/-/trackers")
    assert index.status_code == 200
    assert 'href="/-/trackers/us-troops-iraq"' in index.text and "~2,000" in index.text
    page = _get(ds, "/-/trackers/us-troops-iraq")
    assert page.status_code == 200 and "<svg" in page.text
    links = dict(re.findall(r'data-fact="(\d+)"[^>]*href="([^"]*)"', page.text))
    assert links and all(href == f"/archive/facts?id={fact}" for fact, href in links.items())
    fact = _get(ds, links[next(iter(links))])
    assert fact.status_code == 200 and 'href="/archive/documents/' in fact.text
    missing = _get(ds, "/-/trackers/nosuch")
    assert missing.status_code == 404 and "coalition-end, us-troops-iraq" in missing.text
    assert "/-/trackers" in _get(ds, "/archive").text  # linked from the archive page
