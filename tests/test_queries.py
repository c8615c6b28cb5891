"""The query commands (search, facts, show, changes, sql, export) on a real SQLite archive.

The archive is written through ``Archive.store`` (documents, versions and their facts in
one transaction, as the crawl pipeline does) plus direct inserts into `changes`; one test
builds it by a real crawl of the fixture site instead.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from conftest import run_cli, write_config
from sitesrv import SiteServer, copy_site
from support.archives import build_archive
from support.terminal import on_a_terminal

from crawler.archive import queries
from crawler.archive.store import Archive, ReadOnlyQuery
from crawler.config.model import load_config
from crawler.extraction.analysis import fact_rows
from crawler.extraction.records import AnalyzedReport

STORY = {
    "name": "us-iraq-coalition",
    "match": {"all": ["Iraq"], "any": ["coalition", "withdrawal", "troops"]},
    "trackers": [
        {"name": "us-troops-iraq", "kind": "troops", "about": ["Iraq"], "not_about": ["Syria"]},
        {"name": "coalition-end", "kind": "timeline", "about": ["coalition", "mission"],
         "cues": ["end", "conclude"]},
    ],
}

REPORTS = [
    ("http://wire.test/talks", "wire", "2024-09-06", "U.S.-Iraq talks on the coalition",
     "Officials met in Washington. The United States has approximately 2,500 troops in Iraq "
     "and 900 in neighbouring Syria."),
    ("http://state.test/briefing", "state", "2024-09-27", "Department press briefing",
     "The coalition mission in Iraq will end by September 2025, the joint statement said. "
     "About 2,500 U.S. troops are in Iraq."),
    ("http://wire.test/drawdown", "wire", "2025-10-01", "US begins drawdown in Iraq",
     "The number of US troops in Iraq has fallen from about 2,500 to fewer than 2,000, "
     "a senior defense official said."),
    ("http://wire.test/japan", "wire", "2024-09-27", "Ishiba wins Japan party leadership",
     "Former defence minister Shigeru Ishiba won the leadership of Japan's ruling party."),
]
REVISED = ("The number of US troops in Iraq has fallen from about 2,500 to fewer than 1,500, "
           "a senior defense official told reporters on Thursday.")


def queries_config(tmp_path: Path, archive: str = "newswatch.db") -> Path:
    """The story above, one (unreachable) source: the archive is built, not crawled."""
    return write_config(tmp_path, [{"name": "wire", "type": "feed",
                                    "url": "http://127.0.0.1:9/feed.xml", "revisit": None}],
                        archive=archive, stories=[STORY])


def report(url: str, source: str, published: str, title: str, text: str,
           config_path: Path) -> AnalyzedReport:
    """A report as the pipeline hands it to the archive: text, stories, facts."""
    stories = [s for s in load_config(config_path).stories if s.match.matches(f"{title}\n{text}")]
    return AnalyzedReport(url=url, source=source, title=title, text=text, published=published,
                          stories=tuple(s.name for s in stories),
                          facts=tuple(fact_rows(text, published, stories)))


def fact_id(db: Any, url: str, display: str, *, current: bool = True) -> int:
    column = "current_version" if current else "(SELECT min(id) FROM versions " \
        "WHERE document_id = d.id)"
    return db.execute(
        f"SELECT f.id FROM facts f JOIN documents d ON d.id = f.document_id "
        f"WHERE d.url = ? AND f.display = ? AND f.version_id = {column}", [url, display]
    ).fetchone()[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """config.yaml plus an archive built by the real detector: 4 documents (one revised),
    a baseline, a change confirmed by its attribution to officials, a revision."""
    path = queries_config(tmp_path)
    drawdown = REPORTS[2]
    build_archive(path, [*REPORTS, (*drawdown[:4], REVISED)])
    return path


def run(config_path: Path | None, *args: str, input: str | None = None) -> Result:
    prefix = ["--config", str(config_path)] if config_path else []
    return run_cli(*prefix, *args, input=input)


def tsv(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def jsonl(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def doc_id(config_path: Path, url: str) -> int:
    with sqlite3.connect(config_path.parent / "newswatch.db") as conn:
        return conn.execute("SELECT id FROM documents WHERE url = ?", [url]).fetchone()[0]


# ---------------------------------------------------------------- search


def test_search_newest_first_with_bracketed_snippets(config: Path) -> None:
    rows = tsv(run(config, "search", "troops"))
    assert [r["title"] for r in rows] == [
        "US begins drawdown in Iraq", "Department press briefing",
        "U.S.-Iraq talks on the coalition",
    ]
    assert rows[0]["published"] == "2025-10-01"
    assert "[troops]" in rows[0]["snippet"]
    assert "1,500" in rows[0]["snippet"]  # the current version, not the first one


def test_search_plain_punctuated_words_and_json(config: Path) -> None:
    rows = jsonl(run(config, "search", "U.S.-Iraq", "--json"))
    assert [r["url"] for r in rows] == ["http://wire.test/talks"]
    assert rows[0]["snippet"] == "[U.S.-Iraq] talks on the coalition"
    assert rows[0]["stories"] == ["us-iraq-coalition"]
    assert {"id", "source", "published", "version_id", "fetched_at"} <= set(rows[0])


def test_search_filters_and_rank_order(config: Path) -> None:
    by_source = jsonl(run(config, "search", "Iraq", "--source", "state", "--json"))
    assert [r["url"] for r in by_source] == ["http://state.test/briefing"]
    since = jsonl(run(config, "search", "Iraq", "--since", "2024-09-27", "--json"))
    assert {r["published"] for r in since} == {"2024-09-27", "2025-10-01"}
    story = jsonl(run(config, "search", "leadership OR troops", "--story", "us-iraq-coalition",
                      "--json"))
    assert "http://wire.test/japan" not in {r["url"] for r in story} and len(story) == 3
    assert len(jsonl(run(config, "search", "leadership OR troops", "--json"))) == 4
    limited = jsonl(run(config, "search", "Iraq", "--limit", "1", "--json"))
    assert [r["url"] for r in limited] == ["http://wire.test/drawdown"]
    ranked = jsonl(run(config, "search", "Iraq", "--order", "rank", "--json"))
    assert ranked[0]["url"] == "http://state.test/briefing"  # "Iraq" three times, short
    assert [r["url"] for r in jsonl(run(config, "search", 'title:"press briefing"', "--json"))
            ] == ["http://state.test/briefing"]
    assert len(jsonl(run(config, "search", "troop*", "--json"))) == 3


def test_search_bad_syntax_is_a_usage_error(config: Path) -> None:
    result = run(config, "search", '"unbalanced')
    assert result.exit_code == 2
    assert "cannot search for" in result.output and "Traceback" not in result.output
    assert run(config, "search", "troops AND").exit_code == 2
    assert run(config, "search", "nosuchword").exit_code == 0


def test_search_since_rejects_nonsense(config: Path) -> None:
    result = run(config, "search", "Iraq", "--since", "yesterdayish")
    assert result.exit_code == 2 and "not a date" in result.output


@pytest.mark.parametrize("typed, expected", [
    ("U.S.-Iraq", '"U.S.-Iraq"'),
    ("troops AND iraq", '"troops" AND "iraq"'),
    ('"fewer than" 2,000', '"fewer than" "2,000"'),
    ("coal*", '"coal"*'),
    ("NEAR(troops iraq, 5)", 'NEAR ( "troops" "iraq", 5 )'),
    ("title:troops OR text:coalition", 'title:"troops" OR text:"coalition"'),
    ("(a OR b) NOT c", '( "a" OR "b" ) NOT "c"'),
], ids=["punctuation", "operator", "phrase", "prefix", "near", "columns", "parentheses"])
def test_fts_query_quotes_words_and_keeps_syntax(typed: str, expected: str) -> None:
    assert queries.fts_query(typed) == expected


def _plain(text: str) -> str:
    """Terminal output without its colours (SGR sequences) and carriage returns."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r", "")


def test_search_on_a_terminal_highlights_hits(config: Path) -> None:
    raw = on_a_terminal(config, "search", "Washington", columns=200)
    out = _plain(raw)
    assert "Officials met in Washington" in out and "[Washington]" not in out
    assert raw != out  # the hit is highlighted with colour, not brackets


# ---------------------------------------------------------------- facts


def test_facts_extract_from_stdin_with_trackers(config: Path) -> None:
    text = ("The coalition mission will end next September. About 2,500 U.S. troops are in "
            "Iraq and about 900 in Syria.")
    rows = jsonl(run(config, "facts", "extract", "-", "--date", "2024-09-27", "--json",
                     input=text))
    dates = [r for r in rows if r["kind"] == "timeline"]
    assert [(r["value"], r["granularity"], r["tracker"]) for r in dates] == [
        ("2025-09", "month", "coalition-end")]  # "next September" after 2024-09-27
    troops = [r for r in rows if r["kind"] == "troops"]
    assert [(r["value"], r["tracker"]) for r in troops] == [("2500", "us-troops-iraq"),
                                                            ("900", None)]
    keys = {"kind", "value", "low", "high", "granularity", "qualifier", "raw", "start", "end",
            "sentence", "tracker"}
    assert keys <= set(troops[0])
    assert text[troops[0]["start"]:troops[0]["end"]] == troops[0]["raw"]
    table = tsv(run(config, "facts", "extract", input=text))
    assert [r["value"] for r in table if r["kind"] == "troops"] == ["~2,500", "~900"]


def test_facts_extract_file_without_config(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Fewer than 2,000 troops will remain in Iraq.", encoding="utf-8")
    result = run(tmp_path / "missing.yaml", "facts", "extract", str(article), "--json")
    rows = jsonl(result)
    assert [(r["value"], r["high"], r["tracker"]) for r in rows] == [("2000", 2000.0, None)]
    assert "without trackers" in result.stderr


def test_facts_history_marks_changes_and_revisions(config: Path) -> None:
    rows = jsonl(run(config, "facts", "history", "us-troops-iraq", "--json"))
    # "fallen from about 2,500 to ...": the "from" figure is a historical level, which
    # this tracker (the current level) does not follow
    assert [(r["published"], r["display"]) for r in rows] == [
        ("2024-09-06", "~2,500"), ("2024-09-27", "~2,500"),
        ("2025-10-01", "<2,000"), ("2025-10-01", "<1,500"),
    ]
    # the first report set the baseline; the next repeats it (a corroboration)
    assert [r["change_type"] for r in rows] == ["baseline", None, "change", "revision"]
    assert [r["current"] for r in rows] == [True, True, False, True]
    assert rows[0]["source"] == "wire" and rows[0]["url"] == "http://wire.test/talks"
    assert "900" not in {r["value"] for r in rows}  # Syria's figure is not_about
    table = tsv(run(config, "facts", "history", "us-troops-iraq"))
    assert table[2]["change"] == "change from ~2,500 (revised away)"
    assert table[3]["change"] == "revision from <2,000"


def test_facts_history_on_a_terminal_draws_a_timeline(config: Path) -> None:
    lines = _plain(on_a_terminal(config, "facts", "history", "us-troops-iraq",
                                 columns=200)).splitlines()
    timeline = lines[lines.index("timeline") + 1:]
    # the values change detection set: the baseline, the change, then the revision (dated
    # when the edited text was fetched), which is the current value
    assert len(timeline) == 3
    assert timeline[0].startswith("2024-09-06") and "~2,500" in timeline[0]
    assert "━" in timeline[0] and "2 reports" in timeline[0]  # the baseline and its repeat
    assert timeline[1].startswith("2025-10-01") and "<2,000" in timeline[1]
    with sqlite3.connect(config.parent / "newswatch.db") as conn:
        fetched = conn.execute("SELECT max(fetched_at) FROM versions").fetchone()[0]
    assert timeline[2].startswith(fetched[:10]) and "<1,500" in timeline[2]
    assert "(current, 1 source)" in timeline[2]


def test_facts_history_unknown_tracker_lists_configured(config: Path) -> None:
    result = run(config, "facts", "history", "us-troops-syria")
    assert result.exit_code == 2
    assert "unknown tracker 'us-troops-syria'" in result.output
    assert "coalition-end, us-troops-iraq" in result.output


def test_facts_history_configured_tracker_without_facts(config: Path, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "newswatch.db") as conn:
        conn.execute("UPDATE facts SET tracker = NULL WHERE tracker = 'coalition-end'")
    result = run(config, "facts", "history", "coalition-end")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no facts yet" in result.stderr


def test_facts_list_filters(config: Path) -> None:
    everything = jsonl(run(config, "facts", "list", "--json", "--limit", "0"))
    assert len(everything) == 8  # 2 + 2 + 2 per drawdown version; none in the Japan report
    timeline = jsonl(run(config, "facts", "list", "--kind", "timeline", "--json"))
    assert [(r["display"], r["tracker"]) for r in timeline] == [("Sep 2025", "coalition-end")]
    tracked = jsonl(run(config, "facts", "list", "--tracker", "us-troops-iraq", "--limit", "2",
                        "--json"))
    assert [r["display"] for r in tracked] == ["<1,500", "<2,000"]  # newest first
    unknown = run(config, "facts", "list", "--story", "other", "--json")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert "unknown story 'other'; configured stories: us-iraq-coalition" in unknown.stderr
    assert tsv(run(config, "facts", "list"))[0]["value"] == "<1,500"


# ---------------------------------------------------------------- show


def test_show_document_and_versions(config: Path) -> None:
    url = "http://wire.test/drawdown"
    by_url = run(config, "show", url)
    assert by_url.exit_code == 0
    assert f"url:        {url}" in by_url.stdout
    versions = [line.split("\t") for line in by_url.stdout.splitlines() if "\t" in line]
    assert versions[0][:4] == ["version", "fetched_at", "hash", "length"]
    assert len(versions) == 3 and versions[2][-1] == "*"
    assert versions[2][3] == str(len(REVISED))
    by_id = run(config, "show", str(doc_id(config, url)))
    assert by_id.stdout == by_url.stdout


def test_show_diff_of_last_two_versions(config: Path) -> None:
    result = run(config, "show", "http://wire.test/drawdown", "--diff")
    assert result.exit_code == 0
    assert ("fewer than [-2,000,-]{+1,500,+} a senior defense official [-said.-]"
            "{+told reporters on Thursday.+}") in result.stdout
    data = jsonl(run(config, "show", "http://wire.test/drawdown", "--diff", "--json"))[0]
    assert [v["id"] for v in data["versions"]] == [data["diff_from"], data["diff_to"]]
    assert ["insert", "told reporters on Thursday."] in data["diff"]
    assert "".join(text for op, text in data["diff"] if op != "delete") == REVISED


def test_show_diff_between_chosen_versions_and_errors(config: Path) -> None:
    data = jsonl(run(config, "show", "http://wire.test/drawdown", "--json"))[0]
    first, second = (v["id"] for v in data["versions"])
    backwards = run(config, "show", "http://wire.test/drawdown", "--diff", str(second),
                    str(first))
    assert "[-1,500" in backwards.stdout and "{+2,000" in backwards.stdout
    wrong = run(config, "show", "http://wire.test/drawdown", "--diff", "1", "999")
    assert wrong.exit_code == 2 and "has no version 1, 999 (its versions: " in wrong.output
    single = run(config, "show", "http://wire.test/japan", "--diff")
    assert single.exit_code == 2 and "only one version" in single.output
    missing = run(config, "show", "http://nowhere.test/")
    assert missing.exit_code == 2 and "no document" in missing.output
    assert run(config, "show", "http://wire.test/drawdown", "1", "2").exit_code == 2


def test_show_diff_on_a_terminal_colours_instead_of_brackets(config: Path) -> None:
    words = " ".join(_plain(on_a_terminal(config, "show", "http://wire.test/drawdown",
                                          "--diff")).split())
    assert "fewer than 2,000,1,500, a senior" in words and "[-" not in words


# ---------------------------------------------------------------- changes


def test_changes_lists_evidence_and_corroborations(config: Path) -> None:
    rows = jsonl(run(config, "changes", "--json"))
    assert [(r["type"], r["old_display"], r["new_display"]) for r in rows] == [
        ("revision", "<2,000", "<1,500"), ("change", "~2,500", "<2,000")]
    change = rows[1]
    assert change["corroborations"] == 0 and change["source"] == "wire"
    assert change["url"] == "http://wire.test/drawdown"
    assert "fewer than 2,000" in change["sentence"]
    only = jsonl(run(config, "changes", "--type", "change", "--json"))
    assert [r["type"] for r in only] == ["change"]
    assert jsonl(run(config, "changes", "--since", "2025-10-02", "--json"))[0]["type"] == \
        "revision"
    assert run(config, "changes", "--story", "other", "--json").exit_code == 2
    table = tsv(run(config, "changes"))
    assert table[1]["change"] == "~2,500 → <2,000" and table[1]["corroborations"] == "0"
    assert run(config, "changes", "--type", "bogus").exit_code == 2
    baselines = jsonl(run(config, "changes", "--type", "baseline", "--json"))
    assert [(r["tracker"], r["new_display"], r["corroborations"]) for r in baselines] == [
        ("coalition-end", "Sep 2025", 0), ("us-troops-iraq", "~2,500", 1)]  # newest first
    assert tsv(run(config, "changes", "--type", "baseline"))[1]["change"] == "~2,500"


# ---------------------------------------------------------------- sql and export


def test_sql_select_in_three_formats(config: Path) -> None:
    query = "SELECT url, published FROM documents WHERE source = 'wire' ORDER BY published"
    rows = tsv(run(config, "sql", query))
    assert [r["published"] for r in rows] == ["2024-09-06", "2024-09-27", "2025-10-01"]
    as_json = jsonl(run(config, "sql", query, "--json"))
    assert as_json[0] == {"url": "http://wire.test/talks", "published": "2024-09-06"}
    as_csv = list(csv.DictReader(io.StringIO(run(config, "sql", query, "--csv").stdout)))
    assert as_csv == [{k: str(v) for k, v in r.items()} for r in as_json]
    pragma = jsonl(run(config, "sql", "PRAGMA table_info(changes)", "--json"))
    assert "new_fact_id" in {r["name"] for r in pragma}


@pytest.mark.parametrize("statement", [
    "DELETE FROM documents",
    "UPDATE facts SET tracker = 'x'",
    "WITH x AS (SELECT 1) INSERT INTO sources(name) SELECT 'evil' FROM x",
    "CREATE TEMP TABLE t (x)",
    "PRAGMA journal_mode = DELETE",
    "SELECT 1; DELETE FROM documents",
    "ATTACH DATABASE 'other.db' AS other",
    "VACUUM INTO 'copy.db'",
    "DROP TABLE facts",
], ids=["delete", "update", "cte-insert", "temp-table", "pragma-write", "two-statements",
        "attach", "vacuum-into", "drop"])
def test_sql_refuses_writes(config: Path, tmp_path: Path, statement: str) -> None:
    before = (tmp_path / "newswatch.db").read_bytes()
    result = run(config, "sql", statement)
    assert result.exit_code == 2
    assert "newswatch sql is read-only" in result.output and "Traceback" not in result.output
    assert (tmp_path / "newswatch.db").read_bytes() == before
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()


def test_readonly_query_refuses_writes_even_on_a_writable_connection(config: Path,
                                                                     tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "newswatch.db")
    try:
        with pytest.raises(ReadOnlyQuery, match=r"read-only: INSERT \(sources\)"):
            queries.readonly_query(
                archive.db, "WITH x AS (SELECT 1) INSERT INTO sources(name) SELECT 'e' FROM x")
        assert archive.scalar("SELECT count(*) FROM sources WHERE name = 'e'") == 0
        archive.db.execute("INSERT INTO sources(name) VALUES ('ok')")  # authorizer removed
    finally:
        archive.close()


def test_sql_error_is_a_usage_error(config: Path) -> None:
    result = run(config, "sql", "SELECT nosuchcolumn FROM documents")
    assert result.exit_code == 2 and "SQL error: no such column" in result.output


def test_export_formats_and_output_file(config: Path, tmp_path: Path) -> None:
    lines = jsonl(run(config, "export", "--format", "jsonl"))
    assert len(lines) == 4 and lines[0]["url"] == "http://wire.test/talks"
    array = json.loads(run(config, "export", "--format", "json", "--table", "changes").stdout)
    assert [c["type"] for c in array] == ["baseline", "baseline", "change", "revision"]
    out = tmp_path / "facts.csv"
    assert run(config, "export", "--format", "csv", "--table", "facts", "--output", str(out)
               ).exit_code == 0
    facts = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(facts) == 8 and {"tracker", "sentence", "display"} <= set(facts[0])
    bad = run(config, "export", "--table", "sqlite_master")
    assert bad.exit_code == 2 and "sqlite_master" in bad.output
    empty = run(config, "export", "--format", "json", "--table", "alerts")
    assert json.loads(empty.stdout) == []


# ---------------------------------------------------------------- no archive yet


@pytest.mark.parametrize("args", [
    ["search", "troops"], ["facts", "history", "us-troops-iraq"], ["facts", "list"],
    ["show", "1"], ["changes"], ["sql", "SELECT 1"], ["export"], ["browse", "--port", "0"],
], ids=lambda a: " ".join(a[:2]))
def test_missing_archive_is_a_clear_usage_error(tmp_path: Path, args: list[str]) -> None:
    config = queries_config(tmp_path, archive="never-crawled.db")
    result = run(config, *args)
    assert result.exit_code == 2
    assert "does not exist yet; run 'newswatch crawl' first" in result.output
    assert not (tmp_path / "never-crawled.db").exists()


# ---------------------------------------------------------------- a real crawl


def test_queries_on_an_archive_built_by_a_real_crawl(tmp_path: Path) -> None:
    from crawler.extraction.pages import Extractor
    from crawler.pipeline import crawl_pass
    from crawler.scraping.reactor import run_on_reactor

    with SiteServer(copy_site(tmp_path / "site")) as site:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({
            "archive": str(tmp_path / "newswatch.db"),
            "crawl": {"timeout": 2, "retries": 0},
            "sources": [{"name": "wire", "type": "feed", "url": site.url + "/feeds/wire.xml",
                         "revisit": 0}],
            "stories": [{**STORY, "trackers": STORY["trackers"][:1]}],
        }), encoding="utf-8")
        config = load_config(path)
        archive = Archive.open(config.archive)
        extractor = Extractor(1)
        try:
            run_on_reactor(crawl_pass(config, archive, list(config.sources), extractor))
        finally:
            extractor.close()
            archive.close()

    found = jsonl(run(path, "search", "drawdown", "--json"))
    assert found and found[0]["url"].endswith("/news/us-drawdown-iraq-2025.html")
    assert found[0]["published"] == "2025-10-01"
    history = jsonl(run(path, "facts", "history", "us-troops-iraq", "--json"))
    values = [(r["published"], r["display"]) for r in history]
    assert ("2025-10-01", "<2,000") in values
    assert all(r["source"] == "wire" for r in history)
    assert "~600" not in {v for _, v in values}  # Syria's figures stay out
    assert [r["published"] for r in history] == sorted(r["published"] for r in history)
    gone = jsonl(run(path, "sql", "SELECT url, via FROM documents d JOIN versions v "
                     "ON v.id = d.current_version WHERE url LIKE '%/missing/%'", "--json"))
    assert [r["via"] for r in gone] == ["feed"]  # the 404 item archived from the feed
    shown = run(path, "show", found[0]["url"])
    assert shown.exit_code == 0 and "US military begins drawing down" in shown.stdout


# ---------------------------------------------------------------- a real terminal

HOSTILE = "\x1b]0;PWNED\x07\x1b[2J"  # set the window title, clear the screen



def test_web_text_never_reaches_a_terminal_as_escape_sequences(tmp_path: Path) -> None:
    path = queries_config(tmp_path)
    archive = Archive.open(tmp_path / "newswatch.db")
    archive.store(report(
        "http://wire.test/hostile", "wire", "2024-09-06", f"Iraq talks {HOSTILE}",
        f"Officials met in Washington {HOSTILE}. The United States has approximately 2,500 "
        f"troops in Iraq {HOSTILE}.", config_path=path))
    archive.close()
    # Each command prints the hostile document's own text (its title or its sentence),
    # with the escape sequences defused.
    for args, own in ((("search", "Washington"), "Iraq talks"),
                      (("facts", "history", "us-troops-iraq"),
                       "The United States has approximately 2,500 troops in Iraq"),
                      (("facts", "list"),
                       "The United States has approximately 2,500 troops in Iraq"),
                      (("show", "1"), "Iraq talks")):
        out = on_a_terminal(path, *args)
        assert own in out, (args, out)
        assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\x07" not in out, args
