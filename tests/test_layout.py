"""The package boundaries hold (README, "Development": one sub-package per stage).

- Scrapy and Twisted are imported only in crawler/scraping/;
- SQL against the archive is written only in crawler/archive/ (the HTTP cache's own
  SQLite file in crawler/scraping/httpcache.py is not the archive);
- alerts/ never imports crawler;
- crawler/facts/ is pure: text in, facts out — no I/O, no config;
- crawler/config/ is the only YAML reader;
- a crawl's run counts are changed only by ``CrawlContext`` (crawler/scraping/crawl.py);
- alerts/ modules use each other's public names only.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# SQL is written with upper-case keywords here (prose "Drop a pool" is not SQL)
SQL_RE = re.compile(r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|PRAGMA)\s")
DB_CALLS = {"execute", "executescript", "executemany", "query", "table"}
IO_MODULES = {"os", "io", "pathlib", "socket", "sqlite3", "subprocess", "shutil", "urllib",
              "http", "requests", "httpx", "tempfile", "sqlite_utils", "yaml"}


def modules(package: str) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_scrapy_and_twisted_only_in_scraping() -> None:
    offenders = [
        (rel(path), name) for path, tree in modules("crawler")
        if not rel(path).startswith("crawler/scraping/")
        for name in imported(tree) if name.split(".")[0] in ("scrapy", "twisted")
    ]
    assert offenders == []


def _sql_uses(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL_RE.match(node.value):
            found.append(node.value.strip().split("\n")[0][:40])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in DB_CALLS and isinstance(node.func.value, ast.Attribute) \
                and node.func.value.attr in ("db", "conn"):
            found.append(f".{node.func.value.attr}.{node.func.attr}()")
    return found


def test_sql_only_in_the_archive_package() -> None:
    allowed = {"crawler/scraping/httpcache.py"}  # the HTTP cache's own file, not the archive
    offenders = {
        rel(path): uses for path, tree in modules("crawler")
        if not rel(path).startswith("crawler/archive/") and rel(path) not in allowed
        and (uses := _sql_uses(tree))
    }
    assert offenders == {}


def test_alerts_never_imports_crawler() -> None:
    offenders = [(rel(path), name) for path, tree in modules("alerts")
                 for name in imported(tree) if name.split(".")[0] == "crawler"]
    assert offenders == []


def test_facts_are_pure() -> None:
    offenders = []
    for path, tree in modules("crawler/facts"):
        for name in imported(tree):
            top = name.split(".")[0]
            if top in IO_MODULES or name.startswith("crawler.") and not name.startswith(
                    "crawler.facts"):
                offenders.append((rel(path), name))
        offenders += [(rel(path), "open()") for node in ast.walk(tree)
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                      and node.func.id == "open"]
    assert offenders == []


def test_config_is_the_only_yaml_reader() -> None:
    offenders = [rel(path) for path, tree in modules("crawler")
                 if "yaml" in imported(tree) and not rel(path).startswith("crawler/config/")]
    assert offenders == []


def _counts_written(tree: ast.Module) -> list[str]:
    """``x.counts.field = ...`` and ``x.counts.field += ...``: a run's counts changed."""
    targets = [t for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AugAssign)
               for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
    return [f"counts.{t.attr}" for t in targets if isinstance(t, ast.Attribute)
            and isinstance(t.value, ast.Attribute) and t.value.attr == "counts"]


def test_only_the_crawl_context_changes_run_counts() -> None:
    offenders = {rel(path): written for path, tree in modules("crawler")
                 if rel(path) != "crawler/scraping/crawl.py"
                 and (written := _counts_written(tree))}
    assert offenders == {}


def test_alerts_modules_import_no_private_names() -> None:
    offenders = [(rel(path), alias.name) for path, tree in modules("alerts")
                 for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 for alias in node.names if alias.name.startswith("_")]
    assert offenders == []


@pytest.mark.parametrize("source,expected", [
    ("ctx.counts.fetched += 1", ["counts.fetched"]),
    ("self.context.counts.fallbacks = 0", ["counts.fallbacks"]),
    ("counts.lost += 1", []),  # a RunCounts of its own (the cluster writer's), not a crawl's
])
def test_the_counts_detector_sees_writes(source: str, expected: list[str]) -> None:
    assert _counts_written(ast.parse(source)) == expected


@pytest.mark.parametrize("source,expected", [
    ('x = "SELECT 1"', [".SELECT 1"[1:]]),
    ("self.db.execute('x')", [".db.execute()"]),
    ("conn.commit()", []),
])
def test_the_sql_detector_sees_sql(source: str, expected: list[str]) -> None:
    assert _sql_uses(ast.parse(source)) == expected
