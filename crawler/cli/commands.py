"""Operational commands: crawl, run, demo, status, alerts."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.changes.records import ChangeType
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
from crawler.config.model import Config

if TYPE_CHECKING:
    from crawler.archive.store import Archive


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
    import asyncio  # (here: only `crawl` needs it, and every command pays an import)

    from crawler.extraction.pages import Extractor
    from crawler.pipeline import crawl_pass
    from crawler.scraping.reactor import run_on_reactor

    config = state.config
    sources = config.chosen_sources(source_names)
    with writer(config) as archive:
        extractor = Extractor(config.crawl.extract_workers, config.crawl.extract_timeout)
        status, progress = _progress_printer()
        try:
            if status:
                status.start()
            result = run_on_reactor(crawl_pass(config, archive, sources, extractor, progress),
                                    interruptible=True)
        except asyncio.CancelledError:
            raise Interrupted("interrupted: the runs are recorded as interrupted; what was "
                              "stored stays, and the next crawl completes the work") from None
        finally:
            if status:
                status.stop()
            extractor.close()
    rows = [
        {"source": r.source, "run": r.run_id, "status": r.status, **asdict(r.counts),
         # unchanged: re-checked and found unchanged; not_rechecked: not due (`revisit`)
         "unchanged": r.counts.unchanged - r.not_rechecked, "not_rechecked": r.not_rechecked,
         "details": list(r.details), "stopped": r.stopped}
        for r in result.runs
    ]
    if as_json:
        emit_json(rows)
    else:
        _print_crawl_summary(rows)
        _print_outcome(result)
    for stopped in sorted({r.stopped for r in result.runs if r.stopped}):
        click.echo(f"crawl stopped early: {stopped}", err=True)
    if result.error:
        click.echo(result.error, err=True)
    if result.failed:
        sys.exit(1)


@contextmanager
def writer(config: Config) -> Iterator[Archive]:
    """The archive opened for writing, under the writer lock, interrupted sends recovered."""
    from crawler.archive.lock import ArchiveBusy, ArchiveLock
    from crawler.archive.store import Archive, unusable
    from crawler.pipeline import recover

    lock = ArchiveLock(config.archive)
    try:
        lock.acquire()
    except ArchiveBusy as e:
        raise UsageProblem(str(e)) from None
    except OSError as e:  # a read-only folder, a missing one that cannot be made
        raise unusable(config.archive, e) from None
    try:
        archive = Archive.open(config.archive)
    except BaseException:
        lock.release()
        raise
    try:
        recover(archive)
        yield archive
    finally:
        archive.close()
        lock.release()


def _print_outcome(result: Any) -> None:
    for change in result.changes:
        if change.type == ChangeType.BASELINE:
            continue
        click.echo(f"{change.type}: {change.tracker}: {change.old_display} → "
                   f"{change.new_display} ({change.alerts} alert(s) queued)")
    d = result.delivery
    if d is not None and (d.sent or d.retried or d.failed or d.skipped):
        click.echo(f"alerts: {d.sent} sent, {d.retried} to retry, {d.failed} failed, "
                   f"{d.skipped} skipped")


def _print_crawl_summary(rows: list[dict[str, Any]]) -> None:
    from crawler.cli.output import table

    lost = any(r["lost"] for r in rows)
    table(
        ["source", "status", "fetched", "new", "revised", "unchanged", "not re-checked",
         "fallbacks", "errors", *(["not stored"] if lost else [])],
        [[r["source"], r["status"], r["fetched"], r["new_documents"], r["new_versions"],
          r["unchanged"], r["not_rechecked"], r["fallbacks"], r["errors"],
          *([r["lost"]] if lost else [])]
         for r in rows],
    )
    for r in rows:
        for detail in r["details"][:10]:
            click.echo(f"  {r['source']}: {detail}", err=True)
        if len(r["details"]) > 10:
            click.echo(f"  {r['source']}: … {len(r['details']) - 10} more", err=True)


@cli.group()
def alerts() -> None:
    """Deliver and test alerts."""


@alerts.command("send")
@click.option("--now", "ignore_backoff", is_flag=True,
              help="Retry every pending alert now, regardless of backoff.")
@click.option("--retry-failed", is_flag=True,
              help="Queue alerts that gave up (status failed) again, with fresh attempts.")
@click.option("--resend-unknown", is_flag=True,
              help="Queue alerts interrupted while sending (status unknown) again; "
                   "they may arrive twice.")
@pass_state
@library_errors
def alerts_send(state: State, ignore_backoff: bool, retry_failed: bool,
                resend_unknown: bool) -> None:
    """Deliver the alerts that are due (all pending ones with --now)."""
    from alerts.status import AlertStatus
    from crawler.archive.outbox import ArchiveOutbox
    from crawler.delivery import deliver_alerts

    config = state.config
    with writer(config) as archive:
        statuses = [s for s, on in ((AlertStatus.FAILED, retry_failed),
                                    (AlertStatus.UNKNOWN, resend_unknown)) if on]
        if statuses:
            queued = ArchiveOutbox(archive).requeue(statuses)
            click.echo(f"queued again: {queued} alert(s)")
        report = deliver_alerts(archive, config, ignore_backoff=ignore_backoff)
    click.echo(f"alerts: {report.sent} sent, {report.retried} to retry, {report.failed} failed, "
               f"{report.skipped} skipped")
    if report.failed or report.retried:
        sys.exit(1)


@alerts.command("digest")
@click.option("--now", "preview", is_flag=True, required=True,
              help="Print the digest of everything since the last one; nothing is sent.")
@pass_state
@library_errors
def alerts_digest(state: State, preview: bool) -> None:
    """Preview the next digest (alerts.digest): changes, unconfirmed ones, conflicts."""
    from crawler.archive.store import Archive
    from crawler.delivery import preview_digest

    archive = Archive.open_readonly(state.config.archive)
    try:
        message = preview_digest(archive, state.config)
    finally:
        archive.close()
    click.echo(message.text, nl=False)  # web text in it is cleaned by render_digest


@alerts.command("test")
@click.argument("channel", required=False)
@pass_state
@library_errors
def alerts_test(state: State, channel: str | None) -> None:
    """Send a sample alert through the configured channels (or one CHANNEL)."""
    from uuid import uuid4

    from alerts.render import render, trial_change
    from crawler.delivery import build_channels

    channels = build_channels(state.config.alerts)
    if not channels:
        raise UsageProblem("no alert channels configured (alerts: email, slack, apprise, mailbox)")
    if channel is not None and channel not in channels:
        raise UsageProblem(f"unknown channel {channel!r}; configured: {', '.join(channels)}")
    # About the user's own first tracker (or a neutral sample), clearly marked as a test.
    story, tracker = next(((s, t) for s in state.config.stories for t in s.trackers),
                          (None, None))
    change = trial_change(tracker.name, tracker.title, tracker.kind, story.name) \
        if tracker and story else trial_change()
    failed = False
    for name, ch in channels.items():
        if channel is not None and name != channel:
            continue
        try:
            # A fresh Message-ID each time: mail systems drop a repeated one as a duplicate.
            ch.send(render(change, f"<test-{name}-{uuid4().hex}@newswatch>"))
        except Exception as e:  # report every channel's outcome, then fail
            failed = True
            click.echo(f"{name}: FAILED: {type(e).__name__}: {e}", err=True)
        else:
            click.echo(f"{name}: sent")
    if failed:
        sys.exit(1)


@cli.command()
@pass_state
@library_errors
def run(state: State) -> None:
    """Run the background service: scheduled crawls, changes and alerts."""
    from crawler.archive.lock import ArchiveBusy
    from crawler.archive.store import unusable
    from crawler.scraping.reactor import run_on_reactor
    from crawler.service import Service

    service = Service(state.config, reload=lambda: _reload(state))
    try:
        run_on_reactor(service.run())
    except ArchiveBusy as e:
        raise UsageProblem(str(e)) from None
    except OSError as e:  # the lock file cannot be made: a read-only or missing folder
        raise unusable(state.config.archive, e) from None


def this_command() -> str:
    """How to run this same newswatch again from a shell: ``newswatch`` when that name
    on PATH is this program, else its full path, else ``python -m crawler``."""
    import shutil

    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "newswatch":
        found = shutil.which("newswatch")
        if found and Path(found).resolve() == argv0.resolve():
            return "newswatch"
        return shlex.quote(str(argv0.resolve()))
    return f"{shlex.quote(sys.executable)} -m crawler"


def _reload(state: State) -> Config:
    from crawler.config.model import load_config

    config = load_config(state.config_path)
    state.configure_logging(config)  # mask the new config's secrets too
    return config


@cli.command()
@json_option
@pass_state
@library_errors
def status(state: State, as_json: bool) -> None:
    """Per-source last run, result, next run and error streak; alerts; archive size."""
    from datetime import UTC, datetime

    from crawler.archive.lock import writer_pid
    from crawler.archive.queries import archive_counts, source_status
    from crawler.archive.store import Archive

    config = state.config
    writer = writer_pid(config.archive)
    now = datetime.now(UTC).isoformat(timespec="seconds")  # as the archive writes times
    archive = Archive.open_readonly(config.archive)
    try:
        known = source_status(archive.db)
        counts = archive_counts(archive.db)
    finally:
        archive.close()
    rows: list[dict[str, Any]] = []
    for source in config.sources:
        r = known.get(source.name, {})
        # A next run is a service's plan: without a live writer, or already past, it is
        # only what a stopped service had planned.
        if writer is None or (r.get("next_run") or "") < now:
            r = {**r, "next_run": None}
        rows.append({
            "source": source.name, "type": source.type, "enabled": source.enabled,
            "last_run": r.get("last_run"), "last_status": r.get("last_status"),
            "next_run": r.get("next_run"), "error_streak": r.get("error_streak") or 0,
            "last_error": r.get("last_error"), "last_counts": r.get("last_counts"),
        })
    summary = {
        "archive": str(config.archive),
        "archive_bytes": sum(p.stat().st_size for p in config.archive.parent.glob(
            config.archive.name + "*") if p.suffix not in (".lock", ".reserve")),
        "writer_pid": writer,
        **counts,
    }
    cluster: dict[str, Any] | None = None
    if config.cluster is not None:
        from crawler.cli.cluster import cluster_rows, cluster_view, show_cluster

        cluster = cluster_view(config.cluster)
    if as_json:
        emit_json([*({"kind": "source", **r} for r in rows), {"kind": "archive", **summary},
                   *(cluster_rows(cluster) if cluster else [])])
        return
    from crawler.cli.output import table

    table(["source", "last run", "result", "next run", "error streak", "last error"],
          [[r["source"] + ("" if r["enabled"] else " (disabled)"), r["last_run"],
            r["last_status"], r["next_run"], r["error_streak"], (r["last_error"] or "")[:80]]
           for r in rows])
    if writer is None:
        click.echo("service: not running (no newswatch process holds the archive; "
                   "start it with `newswatch run`)")
    else:
        click.echo(f"service: a newswatch process (pid {writer}) holds the archive "
                   "(the service, or a crawl or alerts send in progress)")
    a = summary["alerts"]
    click.echo(f"alerts: {a['pending']} pending, {a['failed']} failed, {a['unknown']} unknown "
               f"(interrupted while sending), {a['sent']} sent")
    click.echo(f"archive: {summary['archive']} ({summary['archive_bytes'] / 1e6:.1f} MB): "
               f"{summary['documents']} documents, {summary['versions']} versions, "
               f"{summary['facts']} facts, {summary['changes']} changes")
    if cluster is not None:
        show_cluster(cluster)


@cli.command()
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("newswatch-demo"), show_default=True,
              help="Where the demo leaves its config, archive and mailbox.")
@pass_state
def demo(state: State, workdir: Path) -> None:
    """Run the whole product offline on a bundled sample news site (under a minute)."""
    from crawler.cli.main import JobFailed, setup_logging
    from crawler.demo.runner import DemoFolderInUse, DemoTimeout, prepare_folder, run_demo

    setup_logging("INFO" if state.verbose else "ERROR")
    try:
        prepare_folder(workdir.resolve())
    except DemoFolderInUse as e:
        raise UsageProblem(str(e)) from None
    click.echo("newswatch demo: a sample news site publishes reports on the US–Iraq coalition "
               "talks;\nthe service crawls it, extracts facts and alerts when they change.\n")
    try:
        result = run_demo(workdir.resolve(), click.echo)
    except DemoTimeout as e:
        raise JobFailed(str(e)) from None
    click.echo("\nSummary")
    click.echo(f"  {result.documents} reports archived, {len(result.changes)} changes detected, "
               f"{result.alerts_sent} alerts delivered to {result.mailbox}")
    for type_, tracker, old, new in result.changes:
        click.echo(f"  {type_:<9} {tracker}: {old} → {new}")
    cfg = result.config
    click.echo("\nThe archive stays for you to query, e.g.:")
    for example in ("changes", "facts history us-troops-iraq", 'search "troops"', "status",
                    "browse"):
        click.echo(f"  {this_command()} --config {shlex.quote(str(cfg))} {example}")
    if not result.alerts_sent:
        sys.exit(1)


@cli.command()
@pass_state
@library_errors
def check(state: State) -> None:
    """Check the archive: database and full-text index integrity, unfinished runs and sends."""
    import sqlite3

    from crawler.archive.lock import writer_pid
    from crawler.archive.queries import fts_problem, integrity_problems, unfinished_rows
    from crawler.archive.store import Archive, ArchiveUnusable

    path = state.config.archive
    problems: list[str] = []
    try:
        archive = Archive.open_readonly(path)
    except ArchiveUnusable as e:
        problems.append(str(e).replace("run `newswatch check`, ", ""))
    else:
        try:
            problems += integrity_problems(archive.db)
            if not problems:  # a damaged file fails every later check the same way
                fts = fts_problem(str(path))
                problems += [fts] if fts else []
                writer = writer_pid(path)
                try:
                    runs, sending = unfinished_rows(archive.db)
                except sqlite3.DatabaseError as e:
                    problems.append(f"runs and alerts not checked: {e}")
                    runs, sending = [], []
                if writer is not None:
                    click.echo(f"a newswatch process (pid {writer}) is writing to the archive: "
                               f"{len(runs)} run(s) running, {len(sending)} alert(s) sending")
                else:
                    problems += [
                        f"run {r['id']} of {r['source']} (started {r['started']}) was left "
                        "'running' by a process that stopped; the next crawl or service start "
                        "marks it interrupted" for r in runs]
                    problems += [
                        f"alert {a['id']} ({a['channel']}, change {a['change_id']}) was left "
                        "'sending': it may or may not have been delivered; the next crawl or "
                        "service start marks it unknown (not resent)" for a in sending]
        finally:
            archive.close()
    if not problems:
        click.echo(f"{path}: ok")
        return
    for problem in problems:
        click.echo(f"problem: {problem}")
    click.echo(f"{path}: {len(problems)} problem(s)")
    sys.exit(1)
