"""Operational commands: crawl, run, demo, status, alerts."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

import click

from crawler.cli import State, cli, emit_json, json_option, library_errors, pass_state


def _progress_printer() -> tuple[Any, Any]:
    """A live one-line progress display on a terminal; nothing when piped."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console

    status = Console(stderr=True).status("crawling…")
    seen: dict[str, str] = {}

    def update(ctx: Any) -> None:
        c = ctx.counts
        seen[ctx.source.name] = (f"{ctx.source.name}: {c.fetched} fetched, {c.new_documents} "
                                 f"new, {c.new_versions} revised, {c.errors} errors")
        status.update(" · ".join(seen.values()))

    return status, update


@cli.command()
@click.option("--source", "source_names", multiple=True, metavar="NAME",
              help="Crawl only this source (repeatable).")
@json_option
@pass_state
@library_errors
def crawl(state: State, source_names: tuple[str, ...], as_json: bool) -> None:
    """Crawl all sources once, then detect changes and deliver alerts."""
    from crawler.archive import Archive
    from crawler.crawl import run_on_reactor
    from crawler.extract import Extractor
    from crawler.jobs import crawl_pass

    config = state.config
    sources = [config.source(n) for n in source_names] or [
        s for s in config.sources if s.enabled
    ]
    archive = Archive.open(config.archive)
    extractor = Extractor(config.crawl.extract_workers)
    status, progress = _progress_printer()
    try:
        if status:
            status.start()
        result = run_on_reactor(crawl_pass(config, archive, sources, extractor, progress))
    finally:
        if status:
            status.stop()
        extractor.close()
        archive.close()
    rows = [
        {"source": r.source, "run": r.run_id, "status": r.status, **asdict(r.counts),
         "details": list(r.details)}
        for r in result.runs
    ]
    if as_json:
        emit_json(rows)
    else:
        _print_crawl_summary(rows)
    if any(r["status"] == "failed" for r in rows):
        sys.exit(1)


def _print_crawl_summary(rows: list[dict[str, Any]]) -> None:
    from crawler.display import table

    table(
        ["source", "status", "fetched", "new", "revised", "unchanged", "fallbacks", "errors"],
        [[r["source"], r["status"], r["fetched"], r["new_documents"], r["new_versions"],
          r["unchanged"], r["fallbacks"], r["errors"]] for r in rows],
    )
    for r in rows:
        for detail in r["details"][:10]:
            click.echo(f"  {r['source']}: {detail}", err=True)
        if len(r["details"]) > 10:
            click.echo(f"  {r['source']}: … {len(r['details']) - 10} more", err=True)
