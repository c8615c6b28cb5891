"""Cluster benchmark: pages/s into the archive with 1 and 2 workers, and the writer's ceiling.

Serves the corpus pages on 127.0.0.1 behind FEEDS generated RSS feeds (one source each),
starts a real redis-server, the writer and 1, then 2 `newswatch worker` processes (the
real commands), queues every source and times from the queueing to the last run
recorded in the archive (worker start-up excluded: they are waiting before the clock
starts), and the workers' CPU seconds (their processes and extraction children, from
/proc) in that window. Each round has a fresh archive, Redis and worker folders. With one
worker, two more passes with nothing new: articles not due for a revisit (only the feeds
fetched), then every article due on a fresh worker with no HTTP cache (each page fetched,
found byte for byte as archived, not extracted). Then the writer alone:
REPORTS extracted reports (the corpus's, under distinct URLs) queued up front and drained
in-process into a fresh archive (facts, FTS, change detection at each run's end).

    python bench/cluster.py [CORPUS_DIR] [--feeds 10] [--reports 2000]

From those it works out, on paper, the machines for 20,000 sources every 15 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "pages"

from support.redisserver import RedisServer  # noqa: E402

from crawler.demo.runner import serve_folder  # noqa: E402

STORIES = """stories:
  - name: us-iraq-coalition
    match: {all: [Iraq], any: [coalition, withdrawal, troops]}
    trackers:
      - {name: us-troops-iraq, kind: troops, about: [Iraq], not_about: [Syria]}
"""


def write_site(pages: list[Path], site: Path, base: str, feeds: int) -> None:
    (site / "pages").mkdir(parents=True)
    for page in pages:
        shutil.copy(page, site / "pages" / page.name)
    for f in range(feeds):
        items = "".join(
            f"<item><title>Page {p.stem}</title><link>{escape(base)}/pages/{p.name}</link>"
            f"<guid>{p.stem}</guid></item>" for p in pages[f::feeds])
        (site / f"feed{f}.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>f{f}</title><link>{base}/</link><description>b</description>{items}"
            "</channel></rss>", encoding="utf-8")


def write_config(folder: Path, base: str, feeds: int, per_feed: int, redis_url: str,
                 revisit: str = "0") -> Path:
    sources = "".join(
        f"  - {{name: feed{f}, type: feed, url: '{base}/feed{f}.xml', max_items: {per_feed},"
        f" revisit: {revisit}}}\n" for f in range(feeds))
    path = folder / "config.yaml"
    path.write_text(
        "archive: bench.db\ncrawl: {obey_robots: false, autothrottle: false, concurrency: 16,"
        f" per_domain: 16}}\ncluster: {{redis: '{redis_url}', lease: 30s}}\n"
        f"sources:\n{sources}{STORIES}", encoding="utf-8")
    return path


def start(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(config), "-v",
                             *args], stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def runs_done(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM runs WHERE status != 'running'"
                                ).fetchone()[0]
    except sqlite3.Error:
        return 0


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their children
    (a worker's extraction processes), from /proc."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    wanted = set(pids)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return sum(used.get(pid, 0.0) for pid in wanted)


class Round:
    """A fresh archive, Redis, writer and ``workers`` workers, waiting for jobs."""

    def __init__(self, tmp: Path, name: str, base: str, feeds: int, per_feed: int,
                 workers: int):
        self.folder = tmp / name
        self.folder.mkdir()
        self.feeds = feeds
        self.server = RedisServer(self.folder / "redis").start()
        self.config_args = (self.folder, base, feeds, per_feed, self.server.url)
        self.config = write_config(*self.config_args, revisit="1h")
        self.writer = start(self.config, self.folder / "writer.log", "writer")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.count = 0
        self.start_workers(workers)
        wait_for(lambda: "archiving reports" in (self.folder / "writer.log").read_text(), 60,
                 "the writer")

    def start_workers(self, n: int) -> None:
        """``n`` new workers, each with an empty folder (no HTTP cache)."""
        first = self.count
        self.count += n
        self.workers += [start(self.config, self.folder / f"w{i}.log", "worker", "--name",
                               f"w{i}", "--dir", str(self.folder / f"w{i}"))
                         for i in range(first, self.count)]
        wait_for(lambda: all("waiting for jobs" in (self.folder / f"w{i}.log").read_text()
                             for i in range(first, self.count)), 60, "the workers")

    def set_revisit(self, revisit: str) -> None:
        """For the workers started from now on."""
        write_config(*self.config_args, revisit=revisit)

    def stop_workers(self) -> None:
        for w in self.workers:
            w.terminate()
            w.wait(30)
        self.workers = []

    def crawl(self) -> tuple[float, float]:
        """Queue every source; (seconds to the last run recorded, the workers' CPU s)."""
        pids = [w.pid for w in self.workers]
        done = runs_done(self.folder / "bench.db")
        cpu = tree_cpu(pids)
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crawler", "--config", str(self.config), "-q",
                        "cluster", "enqueue"], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_for(lambda: runs_done(self.folder / "bench.db") == done + self.feeds, 600,
                 "every run")
        return time.perf_counter() - began, tree_cpu(pids) - cpu

    def close(self) -> None:
        self.stop_workers()
        self.writer.terminate()
        self.writer.wait(30)
        self.server.stop()


def writer_ceiling(tmp: Path, pages: list[Path], count: int, per_run: int) -> float:
    """Reports/s the writer alone stores (facts, FTS, detection at each run's end)."""
    import redis

    from crawler.archive.store import Archive
    from crawler.cluster.frontier import REPORTS
    from crawler.cluster.writer import Writer
    from crawler.config.model import load_config
    from crawler.extraction.analysis import analyse

    folder = tmp / "writer"
    folder.mkdir()
    server = RedisServer(folder / "redis").start()
    config = load_config(write_config(folder, "http://127.0.0.1:9", 1, 1, server.url))
    reports = []
    for page in pages:
        html = page.read_text(encoding="utf-8", errors="replace")
        report = analyse({"url": f"http://bench.example/{page.name}", "source": "feed0",
                          "html": html}, config.stories)
        if report is not None:
            reports.append(report)
    r = redis.Redis.from_url(server.url)
    pipe = r.pipeline()
    for i in range(count):
        report = reports[i % len(reports)]
        report = replace(report, url=f"{report.url}?copy={i}",
                         text=f"{report.text}\n(copy {i})")  # a distinct text: a new document
        job = f"{i // per_run + 1}-0"
        pipe.xadd(REPORTS, {"kind": "report", "job": job, "source": "feed0",
                            "body": json.dumps(report.to_dict())})
        if (i + 1) % per_run == 0 or i + 1 == count:
            pipe.xadd(REPORTS, {"kind": "run", "job": job, "source": "feed0", "body": json.dumps(
                {"status": "ok", "counts": {"fetched": per_run}, "details": []})})
    pipe.execute()
    archive = Archive.open(config.archive)
    writer = Writer(config, archive)
    try:
        began = time.perf_counter()
        while writer.step(block=0.05):
            pass
        seconds = time.perf_counter() - began
    finally:
        writer.close()
        archive.close()
        server.stop()
    assert writer.stored == count, (writer.stored, count)
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()
    pages = sorted(args.corpus.glob("*.html"))
    if not pages:
        raise SystemExit(f"no pages in {args.corpus}")
    n, feeds = len(pages), args.feeds
    per_feed = -(-n // feeds)
    print(f"{n} pages in {feeds} feeds; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        write_site(pages, tmp / "site", "BASE", feeds)
        site = tmp / "site"
        server, base = serve_folder(site)
        for feed in site.glob("feed*.xml"):
            feed.write_text(feed.read_text(encoding="utf-8").replace("BASE", base),
                            encoding="utf-8")
        try:
            rates, cpu_new = {}, 0.0
            for workers in (1, 2):
                rnd = Round(tmp, f"round-{workers}", base, feeds, per_feed, workers)
                try:
                    seconds, cpu = rnd.crawl()
                    rates[workers] = n / seconds
                    print(f"{workers} worker(s), first crawl: {seconds:.1f} s, "
                          f"{rates[workers]:.1f} pages/s into the archive; {cpu:.0f} worker "
                          f"CPU-s, {n / cpu:.1f} pages per worker CPU-second")
                    if workers > 1:
                        continue
                    cpu_new = cpu / n
                    seconds, cpu = rnd.crawl()
                    cpu_not_due = cpu / feeds
                    print(f"  again, articles not due (revisit 1h): {seconds:.2f} s, "
                          f"{feeds / seconds:.1f} source crawls/s, "
                          f"{1000 * cpu_not_due:.0f} worker CPU-ms per source crawl")
                    rnd.stop_workers()
                    rnd.set_revisit("0")
                    rnd.start_workers(1)  # a fresh worker: no HTTP cache
                    seconds, cpu = rnd.crawl()
                    cpu_due = cpu / n
                    print(f"  again, every article due, on a worker with no HTTP cache: "
                          f"{seconds:.1f} s, {n / seconds:.1f} pages/s, "
                          f"{1000 * cpu_due:.0f} worker CPU-ms per page (fetched, the same "
                          f"bytes: not extracted) vs {1000 * cpu_new:.0f} for a new page")
                finally:
                    rnd.close()
            print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (same machine: they "
                  "share its CPUs)")
        finally:
            server.shutdown()
        threading.Event().wait(0.1)
        ceiling = writer_ceiling(tmp, pages, args.reports, per_run=50)
        print(f"writer alone: {ceiling:.0f} reports/s into SQLite (facts, FTS, detection)")
    # On paper: 20,000 sources every 15 minutes, feeds of 20 items, revisit 1h (each
    # article is due at every 4th crawl: 5 of 20 re-fetched per crawl).
    crawls = 20_000 / 900
    print(f"\n20,000 sources / 15 min = {crawls:.1f} source crawls/s; feeds of 20 items, "
          "revisit 1h: 5 articles due per crawl")
    for new in (1, 5):
        need = crawls * new
        cpu = crawls * (cpu_not_due + 5 * cpu_due + new * cpu_new)
        print(f"  {new} new or revised report(s) per crawl: writer at {need:.0f} reports/s "
              f"= {need / ceiling:.0%} of its ceiling; workers need {cpu:.1f} CPU-s per s "
              f"= {cpu / (os.cpu_count() or 2):.1f} machines like this one, fully used")


if __name__ == "__main__":
    main()
