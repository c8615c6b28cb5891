"""The offline demo: a sample news site, the real service, alerts as they happen.

The bundled site (``crawler/demo/site``, a state.gov-like briefings section and
two wire feeds on the US–Iraq coalition talks) is served on 127.0.0.1; the real
service crawls it on a short schedule while the site publishes the files of
``crawler/demo/steps/N`` one step at a time (a troop figure and an end date
move, other outlets repeat them, a stale copy appears, an article is revised).
A watcher prints what the archive records as it happens; alerts go to a local
mbox file and the console.
"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from crawler.archive import queries
from crawler.changes.records import ChangeType

HERE = Path(__file__).parent
SITE = HERE / "site"
STEPS = HERE / "steps"
TEXT_SUFFIXES = {".html", ".xml", ".txt"}

CONFIG = """\
# Written by `newswatch demo`: the demo's own configuration (a local sample site).
archive: demo.db
crawl: {{obey_robots: true, autothrottle: false, timeout: 5, retries: 1, cache_dir: cache}}
service: {{jitter: 0, grace: 5, log_level: WARNING}}
sources:
  - {{name: state-briefings, type: state-briefings, url: "{base}/department-press-briefings/",
     pages: 1, every: 2s, revisit: 0}}
  - {{name: wire, type: feed, url: "{base}/feeds/wire.xml", every: 2s, revisit: 0}}
  - {{name: regional, type: feed, url: "{base}/feeds/regional.xml", every: 2s, revisit: 0}}
stories:
  - name: us-iraq-coalition
    match: {{all: [Iraq], any: [coalition, withdrawal, troops, drawdown]}}
    trackers:
      - {{name: us-troops-iraq, label: US troops in Iraq, kind: troops, role: current,
         actor: [us, coalition], place: Iraq}}
      - {{name: us-troops-iraq-planned, label: Planned US troop level in Iraq, kind: troops,
         role: planned, actor: [us, coalition], place: Iraq, within: true}}
      - {{name: mission-end-federal-iraq, label: End of the coalition mission in federal Iraq,
         kind: timeline, event: phase-end}}
      - {{name: presence-end, label: End of the remaining coalition presence, kind: timeline,
         event: [final, elsewhere]}}
      - {{name: coalition-members, label: Global Coalition members, kind: members,
         actor: coalition}}
alerts:
  mailbox: alerts.mbox
  every: 1s
  retry: {{attempts: 3, base: 1s, max: 5s}}
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_folder(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve a folder on 127.0.0.1 (a free port) in a daemon thread; returns (server, base URL).

    Static files with Last-Modified and If-Modified-Since (304), quiet. The demo and the
    benchmarks use it; ``server.shutdown()`` stops it.
    """
    handler = lambda *a, **kw: _QuietHandler(*a, directory=str(root), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def publish(src: Path, dest: Path, base: str) -> list[str]:
    """Copy a step's files over the served folder, filling in the site's address."""
    written = []
    for path in sorted(p for p in src.rglob("*") if p.is_file() and p.name != "README.md"):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in TEXT_SUFFIXES:
            target.write_text(path.read_text(encoding="utf-8").replace("{{BASE}}", base),
                              encoding="utf-8")
        else:
            shutil.copyfile(path, target)
        written.append(str(path.relative_to(src)))
    return written


class DemoFolderInUse(Exception):
    """The demo's folder holds files the demo did not write (it never replaces them)."""


class DemoTimeout(Exception):
    """The demo's service did not finish a step in time."""


MARKER = ".newswatch-demo"  # in a folder the demo wrote; only such a folder is reused
DEMO_FILES = ("config.yaml", "demo.db", "demo.db-wal", "demo.db-shm", "demo.db.lock",
              "demo.db.reserve", "alerts.mbox", MARKER)
DEMO_FOLDERS = ("site", "cache")


def prepare_folder(workdir: Path) -> None:
    """Make ``workdir`` ready for a demo: new, empty, or an earlier demo's (then cleared).

    A folder holding anything else — a user's config.yaml or alerts.mbox above all —
    is refused, never overwritten.
    """
    if workdir.exists() and not workdir.is_dir():
        raise DemoFolderInUse(f"{workdir} is a file; give the demo a new folder (--dir)")
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise DemoFolderInUse(
                f"{workdir} holds files the demo did not write; it never replaces them. "
                "Give it a new or empty folder, e.g. --dir newswatch-demo")
        foreign = sorted(p.name for p in workdir.iterdir()
                         if p.name not in DEMO_FILES and p.name not in DEMO_FOLDERS)
        if foreign:
            raise DemoFolderInUse(
                f"{workdir} holds files the demo did not write ({', '.join(foreign[:5])}); "
                "it never replaces them. Give it a new or empty folder")
        for name in DEMO_FILES:
            (workdir / name).unlink(missing_ok=True)
        for name in DEMO_FOLDERS:
            shutil.rmtree(workdir / name, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("written by `newswatch demo`; the folder may be replaced by "
                                  "the next demo\n", encoding="utf-8")


@dataclass
class Watcher:
    """Prints what the archive records: reports, tracked facts, changes, alerts."""

    db_path: Path
    echo: Callable[[str], None]
    seen: dict[str, int] = field(default_factory=lambda: {
        "versions": 0, "facts": 0, "changes": 0, "alerts": 0})

    def poll(self) -> None:
        if not self.db_path.exists():
            return
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            self._poll(sqlite_utils.Database(conn))
        except sqlite3.OperationalError:
            pass  # tables not created yet
        finally:
            conn.close()

    def _new(self, kind: str, rows: list[Any]) -> list[Any]:
        if rows:
            self.seen[kind] = max(self.seen[kind], max(r[0] for r in rows))
        return rows

    def _poll(self, db: sqlite_utils.Database) -> None:
        for _, source, title, published, n in self._new(
                "versions", queries.demo_new_versions(db, self.seen["versions"])):
            label = "archived" if n == 1 else f"revised (v{n})"
            self.echo(f"  {label:<12} [{source}] {title} ({published or 'undated'})")
        for _, tracker, display, raw in self._new(
                "facts", queries.demo_new_facts(db, self.seen["facts"])):
            self.echo(f"  {'fact':<12} {tracker} = {display}   «{raw}»")
        for _, type_, tracker, old, new in self._new(
                "changes", queries.demo_new_changes(db, self.seen["changes"])):
            if type_ == ChangeType.BASELINE:
                self.echo(f"  {'baseline':<12} {tracker} = {new}")
            else:
                self.echo(f"* {type_.upper():<12} {tracker}: {old} → {new}")
        for _, channel, tracker, old, new, sentence, source in self._new(
                "alerts", queries.demo_new_sent_alerts(db, self.seen["alerts"])):
            self.echo(f"! {'ALERT sent':<12} via {channel}: {tracker}: {old} → {new}")
            self.echo(f"  {'':<12} [{source}] «{' '.join(sentence.split())}»")


async def _wait_for_fresh_runs(db_path: Path, since: str, sources: int, timeout: float) -> None:
    """Wait until every source finished a run that started after ``since``.

    Raises DemoTimeout, saying what is missing, when that takes over ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    done = pending = 0
    while True:
        try:
            conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
            try:
                done, pending = queries.runs_finished_since(sqlite_utils.Database(conn), since)
            finally:
                conn.close()
            if done >= sources and not pending:
                return
        except sqlite3.OperationalError:
            pass  # the archive is being created
        if time.monotonic() >= deadline:
            raise DemoTimeout(
                f"the demo's service did not finish in {timeout:.0f} s: {done} of {sources} "
                f"sources crawled, {pending} alert(s) pending (see {db_path})")
        await asyncio.sleep(0.3)


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    config: Path
    documents: int
    changes: list[tuple[str, str, str | None, str]]
    alerts_sent: int
    mailbox: Path


def run_demo(workdir: Path, echo: Callable[[str], None], step_timeout: float = 30.0
             ) -> DemoResult:
    """Run the whole demo in ``workdir`` (created; an earlier demo there is replaced).

    Raises DemoFolderInUse when ``workdir`` holds files the demo did not write.
    """
    from crawler.archive.store import iso
    from crawler.config.model import load_config
    from crawler.scraping.reactor import run_on_reactor
    from crawler.service import Service

    prepare_folder(workdir)
    site = workdir / "site"
    site.mkdir(parents=True)
    server, base = serve_folder(site)
    publish(SITE, site, base)
    config_path = workdir / "config.yaml"
    config_path.write_text(CONFIG.format(base=base), encoding="utf-8")
    config = load_config(config_path)
    watcher = Watcher(config.archive, echo)
    steps = sorted((p for p in STEPS.iterdir() if p.is_dir()), key=lambda p: int(p.name))

    async def main() -> None:
        service = Service(config)
        task = asyncio.create_task(service.run())

        async def watch() -> None:
            while True:
                watcher.poll()
                await asyncio.sleep(0.25)

        watching = asyncio.create_task(watch())
        try:
            echo(f"sample site at {base}: the service starts crawling it")
            started = iso()
            await _wait_for_fresh_runs(config.archive, started, len(config.sources),
                                       step_timeout)
            for step in steps:
                await asyncio.sleep(1.0)  # runs started before publishing don't count
                started = iso()
                files = publish(step, site, base)
                echo(f"\n— the site publishes step {step.name}: {', '.join(files)}")
                await asyncio.sleep(1.0)
                await _wait_for_fresh_runs(config.archive, started, len(config.sources),
                                           step_timeout)
        finally:
            watching.cancel()
            service.stop()
            await task
            watcher.poll()

    try:
        run_on_reactor(main())
    finally:
        server.shutdown()
        server.server_close()
    conn = sqlite3.connect(f"file:{config.archive}?mode=ro", uri=True)
    try:
        documents, changes, sent = queries.demo_outcome(sqlite_utils.Database(conn))
    finally:
        conn.close()
    return DemoResult(workdir, config_path, documents, changes, sent,
                      Path(config.alerts.mailbox or ""))
