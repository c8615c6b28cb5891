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
      - {{name: us-troops-iraq, label: US troops in Iraq, kind: troops,
         about: [Iraq, Iraqi, Baghdad, Erbil, Kurdistan, Anbar], not_about: [Syria, Syrian]}}
      - {{name: coalition-members, label: Coalition members, kind: members, about: [coalition]}}
      - {{name: coalition-end, label: Coalition mission end, kind: timeline,
         about: [coalition, mission], cues: [end, conclude, until, through, complete]}}
      - {{name: withdrawal-start, label: Withdrawal start, kind: timeline,
         about: [withdrawal, withdraw, drawdown], cues: [begin, commence, start]}}
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


@dataclass
class Watcher:
    """Prints what the archive records: reports, tracked facts, changes, alerts."""

    db_path: Path
    echo: Callable[[str], None]
    seen: dict[str, int] = field(default_factory=lambda: {
        "documents": 0, "versions": 0, "facts": 0, "changes": 0, "alerts": 0})

    def poll(self) -> None:
        if not self.db_path.exists():
            return
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            self._poll(conn)
        except sqlite3.OperationalError:
            pass  # tables not created yet
        finally:
            conn.close()

    def _new(self, conn: sqlite3.Connection, table: str, sql: str, where: str = "") -> list[Any]:
        rows = conn.execute(
            f"{sql} WHERE {table}.id > ? {where} ORDER BY {table}.id", [self.seen[table]]
        ).fetchall()
        if rows:
            self.seen[table] = max(self.seen[table], max(r[0] for r in rows))
        return rows

    def _poll(self, conn: sqlite3.Connection) -> None:
        for _, source, title, published, n in self._new(
            conn, "versions",
            "SELECT versions.id, d.source, d.title, d.published, "
            "(SELECT count(*) FROM versions w WHERE w.document_id = d.id AND w.id <= versions.id) "
            "FROM versions JOIN documents d ON d.id = versions.document_id",
        ):
            label = "archived" if n == 1 else f"revised (v{n})"
            self.echo(f"  {label:<12} [{source}] {title} ({published or 'undated'})")
        for _, tracker, display, raw in self._new(
            conn, "facts", "SELECT facts.id, tracker, display, raw FROM facts",
            "AND tracker IS NOT NULL",
        ):
            self.echo(f"  {'fact':<12} {tracker} = {display}   «{raw}»")
        for _, type_, tracker, old, new in self._new(
            conn, "changes",
            "SELECT changes.id, type, tracker, old_display, new_display FROM changes",
        ):
            if type_ == "baseline":
                self.echo(f"  {'baseline':<12} {tracker} = {new}")
            else:
                self.echo(f"* {type_.upper():<12} {tracker}: {old} → {new}")
        for _, channel, tracker, old, new, sentence, source in self._new(
            conn, "alerts",
            "SELECT alerts.id, channel, c.tracker, c.old_display, c.new_display, f.sentence, "
            "d.source FROM alerts JOIN changes c ON c.id = alerts.change_id "
            "JOIN facts f ON f.id = c.new_fact_id JOIN documents d ON d.id = f.document_id",
            "AND alerts.status = 'sent'",
        ):
            self.echo(f"! {'ALERT sent':<12} via {channel}: {tracker}: {old} → {new}")
            self.echo(f"  {'':<12} [{source}] «{' '.join(sentence.split())}»")


async def _wait_for_fresh_runs(db_path: Path, since: str, sources: int, timeout: float) -> None:
    """Wait until every source finished a run that started after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
            try:
                done = conn.execute(
                    "SELECT count(DISTINCT source) FROM runs WHERE started > ? "
                    "AND finished IS NOT NULL", [since]).fetchone()[0]
                pending = conn.execute(
                    "SELECT count(*) FROM alerts WHERE status = 'pending'").fetchone()[0]
            finally:
                conn.close()
            if done >= sources and not pending:
                return
        except sqlite3.OperationalError:
            pass
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
    """Run the whole demo in ``workdir`` (created; an earlier demo there is replaced)."""
    from crawler.archive.store import iso
    from crawler.config.model import load_config
    from crawler.scraping.reactor import run_on_reactor
    from crawler.service import Service

    if workdir.exists():
        for name in ("demo.db", "demo.db-wal", "demo.db-shm", "alerts.mbox"):
            (workdir / name).unlink(missing_ok=True)
        shutil.rmtree(workdir / "site", ignore_errors=True)
        shutil.rmtree(workdir / "cache", ignore_errors=True)
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
    conn = sqlite3.connect(config.archive)
    try:
        documents = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        changes = conn.execute(
            "SELECT type, tracker, old_display, new_display FROM changes "
            "WHERE type != 'baseline' ORDER BY id").fetchall()
        sent = conn.execute("SELECT count(*) FROM alerts WHERE status = 'sent'").fetchone()[0]
    finally:
        conn.close()
    return DemoResult(workdir, config_path, documents, changes, sent,
                      Path(config.alerts.mailbox or ""))
