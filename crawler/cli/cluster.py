"""Cluster commands: `worker`, `writer`, `cluster enqueue`, `cluster status`."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import click

from crawler.cli.main import (
    Interrupted,
    State,
    UsageProblem,
    cli,
    emit_json,
    json_option,
    library_errors,
    pass_state,
)
from crawler.config.model import ClusterConfig


@cli.command()
@click.option("--name", default=None, help="Worker name (default: HOST-PID).")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the worker's HTTP cache and scratch files "
              "(default: a new temporary folder).")
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True,
              help="Jobs (sources) crawled at once.")
@click.option("--max-jobs", type=click.IntRange(min=1), default=None,
              help="Stop after this many jobs.")
@pass_state
@library_errors
def worker(state: State, name: str | None, workdir: Path | None, parallel: int,
           max_jobs: int | None) -> None:
    """Crawl jobs from the cluster's Redis frontier; reports go to the writer."""
    import asyncio  # (here, not at the top: every command would pay for it)

    from crawler.cluster.worker import Worker
    from crawler.scraping.reactor import run_on_reactor

    config = state.config
    config.require_cluster()
    name = name or f"{socket.gethostname()}-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="newswatch-worker-") as scratch:
        folder = workdir or Path(scratch)
        try:
            run_on_reactor(Worker(config, name, folder, parallel).run(max_jobs),
                           interruptible=True, also_on_sigterm=True)
        except asyncio.CancelledError:
            raise Interrupted("interrupted: the jobs it was crawling were handed back to "
                              "the other workers") from None


@cli.command()
@pass_state
@library_errors
def writer(state: State) -> None:
    """Archive the reports the cluster's workers queue (the one archive writer)."""
    from crawler.cli.commands import writer as open_writer
    from crawler.cluster.writer import Writer

    config = state.config
    config.require_cluster()
    stop = threading.Event()

    def stopping(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open_writer(config) as archive:
            consumer = Writer(config, archive, stop=stop)
            try:
                consumer.run()
            finally:
                consumer.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@cli.group()
def cluster() -> None:
    """The cluster's frontier: queue jobs, show its depth."""


@cluster.command()
@click.option("--source", "source_names", multiple=True, metavar="NAME",
              help="Only this source (repeatable; default: every enabled source).")
@json_option
@pass_state
@library_errors
def enqueue(state: State, source_names: tuple[str, ...], as_json: bool) -> None:
    """Queue a crawl job per source (a source already queued or running is skipped)."""
    from crawler.cluster.connection import Backoff, client, retrying
    from crawler.cluster.frontier import enqueue as queue

    config = state.config
    settings = config.require_cluster()
    names = [s.name for s in config.chosen_sources(source_names)]
    r = client(settings.redis)
    try:
        queued = retrying(Backoff("enqueue", settings.redis, longest=2),
                          lambda: queue(r, names))
    finally:
        r.close()
    rows = [{"source": name, "job": job} for name, job in queued.items()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['source']}: " + (f"queued as job {row['job']}" if row["job"]
                                           else "already queued or running"))


def cluster_view(settings: ClusterConfig) -> dict[str, Any]:
    """The frontier's depth and the workers seen, or ``error``: why Redis could not say."""
    from dataclasses import asdict

    from crawler.cluster.connection import DOWN, client, safe_url
    from crawler.cluster.frontier import depth
    from crawler.cluster.heartbeat import workers_seen

    r = client(settings.redis)
    view: dict[str, Any] = {"redis": safe_url(settings.redis)}
    try:
        view.update(asdict(depth(r)), workers=[asdict(w) for w in workers_seen(r)])
    except DOWN as e:
        view["error"] = f"redis at {view['redis']} is unreachable: {e}"
    finally:
        r.close()
    return view


def cluster_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The view as `--json` rows: one ``cluster`` row, one ``worker`` row per worker."""
    return [{"kind": "cluster", **{k: v for k, v in view.items() if k != "workers"}},
            *({"kind": "worker", **w} for w in view.get("workers", []))]


def show_cluster(view: dict[str, Any]) -> None:
    """The cluster part of `status`: one line for the frontier, a table of workers."""
    from crawler.cli.output import table

    if "error" in view:
        click.echo(f"cluster: {view['error']}")
        return
    click.echo(f"cluster: {view['redis']}: {view['jobs_waiting']} jobs waiting, "
               f"{view['jobs_running']} running, {view['reports_waiting']} reports not yet "
               "archived")
    if not view["workers"]:
        click.echo("workers: none seen yet (start one with `newswatch worker`)")
        return
    table(["worker", "state", "last seen", "pages/s", "pages", "errors", "jobs", "running",
           "host"],
          [[w["name"], w["state"], f"{w['last_seen_ago']:.0f} s ago", f"{w['pages_per_s']:.1f}",
            w["pages"], w["errors"], w["jobs"], w["running"], f"{w['host']} (pid {w['pid']})"]
           for w in view["workers"]])


@cluster.command()
@json_option
@pass_state
@library_errors
def status(state: State, as_json: bool) -> None:
    """Jobs waiting and running, reports not yet archived, workers (last seen, pages/s)."""
    view = cluster_view(state.config.require_cluster())
    if "error" in view:
        raise UsageProblem(view["error"])
    if as_json:
        emit_json(cluster_rows(view))
    else:
        show_cluster(view)
