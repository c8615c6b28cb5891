"""Scale benchmark: the cost of a cycle grows with new work only, not with what is stored.

(a) ``feeds``: N feed sources (default 1,000) x 20 articles on 127.0.0.1 (ETag and
    Last-Modified, conditional GETs answered 304), synthetic article pages with some text.
    The first ``newswatch crawl`` (whole command) archives and extracts every article; then
    steady cycles: every feed answers 304 except a few that gained one new article each.
    Time and peak RSS (the largest single process: the crawler or an extraction worker)
    of each cycle.

(b) ``archive``: archives of 1,000 and 100,000 documents (10 facts each: 10,000 and
    1,000,000 facts, all evaluated, with the trackers' change history), built through the
    archive's own API (``Archive.store`` with rows from ``fact_rows``, runs, and change rows
    from the detector's ``ChangeStore``). Then rounds of: 10 new reports stored, one
    change-detection pass (``detect_changes``) timed; the median pass on the large archive
    against the small one. And ``status``: its queries in-process and the whole command.

    python bench/scale.py feeds [--sources 1000] [--cycles 3] [--new 5] [--root CHECKOUT]
    python bench/scale.py archive [--small 1000] [--large 100000] [--rounds 5]

Targets: steady 1,000-source cycle <= 60 s and RSS <= 300 MB; the detection pass on
100k documents within 2x of the pass on 1k documents.
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEADY_TARGET = 60.0
RSS_TARGET_MB = 300.0
DETECT_RATIO_TARGET = 2.0

# ============================================================ (a) feeds

PARAGRAPHS = [
    "Officials from both governments met again this week in Baghdad to discuss the "
    "timetable of the transition and the future of the bases used by the coalition.",
    "The talks, which began last year, cover the security partnership, training and the "
    "advisory role that foreign forces would keep after the mission ends.",
    "Analysts said the agreement would leave a smaller presence in the Kurdistan Region, "
    "where officials have asked for continued support against militant cells.",
    "Parliament has debated the issue for months, and several blocs have called for a "
    "faster withdrawal, while others warned against a security vacuum.",
    "The ministry said further meetings were planned and that a joint statement would "
    "follow once the committees had finished their work on the remaining questions.",
]


def article(source: int, item: int) -> str:
    rng = random.Random(source * 1000 + item)
    figure = rng.choice([2000, 2500, 2500, 2500, 3000])
    body = "".join(f"<p>{p}</p>" for p in rng.sample(PARAGRAPHS, 4))
    return (f"<!doctype html><html><head><title>Report {source}-{item}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>Report {source}-{item} on the "
            f"coalition talks</h1><p>The United States has approximately {figure:,} troops in "
            f"Iraq, officials said on Monday.</p>{body}</article>"
            f"<footer>Copyright outlet {source}</footer></body></html>")


def feed(base: str, source: int, items: int, extra: int = 0) -> str:
    entries = []
    for item in range(items + extra):
        link = f"{base}/s{source}/a{item}.html"
        when = email.utils.formatdate(1_750_000_000 + item * 3600 + source, usegmt=True)
        entries.append(f"<item><title>Report {source}-{item}</title><link>{link}</link>"
                       f"<guid>{link}</guid><pubDate>{when}</pubDate></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>outlet {source}</title><link>{base}/</link><description>bench"
            f"</description>{''.join(reversed(entries))}</channel></rss>")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with ETag and Last-Modified; If-None-Match / If-Modified-Since: 304."""

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            st = path.stat()
            etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return None
        return super().send_head()

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            st = path.stat()
            self.send_header("ETag", f'"{st.st_mtime_ns:x}-{st.st_size:x}"')
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A thousand crawls connect at once: the default backlog (5) drops their SYNs, and
    # the kernel's retransmits (1 s, 3 s, 7 s ...) would be timed instead of newswatch.
    request_queue_size = 1024


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = lambda *a, **kw: _Handler(*a, directory=str(root), **kw)  # noqa: E731
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


MEASURE = ("import resource, subprocess, sys, time\n"
           "t = time.perf_counter()\n"
           "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "wall = time.perf_counter() - t\n"
           "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "sys.stderr.write(p.stderr)\n"
           "print(p.returncode, wall, rss)\n"
           "print(p.stdout)\n")


def crawl_command(config: Path, root: Path = ROOT) -> tuple[float, float, list[dict[str, Any]]]:
    """`newswatch crawl --json` in a fresh measuring process: (seconds, peak RSS MB, rows).

    The peak is RUSAGE_CHILDREN's: the largest single process among the command and the
    processes it waited for (its extraction workers, through the forkserver).
    """
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "crawler", "-q", "--config",
         str(config), "crawl", "--json"], capture_output=True, text=True, env=env, cwd=root)
    first, _, rest = proc.stdout.partition("\n")
    code, wall, rss = first.split()
    if code != "0":
        sys.exit(f"crawl failed ({code}):\n{rest[-3000:]}\n{proc.stderr[-3000:]}")
    rows = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    return float(wall), int(rss) / 1024, rows


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("fetched", "new_documents", "new_versions", "unchanged", "errors")
    return {k: sum(r[k] for r in rows) for k in keys}


def bench_feeds(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        site = folder / "site"
        site.mkdir()
        server, base = serve(site)
        try:
            t0 = time.perf_counter()
            for s in range(args.sources):
                (site / f"s{s}").mkdir()
                for i in range(args.items):
                    (site / f"s{s}" / f"a{i}.html").write_text(article(s, i), encoding="utf-8")
                (site / f"f{s}.xml").write_text(feed(base, s, args.items), encoding="utf-8")
            sources = "\n".join(f"  - {{name: outlet-{s:04d}, type: feed, url: '{base}/f{s}.xml'}}"
                                for s in range(args.sources))
            config = folder / "config.yaml"
            config.write_text(f"""archive: archive.db
crawl:
  concurrency: {args.concurrency}
  per_domain: {args.concurrency}
  obey_robots: false
sources:
{sources}
stories:
  - name: us-iraq
    match: {{all: [Iraq]}}
    trackers:
      - {{name: us-troops-iraq, kind: troops, place: Iraq}}
""", encoding="utf-8")
            print(f"{args.sources:,} feed sources x {args.items} articles on one local server "
                  f"(written in {time.perf_counter() - t0:.1f} s); crawl.concurrency and "
                  f"per_domain {args.concurrency}, robots.txt off; other settings default")
            wall, rss, rows = crawl_command(config, args.root.resolve())
            n = totals(rows)
            print(f"first cycle: {wall:.1f} s, peak RSS {rss:.0f} MB, {n['new_documents']:,} "
                  f"new documents, {n['errors']} errors "
                  f"({n['new_documents'] / wall:.0f} pages/s)")
            steady: list[tuple[float, float]] = []
            extras = [0] * args.sources
            for cycle in range(args.cycles):
                changed = random.Random(cycle).sample(range(args.sources), args.new)
                for s in changed:  # one new article at the top of these feeds
                    extras[s] += 1
                    item = args.items + extras[s] - 1
                    (site / f"s{s}" / f"a{item}.html").write_text(article(s, item),
                                                                 encoding="utf-8")
                    (site / f"f{s}.xml").write_text(feed(base, s, args.items, extras[s]),
                                                    encoding="utf-8")
                wall, rss, rows = crawl_command(config, args.root.resolve())
                n = totals(rows)
                steady.append((wall, rss))
                print(f"steady cycle {cycle + 1}: {wall:.1f} s, peak RSS {rss:.0f} MB, "
                      f"{n['new_documents']} new documents (expected {args.new}), "
                      f"{n['errors']} errors")
                if n["new_documents"] != args.new or n["errors"]:
                    print("  unexpected counts:", n)
        finally:
            server.shutdown()
    wall = statistics.median(w for w, _ in steady)
    rss = max(r for _, r in steady)
    ok = wall <= STEADY_TARGET and rss <= RSS_TARGET_MB
    print(f"\nsteady cycle: median {wall:.1f} s over {len(steady)} cycles (target <= "
          f"{STEADY_TARGET:.0f} s at 1,000 sources), peak RSS {rss:.0f} MB (target <= "
          f"{RSS_TARGET_MB:.0f} MB): {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


# ============================================================ (b) archive

TRACKERS_YAML = """stories:
  - name: us-iraq
    match: {all: [Iraq]}
    trackers:
      - {name: us-troops-iraq, kind: troops, place: Iraq}
      - {name: us-troops-syria, kind: troops, place: Syria}
      - {name: coalition-members, kind: members}
      - {name: coalition-end, kind: timeline, about: [coalition, mission], cues: [end, conclude]}
"""

REPORT = """The United States has approximately {iraq:,} troops in Iraq, officials said.
About {syria:,} U.S. troops remain in Syria, the Pentagon said.
The coalition has {members} members, a spokesman said.
The coalition mission will end by {end}, according to the joint statement.
Officials said about {iraq:,} troops were stationed in Iraq as of Monday.
Roughly {syria:,} American troops are deployed in Syria.
The coalition, which has {members} member nations, met in Baghdad.
The U.S. military mission in Iraq will conclude by {end}, officials said.
There are some {iraq:,} U.S. troops in Iraq today.
Some {syria:,} troops are in Syria now."""

# The trackers' values over the archive's history: one phase after another.
PHASES = [
    {"iraq": 5000, "syria": 2000, "members": 60, "end": "December 2024"},
    {"iraq": 4000, "syria": 1500, "members": 70, "end": "September 2025"},
    {"iraq": 3000, "syria": 1200, "members": 80, "end": "December 2025"},
    {"iraq": 2500, "syria": 900, "members": 86, "end": "September 2026"},
]
OUTLETS = 50


def archive_config(folder: Path, archive: Path) -> Path:
    sources = "\n".join(f"  - {{name: outlet-{o:02d}, type: feed, "
                        f"url: 'https://outlet{o}.example/feed.xml'}}" for o in range(OUTLETS))
    path = folder / f"{archive.stem}.yaml"
    path.write_text(f"archive: {archive}\nsources:\n{sources}\n{TRACKERS_YAML}",
                    encoding="utf-8")
    return path


def build_archive(config_path: Path, docs: int) -> dict[str, int]:
    """``docs`` reports of the outlets' first crawls, their facts evaluated, and each
    tracker's history: a baseline, then a confirmed change at every phase."""
    from crawler.archive.changes import ChangeStore
    from crawler.archive.store import Archive, RunCounts
    from crawler.changes.records import FactRecord
    from crawler.config.model import load_config
    from crawler.extraction.analysis import fact_rows
    from crawler.extraction.records import AnalyzedReport

    config = load_config(config_path)
    stories = list(config.stories)
    templates = [fact_rows(REPORT.format(**p), "2024-01-01", stories, "Iraq talks")
                 for p in PHASES]
    archive = Archive.open(config.archive)
    archive.db.execute("PRAGMA synchronous = OFF")  # a build, not a crawl
    runs = {}
    for o in range(OUTLETS):
        source = f"outlet-{o:02d}"
        runs[source] = archive.start_run(source)
    store = ChangeStore(archive)
    start = time.mktime((2023, 1, 1, 0, 0, 0, 0, 0, 0))
    span = 3 * 365 * 86400
    phase_seen = -1
    facts = 0
    batch = 500
    for first in range(0, docs, batch):
        with archive.write():
            for d in range(first, min(docs, first + batch)):
                phase = d * len(PHASES) // docs
                day = time.strftime("%Y-%m-%d", time.gmtime(start + span * d // docs))
                o = d % OUTLETS
                rows = [{**r, "published": day, "evaluated": 1} for r in templates[phase]]
                stored = archive.store(AnalyzedReport(
                    url=f"https://outlet{o}.example/{day}/{d}", source=f"outlet-{o:02d}",
                    title=f"Iraq talks, report {d}", published=day,
                    text=f"Report {d}.\n" + REPORT.format(**PHASES[phase]),
                    stories=("us-iraq",), facts=tuple(rows), run_id=runs[f"outlet-{o:02d}"],
                ))
                facts += len(rows)
                if phase != phase_seen:  # the history: a baseline, then a change per phase
                    phase_seen = phase
                    _history(archive, store, stored.version_id, phase, FactRecord)
    for source, run in runs.items():
        archive.finish_run(run, source, RunCounts(fetched=docs // OUTLETS), [])
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    return {"documents": docs, "facts": facts}


def _history(archive: Any, store: Any, version_id: int, phase: int, fact_record: Any) -> None:
    """One change row per tracker for the first report of a phase (a baseline first)."""
    from crawler.archive.changes import FACT_SQL

    seen: set[str] = set()
    for row in archive.db.query(f"{FACT_SQL} WHERE f.version_id = ? ORDER BY f.id",
                                [version_id]):
        fact = fact_record.from_row(row)
        if fact.tracker in seen:
            continue
        seen.add(fact.tracker)
        current = store.current(fact.tracker)
        old = current[1] if current else None
        store.record({
            "story": fact.story, "tracker": fact.tracker, "kind": fact.kind,
            "type": "baseline" if phase == 0 else "change", "status": "confirmed",
            "old_value": old.value if old else None, "new_value": fact.value,
            "old_display": old.display if old else None, "new_display": fact.display,
            "old_fact_id": old.id if old else None, "new_fact_id": fact.id,
            "document_id": fact.doc, "diff": None,
            "backfill_until": version_id if phase == 0 else None,
        }, [], fact)


def new_reports(config_path: Path, round_: int) -> None:
    """10 reports of a new run: 6 restate the current values, 2 outlets state a new Iraq
    figure (a change, confirmed by the second), 1 a stale copy, 1 a new Syria figure."""
    from crawler.archive.store import Archive, RunCounts
    from crawler.config.model import load_config
    from crawler.extraction.analysis import fact_rows
    from crawler.extraction.records import AnalyzedReport

    config = load_config(config_path)
    current = dict(PHASES[-1])
    moved = {**current, "iraq": 2000 - 100 * round_}
    kinds = [current] * 6 + [moved, moved, PHASES[1], {**current, "syria": 800 - 50 * round_}]
    archive = Archive.open(config.archive)
    try:
        day = f"2026-{1 + round_ % 12:02d}-15"
        for i, values in enumerate(kinds):
            source = f"outlet-{(round_ * 10 + i) % OUTLETS:02d}"
            run = archive.start_run(source)
            text = f"New report {round_}-{i}.\n" + REPORT.format(**values)
            rows = fact_rows(text, day, list(config.stories), "Iraq talks")
            archive.store(AnalyzedReport(
                url=f"https://outlet{source[-2:]}.example/new/{round_}/{i}", source=source,
                title="Iraq talks", published=day, text=text, stories=("us-iraq",),
                facts=tuple(rows), run_id=run))
            archive.finish_run(run, source, RunCounts(fetched=1, new_documents=1), [])
    finally:
        archive.close()


def detection_pass(config_path: Path) -> tuple[float, int]:
    from crawler.archive.store import Archive
    from crawler.changes.detector import detect_changes
    from crawler.config.model import load_config

    config = load_config(config_path)
    archive = Archive.open(config.archive)
    try:
        t0 = time.perf_counter()
        detected = detect_changes(archive, config)
        return time.perf_counter() - t0, len(detected)
    finally:
        archive.close()


def status_queries(config_path: Path, repeat: int = 9) -> float:
    """The median time of the queries `status` makes (counts and per-source runs)."""
    from crawler.archive.queries import archive_counts, source_status
    from crawler.archive.store import Archive
    from crawler.config.model import load_config

    archive = Archive.open_readonly(load_config(config_path).archive)
    try:
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            source_status(archive.db)
            archive_counts(archive.db)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)
    finally:
        archive.close()


def status_commands(configs: dict[str, Path], repeat: int = 9) -> dict[str, float]:
    """The median wall time of `newswatch status` on each archive, run in turns."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argvs = {label: [sys.executable, "-m", "crawler", "-q", "--config", str(config), "status"]
             for label, config in configs.items()}
    samples: dict[str, list[float]] = {label: [] for label in configs}
    for round_ in range(repeat + 1):  # the first round warms up
        for label, argv in argvs.items():
            t0 = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=True)
            if round_:
                samples[label].append(time.perf_counter() - t0)
    return {label: statistics.median(times) for label, times in samples.items()}


def bench_archive(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        folder = Path(tmp)
        configs = {}
        for label, docs in (("small", args.small), ("large", args.large)):
            config = archive_config(folder, folder / f"{label}.db")
            t0 = time.perf_counter()
            counts = build_archive(config, docs)
            size = (folder / f"{label}.db").stat().st_size
            print(f"{label}: {counts['documents']:,} documents, {counts['facts']:,} facts, "
                  f"built in {time.perf_counter() - t0:.0f} s, {size / 1e6:.0f} MB")
            configs[label] = config
        passes: dict[str, list[float]] = {"small": [], "large": []}
        for round_ in range(args.rounds):  # the two archives in turn, the same new reports
            for label, config in configs.items():
                new_reports(config, round_)
                seconds, detected = detection_pass(config)
                passes[label].append(seconds)
                print(f"round {round_ + 1} {label}: detection pass {seconds * 1000:.0f} ms, "
                      f"{detected} change rows")
        print()
        commands = status_commands(configs)
        for label, config in configs.items():
            print(f"{label}: detection pass median {statistics.median(passes[label]) * 1000:.0f}"
                  f" ms; status queries {status_queries(config) * 1000:.1f} ms, "
                  f"`newswatch status` {commands[label]:.2f} s (median, in turns)")
    ratios = [b / a for a, b in zip(passes["small"], passes["large"], strict=True)]
    ratio = statistics.median(ratios)
    ok = ratio <= DETECT_RATIO_TARGET
    print(f"\ndetection pass, large / small: median {ratio:.2f}x over {len(ratios)} rounds "
          f"(rounds {min(ratios):.2f}x-{max(ratios):.2f}x; target <= "
          f"{DETECT_RATIO_TARGET:.0f}x): {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmp", type=Path, help="Where to build (default: the system's).")
    sub = parser.add_subparsers(dest="what", required=True)
    feeds = sub.add_parser("feeds", help="(a) many feed sources: first and steady cycles")
    feeds.add_argument("--sources", type=int, default=1000)
    feeds.add_argument("--items", type=int, default=20)
    feeds.add_argument("--cycles", type=int, default=3)
    feeds.add_argument("--new", type=int, default=5, help="feeds with a new article per cycle")
    feeds.add_argument("--concurrency", type=int, default=16)
    feeds.add_argument("--root", type=Path, default=ROOT,
                       help="The checkout whose crawler is timed (default: this one).")
    archive = sub.add_parser("archive", help="(b) detection and status on a large archive")
    archive.add_argument("--small", type=int, default=1000)
    archive.add_argument("--large", type=int, default=100_000)
    archive.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    return bench_feeds(args) if args.what == "feeds" else bench_archive(args)


if __name__ == "__main__":
    sys.exit(main())
