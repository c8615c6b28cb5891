"""Shared fixtures: the fixture site on a real local server, test configs, the CLI in-process.

Helpers live next to this file and are imported as top-level modules
(``from sitesrv import ...``); tests/ is not a package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_servers import SMTPSink, WebhookSink
from click.testing import CliRunner, Result
from newssite import NewsSite
from sitesrv import SiteServer, copy_site

# Crawl settings for tests: fast failure, no politeness delays, still robots and the cache.
TEST_CRAWL = {
    "retries": 1,
    "timeout": 1,
    "obey_robots": True,
    "autothrottle": False,
    "http_cache": True,
    "extract_workers": 1,
}


@pytest.fixture(scope="session", autouse=True)
def _stop_reactor_at_exit() -> Iterator[None]:
    """Stop Twisted's thread pool at the end, or its threads keep pytest alive."""
    yield
    from crawler.scraping.reactor import shutdown_reactor

    shutdown_reactor()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    """A copy of tests/fixtures/sites in tmp_path (tests may edit it), served on 127.0.0.1."""
    with SiteServer(copy_site(tmp_path / "site")) as server:
        yield server


@pytest.fixture
def news_site(tmp_path: Path) -> Iterator[NewsSite]:
    """A news site whose feed lists every article published so far (tests/newssite.py)."""
    root = tmp_path / "news-site"
    root.mkdir()
    site = NewsSite(root)
    yield site
    site.server.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPSink]:
    """A running plain SMTP server that records every message (aiosmtpd)."""
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def hook() -> Iterator[WebhookSink]:
    """A running HTTP endpoint standing in for Slack's webhook; records every request."""
    with WebhookSink() as sink:
        yield sink


def write_config(tmp_path: Path, sources: list[dict[str, Any]], **sections: Any) -> Path:
    """Write config.yaml in tmp_path: archive in tmp_path, test crawl settings, revisit 0.

    ``sections`` are top-level sections (``stories=[...]``, ``crawl={...}`` merged over
    the test defaults, ``archive="x.db"``); a source's own ``revisit`` overrides 0, and
    ``revisit: None`` leaves the key out so the default applies.
    """
    crawl = {**TEST_CRAWL, **sections.pop("crawl", {})}
    data: dict[str, Any] = {
        "archive": str(tmp_path / "newswatch.db"),
        "crawl": crawl,
        "sources": [
            {k: v for k, v in {"revisit": 0, **s}.items() if v is not None} for s in sources
        ],
        **sections,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def extractor() -> Iterator[Any]:
    """One extraction worker shared by a module's in-process crawls."""
    from crawler.extraction.pages import Extractor

    pool = Extractor(1)
    yield pool
    pool.close()


@pytest.fixture
def make_config() -> Callable[..., Path]:
    """``make_config(tmp_path, sources=[...], **sections)`` -> path of the written config.yaml."""

    def make(tmp_path: Path, sources: list[dict[str, Any]], **sections: Any) -> Path:
        return write_config(tmp_path, sources, **sections)

    return make


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``newswatch ARGS`` in-process (the one CLI runner of the tests); exceptions
    other than SystemExit are re-raised, so a traceback is never mistaken for output."""
    from crawler.cli.main import cli

    result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def cli_run() -> Callable[..., Result]:
    """``cli_run("--config", path, "crawl")`` -> click's Result (exit_code, stdout, stderr)."""
    return run_cli
