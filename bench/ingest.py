"""Ingest benchmark: a full `newswatch crawl` against trafilatura alone, side by side.

Serves the corpus pages on 127.0.0.1 behind a generated RSS feed, runs
`newswatch crawl` (the real command, start-up included) into a fresh archive,
measures trafilatura alone on the same pages in one process, then runs a second
`crawl` with nothing changed, with the default revisit policy (known articles
not re-fetched within the hour) and with `revisit: 0` (every article
revalidated by conditional GET).

    python bench/ingest.py [CORPUS_DIR]     # default: ../shared/corpus/pages

Targets: first crawl >= 1.6x single-process trafilatura; an unchanged second
crawl <= 1/10 of the first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

from crawler.demo.runner import serve_folder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "pages"


def write_site(pages: list[Path], site: Path, base: str) -> None:
    (site / "pages").mkdir(parents=True)
    items = []
    for i, page in enumerate(pages):
        shutil.copy(page, site / "pages" / page.name)
        items.append(
            f"<item><title>Page {i}</title><link>{escape(base)}/pages/{page.name}</link>"
            f"<guid>{escape(base)}/pages/{page.name}</guid>"
            f"<pubDate>{formatdate(1700000000 + i * 3600)}</pubDate></item>"
        )
    (site / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>corpus</title><link>{base}/</link><description>bench</description>"
        + "".join(items)
        + "</channel></rss>",
        encoding="utf-8",
    )


def write_config(path: Path, base: str, count: int, revisit: str) -> None:
    path.write_text(
        f"""archive: bench.db
crawl:
  obey_robots: false
  autothrottle: false
  concurrency: 16
  per_domain: 16
sources:
  - name: corpus
    type: feed
    url: {base}/feed.xml
    max_items: {count}
    revisit: {revisit}
stories:
  - name: us-iraq-coalition
    match: {{all: [Iraq], any: [coalition, withdrawal, troops]}}
    trackers:
      - {{name: us-troops-iraq, kind: troops, about: [Iraq], not_about: [Syria]}}
""",
        encoding="utf-8",
    )


def run_crawl(config: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "-q", "crawl", "--json"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    print("   ", proc.stdout.strip())
    return elapsed


def pass_in_process(config: Path) -> float:
    """One more unchanged pass in this process, after a warm-up pass (no start-up cost)."""
    from crawler.archive.store import Archive
    from crawler.config.model import load_config
    from crawler.extraction.pages import Extractor
    from crawler.pipeline import crawl_pass
    from crawler.scraping.reactor import run_on_reactor, shutdown_reactor

    cfg = load_config(config)
    archive = Archive.open(cfg.archive)
    extractor = Extractor(cfg.crawl.extract_workers, cfg.crawl.extract_timeout)
    try:
        run_on_reactor(crawl_pass(cfg, archive, list(cfg.sources), extractor))  # warm-up
        start = time.perf_counter()
        run_on_reactor(crawl_pass(cfg, archive, list(cfg.sources), extractor))
        return time.perf_counter() - start
    finally:
        extractor.close()
        archive.close()
        shutdown_reactor()


TRAFILATURA = (
    "import sys, time, trafilatura\n"
    "bodies = [open(p, 'rb').read() for p in sys.argv[2:]]\n"
    "start = time.perf_counter()\n"
    "for b in bodies: trafilatura.bare_extraction(b, with_metadata=sys.argv[1] == '1')\n"
    "print(time.perf_counter() - start)\n"
)


def trafilatura_alone(pages: list[Path], with_metadata: bool) -> float:
    """trafilatura.bare_extraction on every page, one process (a fresh one: cold caches)."""
    out = subprocess.run(
        [sys.executable, "-c", TRAFILATURA, "1" if with_metadata else "0", *map(str, pages)],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip())


def trafilatura_two_processes(pages: list[Path]) -> float:
    """The machine's parallel ceiling now: two processes, half the pages each, wall time."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", TRAFILATURA, "0", *map(str, pages[i::2])],
                         stdout=subprocess.DEVNULL)
        for i in range(2)
    ]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    args = parser.parse_args()
    pages = sorted(Path(args.corpus).glob("*.html"))
    if not pages:
        sys.exit(f"no .html pages in {args.corpus}")
    n = len(pages)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        server, base = serve_folder(site)
        write_site(pages, site, base)
        print(f"{n} pages served at {base}")

        config = Path(tmp) / "config.yaml"
        write_config(config, base, n, "1h")
        first = run_crawl(config)
        print(f"first crawl:          {first:6.2f} s  {n / first:6.1f} pages/s")
        raw = trafilatura_alone(pages, with_metadata=True)
        print(f"trafilatura alone:    {raw:6.2f} s  {n / raw:6.1f} pages/s "
              "(one process, bare_extraction with metadata)")
        print(f"  ratio crawl/trafilatura throughput: {raw / first:.2f}x (target >= 1.6)")
        text_only = trafilatura_alone(pages, with_metadata=False)
        print(f"trafilatura text only: {text_only:5.2f} s  {n / text_only:6.1f} pages/s "
              "(what the crawl runs when the feed gives title and date)")
        print(f"  ratio at equal work (parallelism and overhead only): {text_only / first:.2f}x")
        ceiling = trafilatura_two_processes(pages)
        print(f"trafilatura text only, two processes: {ceiling:5.2f} s = "
              f"{text_only / ceiling:.2f}x one process (this machine's parallel ceiling now)")

        second = run_crawl(config)
        print(f"second crawl:         {second:6.2f} s  = {second / first:.3f} of the first "
              "(target <= 0.10)")
        inside = pass_in_process(config)
        print(f"second pass inside a running process (as the service does it, no start-up): "
              f"{inside:5.2f} s = {inside / first:.3f} of the first")
        write_config(config, base, n, "0")
        third = run_crawl(config)
        print(f"second crawl, revisit 0 (all {n} revalidated): {third:6.2f} s "
              f"= {third / first:.3f} of the first")
        server.shutdown()


if __name__ == "__main__":
    main()
