"""Start-up benchmark: whole commands, side by side with sqlite-utils on the same archive.

Times each command as its own process (start-up included), in turns — one of each per
round, so a machine slowing down slows them all — and prints the median over rounds:

- ``newswatch --version``, ``status``, ``search iraq``, ``changes``, on a synthetic
  1,000-document archive (bench/archive_query.py's generator, the real schema);
- ``newswatch crawl`` of one feed source on 127.0.0.1 whose feed answers 304 (nothing
  new; its 5 articles were archived by a first crawl, not timed, and are not due for a
  re-visit);
- the baseline: ``sqlite-utils ARCHIVE "SELECT count(*) FROM documents"`` — another
  click + sqlite-utils command answering a query on the same archive;
- ``python -c pass``: the interpreter's own start-up, the floor of every command.

Every command runs with its bytecode cached (in a scratch ``PYTHONPYCACHEPREFIX``, written
by a warm-up run), as an installed package has it.

    python bench/startup.py [--rounds 15] [--docs 1000] [--root CHECKOUT]

``--root`` times another checkout's ``crawler`` (e.g. an older commit exported with
``git archive``) with the same interpreter, for before/after figures.
Targets: query commands <= 0.3 s, the unchanged crawl <= 1.0 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive_query import build  # noqa: E402

from crawler.demo.runner import serve_folder  # noqa: E402

QUERY_TARGET = 0.3
CRAWL_TARGET = 1.0
ARTICLE = """<!doctype html><html><head><title>Report {i}</title></head><body><article>
<h1>Report {i}</h1><p>The United States has approximately 2,500 troops in Iraq, officials
said on Monday in Baghdad, as talks on the coalition mission continued.</p>
<p>Officials from both governments met again this week to discuss the timetable and the
future of the bases, and said more meetings would follow in the coming months.</p>
</article></body></html>"""


def find_sqlite_utils() -> str:
    beside = Path(sys.executable).parent / "sqlite-utils"
    command = str(beside) if beside.exists() else shutil.which("sqlite-utils")
    if not command:
        sys.exit("sqlite-utils (a dependency of newswatch) not found next to this Python "
                 "or on PATH")
    return command


def write_site(site: Path, base: str, items: int = 5) -> None:
    (site / "pages").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(items):
        (site / "pages" / f"r{i}.html").write_text(ARTICLE.format(i=i), encoding="utf-8")
        entries.append(f"<item><title>Report {i}</title><link>{base}/pages/r{i}.html</link>"
                       f"<guid>{base}/pages/r{i}.html</guid>"
                       f"<pubDate>Mon, 0{i + 1} Sep 2025 10:00:00 GMT</pubDate></item>")
    (site / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>wire'
        f"</title><link>{base}/</link><description>bench</description>{''.join(entries)}"
        "</channel></rss>", encoding="utf-8")


CONFIG = """archive: {archive}
sources:
{sources}
stories:
  - name: us-iraq-coalition
    match: {{all: [Iraq]}}
    trackers:
      - {{name: us-troops-iraq, kind: troops, place: Iraq}}
"""


def run(argv: list[str], root: Path, pycache: Path) -> float:
    # Bytecode cached as an installed package has it (the warm-up writes it, outside the
    # checkout); with PYTHONDONTWRITEBYTECODE every run would compile the checkout again.
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1",
           "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=root)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="The checkout whose crawler is timed (default: this one).")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    sqlite_utils = find_sqlite_utils()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder / "query.db", args.docs)
        (folder / "query.yaml").write_text(CONFIG.format(
            archive=folder / "query.db",
            sources="\n".join(f"  - {{name: source-{i:02d}, type: feed, "
                              f"url: 'http://127.0.0.1:9/{i}.xml'}}" for i in range(12))),
            encoding="utf-8")
        server, base = serve_folder(folder / "site")
        try:
            write_site(folder / "site", base)
            (folder / "crawl.yaml").write_text(CONFIG.format(
                archive=folder / "crawl.db",
                sources=f"  - {{name: wire, type: feed, url: '{base}/feed.xml'}}"),
                encoding="utf-8")
            nw = [sys.executable, "-m", "crawler", "-q"]
            query = ["--config", str(folder / "query.yaml")]
            crawl = [*nw, "--config", str(folder / "crawl.yaml"), "crawl"]
            pycache = folder / "pycache"
            run(crawl, root, pycache)  # the first crawl archives the 5 articles (not timed)
            commands: dict[str, list[str]] = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "sqlite-utils query (baseline)": [sqlite_utils, str(folder / "query.db"),
                                                  "SELECT count(*) FROM documents"],
                "newswatch --version": [*nw, "--version"],
                "newswatch status": [*nw, *query, "status"],
                "newswatch search iraq": [*nw, *query, "search", "iraq"],
                "newswatch changes": [*nw, *query, "changes"],
                "newswatch crawl (feed 304)": crawl,
            }
            for cmd in commands.values():  # warm-up: page cache, .pyc files
                run(cmd, root, pycache)
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.rounds):
                for name, cmd in commands.items():
                    times[name].append(run(cmd, root, pycache))
        finally:
            server.shutdown()

    base_times = times["sqlite-utils query (baseline)"]
    print(f"{args.rounds} rounds, each command once per round in turn; {args.docs:,}-document "
          f"archive; {root}")
    print(f"\n{'command':<32}{'median s':>9}{'min':>7}{'max':>7}{'vs sqlite-utils':>17}"
          "  target")
    failed = False
    for name, samples in times.items():
        ratios = [a / b for a, b in zip(samples, base_times, strict=True)]
        target = (CRAWL_TARGET if "crawl" in name else QUERY_TARGET
                  if name.startswith("newswatch") else None)
        verdict = ""
        if target is not None:
            ok = statistics.median(samples) <= target
            failed |= not ok
            verdict = f"<= {target} s {'ok' if ok else 'MISSED'}"
        print(f"{name:<32}{statistics.median(samples):>9.3f}{min(samples):>7.3f}"
              f"{max(samples):>7.3f}{statistics.median(ratios):>16.2f}x  {verdict}")
    print("\n(vs sqlite-utils: the median of the per-round ratios)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
