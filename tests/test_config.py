"""Config validation: a bad config.yaml is a usage error (exit 2) naming the key, no traceback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import run_cli
from hypothesis import given
from hypothesis import strategies as st

from crawler.config.model import ConfigError, load_config, parse_config, parse_interval

GOOD_SOURCE = "sources:\n  - {name: wire, type: feed, url: 'http://127.0.0.1:9/feed.xml'}\n"

# (id, config text, words the one-line message must contain)
BAD_CONFIGS = [
    (
        "unknown-source-type",
        "sources:\n  - {name: wire, type: blog, url: 'http://x.example/'}\n",
        ["sources[0].type", "blog", "feed, state-briefings, page"],
    ),
    (
        "missing-url",
        "sources:\n  - {name: wire, type: feed}\n",
        ["sources[0].url", "required"],
    ),
    (
        "bad-interval",
        "sources:\n  - {name: wire, type: feed, url: 'http://x.example/', every: soon}\n",
        ["sources[0].every", "'soon'", "30m"],
    ),
    (
        "every-and-cron",
        "sources:\n  - {name: wire, type: feed, url: 'http://x.example/', every: 5m,"
        " cron: '*/5 * * * *'}\n",
        ["sources[0]", "every", "cron"],
    ),
    (
        "bad-cron",
        "sources:\n  - {name: wire, type: feed, url: 'http://x.example/', cron: 'every tuesday'}\n",
        ["sources[0].cron", "every tuesday", "crontab"],
    ),
    (
        "cron-out-of-range",
        "sources:\n  - {name: wire, type: feed, url: 'http://x.example/', cron: '61 * * * *'}\n",
        ["sources[0].cron", "61 * * * *"],
    ),
    (
        "missing-env-var",
        GOOD_SOURCE + "alerts:\n  slack: {webhook_url: '${NOPE}'}\n",
        ["alerts.slack.webhook_url", "NOPE"],
    ),
    (
        "unknown-source-key",
        "sources:\n  - {name: wire, type: feed, url: 'http://x.example/', evry: 5m}\n",
        ["sources[0]", "unknown key 'evry'", "every"],
    ),
    (
        "unknown-section",
        GOOD_SOURCE + "crawler: {timeout: 5}\n",
        ["top level", "unknown key 'crawler'", "crawl"],
    ),
    (
        "unknown-crawl-key",
        GOOD_SOURCE + "crawl: {time_out: 5}\n",
        ["crawl", "unknown key 'time_out'"],
    ),
    (
        "timeout-not-a-number",
        GOOD_SOURCE + "crawl: {timeout: fast}\n",
        ["crawl.timeout", "'fast'", "number"],
    ),
    (
        "bool-as-string",
        GOOD_SOURCE + "crawl: {obey_robots: 'yes'}\n",
        ["crawl.obey_robots", "true or false", "'yes'"],
    ),
    (
        "pages-not-a-number",
        "sources:\n  - {name: b, type: state-briefings, url: 'http://x.example/', pages: two}\n",
        ["sources[0].pages", "'two'"],
    ),
    (
        "sources-not-a-list",
        "sources: {name: wire, type: feed}\n",
        ["sources", "list"],
    ),
    (
        "no-sources",
        "archive: x.db\n",
        ["sources", "non-empty list"],
    ),
    (
        "url-not-http",
        "sources:\n  - {name: wire, type: feed, url: 'file:///etc/passwd'}\n",
        ["sources[0].url", "http(s) URL"],
    ),
    (
        "name-not-a-string",
        "sources:\n  - {name: 5, type: feed, url: 'http://x.example/'}\n",
        ["sources[0].name", "string", "5"],
    ),
    (
        "match-words-not-a-list",
        GOOD_SOURCE + "stories:\n  - {name: s, match: {all: 5}}\n",
        ["stories[0].match.all", "list of words"],
    ),
    (
        "unknown-tracker-kind",
        GOOD_SOURCE + "stories:\n  - {name: s, trackers: [{name: t, kind: money}]}\n",
        ["stories[0].trackers[0].kind", "money", "troops"],
    ),
    (
        "duplicate-source-names",
        GOOD_SOURCE + "  - {name: wire, type: page, url: 'http://x.example/'}\n",
        ["sources", "'wire'", "twice"],
    ),
    (
        "private-network-with-host-bits",
        GOOD_SOURCE + "crawl: {allow_private_networks: [10.1.2.3/8]}\n",
        ["crawl.allow_private_networks[0]", "'10.1.2.3/8'", "10.20.0.0/16"],
    ),
    (
        "not-yaml",
        "sources: [\n",
        ["line", "not valid YAML"],
    ),
]


@pytest.mark.parametrize(
    ("text", "words"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path, monkeypatch, text, words):
    monkeypatch.delenv("NOPE", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")

    result = run_cli("--config", str(bad), "crawl")

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: config error: ")
    for word in words:
        assert word in lines[0]
    # Nothing was crawled or created.
    assert not (tmp_path / "newswatch.db").exists()


def test_missing_config_file_is_a_usage_error(tmp_path):
    result = run_cli("--config", str(tmp_path / "nowhere.yaml"), "crawl")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "nowhere.yaml" in result.stderr and "not found" in result.stderr


def test_config_from_environment_variable(tmp_path, monkeypatch):
    bad = tmp_path / "env.yaml"
    bad.write_text("sources:\n  - {name: wire, type: rss, url: 'http://x.example/'}\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(bad))
    result = run_cli("crawl")
    assert result.exit_code == 2
    assert "sources[0].type" in result.stderr


def test_missing_env_var_names_key_and_variable():
    text = GOOD_SOURCE + "alerts:\n  apprise: ['tgram://${TG_TOKEN}/123']\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, Path("config.yaml"), environ={})
    assert "alerts.apprise[0]" in str(err.value)
    assert "TG_TOKEN" in str(err.value)
    config = parse_config(text, Path("config.yaml"), environ={"TG_TOKEN": "abc"})
    assert config.alerts.apprise == ("tgram://abc/123",)


def test_env_var_in_a_key_is_not_expanded():
    # Only values are expanded; a ${VAR} in a key stays as written (and is unknown).
    text = GOOD_SOURCE + "crawl: {'${KEY}': 1}\n"
    with pytest.raises(ConfigError, match=r"unknown key '\$\{KEY\}'"):
        parse_config(text, Path("config.yaml"), environ={})


def test_valid_config_defaults_and_relative_archive(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "archive: data/nw.db\n"
        "sources:\n"
        "  - {name: wire, type: feed, url: 'http://x.example/feed', every: 1h30m}\n"
        "  - {name: b, type: state-briefings, url: 'http://x.example/b/', cron: '*/30 * * * *',"
        " revisit: 0}\n",
        encoding="utf-8",
    )
    config = load_config(path, environ={})
    assert config.archive == tmp_path / "data" / "nw.db"
    wire, briefings = config.sources
    assert wire.every == timedelta(hours=1, minutes=30)
    assert wire.revisit == timedelta(hours=1)
    assert wire.allow_private is False
    assert briefings.cron == "*/30 * * * *" and briefings.every is None
    assert briefings.revisit == timedelta(0)
    assert config.crawl.obey_robots is True
    assert config.crawl.allow_private_networks == ()
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        config.source("nope")


# ---------------------------------------------------------------- parse_interval

UNITS = (("d", "days"), ("h", "hours"), ("m", "minutes"), ("s", "seconds"))
# Bounded to intervals a schedule can mean (under ~270 years); see parse_interval's limits.
amount = st.integers(min_value=0, max_value=99_999)
spaces = st.sampled_from(["", " ", "  "])


@given(parts=st.tuples(*(st.one_of(st.none(), amount) for _ in UNITS)), gaps=st.lists(spaces,
       min_size=5, max_size=5))
def test_parse_interval_round_trip(parts, gaps):
    fields = {name: n for n, (_, name) in zip(parts, UNITS, strict=True) if n is not None}
    if not fields:
        fields = {"minutes": 1}
        parts = (None, None, 1, None)
    expected = timedelta(**fields)
    text = gaps[0] + "".join(
        f"{n}{gap}{unit}{gap}" for n, (unit, _), gap in zip(parts, UNITS, gaps[1:], strict=True)
        if n is not None
    )
    if expected > timedelta(0):
        assert parse_interval(text) == expected
        # and back: the canonical form of the parsed value parses to the same value
        assert parse_interval(format_interval(expected)) == expected
    else:
        with pytest.raises(ConfigError, match="interval"):
            parse_interval(text)


def format_interval(delta: timedelta) -> str:
    """The canonical 'XdYhZmWs' spelling of a positive whole-second interval."""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return "".join(f"{n}{u}" for n, u in zip((days, hours, minutes, seconds), "dhms",
                                              strict=True) if n)


@given(st.integers(min_value=1, max_value=10**7))
def test_parse_interval_seconds_as_number(seconds):
    assert parse_interval(seconds) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "value", ["soon", "", "5", "m5", "5 minutes", "1h 2d", "-5m", "0m", 0, -3, True, None, [5]],
    ids=repr,
)
def test_parse_interval_rejects(value):
    with pytest.raises(ConfigError, match=r"^src\.every: expected an interval"):
        parse_interval(value, "src.every")
