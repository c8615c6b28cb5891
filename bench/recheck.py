"""Re-check benchmark: `newswatch crawl` and urlwatch 2.29 on the same URLs, side by side.

Serves the corpus pages on 127.0.0.1 behind a generated RSS feed. The newswatch source
has `revisit: 0`, so every known page is re-checked (a conditional GET, answered 304
when unchanged) on every crawl, with the default crawl settings: AutoThrottle on,
robots.txt obeyed, 4 requests at a time per domain. urlwatch watches the same page
URLs (10 threads; it sends If-Modified-Since too). Each tool runs as its own command,
start-up included:

1. the first run of each (everything new);
2. the unchanged pass (every page answers 304);
3. the main text of 10 pages is edited (a word inserted into a sentence of the text
   newswatch archived), then the edited pass: newswatch must report exactly 10
   revisions, one for each edited page. urlwatch must report 10 changed pages.

Steps 2 and 3 repeat `--rounds` times (other pages each round); ratios per round.
Last, one more unchanged pass inside this process, as the service runs it (no start-up).

    python bench/recheck.py [CORPUS_DIR]     # default: ../shared/corpus/pages
    python bench/recheck.py --rounds 3 --urlwatch /path/to/bin/urlwatch

urlwatch comes with the `bench` extra (`pip install -e '.[bench]'`); the bench stops
with a message when it is missing. Targets: unchanged pass <= 2x urlwatch; edited pass
<= 2x urlwatch with every main-text edit found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's crawler, for the in-process pass too

from ingest import pass_in_process, write_site  # noqa: E402

from crawler.demo.runner import serve_folder  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "pages"
URLWATCH_VERSION = "2.29"
EDITS = 10
MARK = "newswatchbenchedit"


def find_urlwatch(given: str | None) -> str:
    """The urlwatch command (given, next to this Python, or on PATH); exits when missing."""
    beside = Path(sys.executable).parent / "urlwatch"
    command = given or (str(beside) if beside.exists() else shutil.which("urlwatch"))
    if not command:
        sys.exit(f"urlwatch {URLWATCH_VERSION} is needed for the side-by-side comparison: "
                 f"pip install -e '.[bench]' (or pip install urlwatch=={URLWATCH_VERSION}), "
                 "or pass --urlwatch PATH")
    out = subprocess.run([command, "--version"], capture_output=True, text=True)
    said = (out.stdout + out.stderr).strip()
    if out.returncode != 0 or said.split() != ["urlwatch", URLWATCH_VERSION]:
        sys.exit(f"{command} --version says {said.splitlines()[:1]}; this bench compares with "
                 f"urlwatch {URLWATCH_VERSION}: pip install urlwatch=={URLWATCH_VERSION}")
    return command


def write_config(path: Path, base: str, count: int) -> None:
    """Default crawl settings; every known page re-checked on every crawl."""
    path.write_text(
        f"""archive: bench.db
sources:
  - name: corpus
    type: feed
    url: {base}/feed.xml
    max_items: {count}
    revisit: 0
""",
        encoding="utf-8",
    )


def write_urlwatch(folder: Path, urls: list[str]) -> None:
    folder.mkdir()
    (folder / "urls.yaml").write_text(
        "\n---\n".join(f"name: page {i}\nurl: {url}" for i, url in enumerate(urls)) + "\n",
        encoding="utf-8",
    )
    (folder / "hooks.py").write_text("", encoding="utf-8")
    (folder / "urlwatch.yaml").write_text(
        "display: {new: true, error: true, unchanged: false}\n"
        "report:\n  text: {details: false, footer: false, minimal: true}\n"
        "  stdout: {enabled: true, color: false}\n",
        encoding="utf-8",
    )


def run_newswatch(config: Path) -> tuple[float, dict]:
    """`newswatch crawl` of this repository's code; (seconds, the run's counts)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(config), "-q", "crawl", "--json"],
        capture_output=True, text=True, cwd=ROOT,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    (row,) = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if row["errors"]:
        sys.exit(f"crawl had errors: {row['details']}")
    return elapsed, row


def run_urlwatch(command: str, folder: Path) -> tuple[float, str]:
    """One urlwatch run over every job; (seconds, its report)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [command, "--urls", str(folder / "urls.yaml"), "--config", str(folder / "urlwatch.yaml"),
         "--hooks", str(folder / "hooks.py"), "--cache", str(folder / "cache.db")],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "ERROR: " in proc.stdout:
        sys.exit(f"urlwatch failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def count_reported(report: str, kind: str) -> int:
    return len(re.findall(rf"^{kind}: ", report, re.M))


def archived_texts(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(
            "SELECT d.url, v.text FROM documents d JOIN versions v ON v.id = d.current_version"))


def version_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(
            "SELECT d.url, count(*) FROM documents d JOIN versions v ON v.document_id = d.id "
            "GROUP BY d.url"))


def edit_main_text(site: Path, base: str, texts: dict[str, str], offset: int) -> list[str]:
    """Insert a word into the archived main text of EDITS pages, spread over the corpus.

    The words edited are four consecutive words of the archived text that occur exactly
    once in the page's bytes, so the edit lands in the article, not in a menu or a meta
    tag. Round ``offset`` starts at page ``offset`` (then every len/EDITS-th page).
    """
    pages = sorted((site / "pages").glob("*.html"))
    step = max(1, len(pages) // EDITS)
    candidates = pages[offset::step] + pages[offset:] + pages[:offset]
    edited: list[str] = []
    for page in candidates:
        url = f"{base}/pages/{page.name}"
        if len(edited) == EDITS:
            break
        if url in edited or url not in texts:
            continue
        raw = page.read_bytes()
        words = re.findall(r"[^\W\d_]{3,}", texts[url])
        for i in range(len(words) // 3, len(words) - 4):
            snippet = " ".join(words[i:i + 4]).encode()
            if raw.count(snippet) == 1:
                page.write_bytes(raw.replace(snippet, snippet + f" {MARK}".encode()))
                stamp = time.time() + 2  # later than both tools' last check, to the second
                os.utime(page, (stamp, stamp))
                edited.append(url)
                break
    if len(edited) < EDITS:
        sys.exit(f"found only {len(edited)} pages whose main text could be edited")
    return edited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--urlwatch", help=f"the urlwatch {URLWATCH_VERSION} command")
    parser.add_argument("--rounds", type=int, default=1,
                        help="unchanged + edited passes to run (other pages each round)")
    args = parser.parse_args()
    urlwatch = find_urlwatch(args.urlwatch)
    pages = sorted(Path(args.corpus).glob("*.html"))
    if not pages:
        sys.exit(f"no .html pages in {args.corpus}")
    n = len(pages)
    rows: list[tuple[str, float, float, str]] = []
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        server, base = serve_folder(site)
        write_site(pages, site, base)
        config = Path(tmp) / "config.yaml"
        write_config(config, base, n)
        db = config.parent / "bench.db"
        watch = Path(tmp) / "urlwatch"
        write_urlwatch(watch, [f"{base}/pages/{p.name}" for p in pages])
        print(f"{n} pages at {base}/feed.xml; newswatch: default crawl settings, revisit 0; "
              f"urlwatch {URLWATCH_VERSION}: {urlwatch}")

        ours, row = run_newswatch(config)
        theirs, report = run_urlwatch(urlwatch, watch)
        rows.append(("first run", ours, theirs, f"{row['new_documents']} new; urlwatch "
                     f"{count_reported(report, 'NEW')} new"))
        for rnd in range(args.rounds):
            ours, row = run_newswatch(config)
            theirs, report = run_urlwatch(urlwatch, watch)
            if (row["unchanged"], row["new_versions"]) != (n, 0):
                missed.append(f"round {rnd + 1}: unchanged pass found changes: {row}")
            rows.append((f"unchanged pass {rnd + 1}", ours, theirs,
                         f"{row['unchanged']} unchanged; urlwatch "
                         f"{count_reported(report, 'CHANGED')} changed"))

            before = version_counts(db)
            edited = edit_main_text(site, base, archived_texts(db), rnd)
            ours, row = run_newswatch(config)
            theirs, report = run_urlwatch(urlwatch, watch)
            after = version_counts(db)
            found = [url for url in edited if after[url] == before[url] + 1]
            if row["new_versions"] != EDITS or len(found) != EDITS:
                missed.append(f"round {rnd + 1}: {row['new_versions']} revisions reported, "
                              f"{len(found)} of the {EDITS} edited pages revised")
            rows.append((f"edited pass {rnd + 1}", ours, theirs,
                         f"{row['new_versions']} revisions, {len(found)}/{EDITS} edits "
                         f"found; urlwatch {count_reported(report, 'CHANGED')} changed"))
        inside = pass_in_process(config)
        server.shutdown()

    print(f"\n{'':18} {'newswatch':>10} {'urlwatch':>10} {'ratio':>7}")
    for name, ours, theirs, note in rows:
        print(f"{name:18} {ours:9.2f}s {theirs:9.2f}s {ours / theirs:6.2f}x  {note}")
    for kind in ("unchanged", "edited"):
        ratios = [ours / theirs for name, ours, theirs, _ in rows if name.startswith(kind)]
        median = statistics.median(ratios)
        print(f"{kind} pass: ratio median {median:.2f}x (target <= 2x: "
              f"{'met' if median <= 2 else 'MISSED'}), range {min(ratios):.2f}x-"
              f"{max(ratios):.2f}x")
    print(f"unchanged pass inside a running process (as `newswatch run` does it, no start-up): "
          f"{inside:.2f} s")
    if missed:
        sys.exit("\n".join(missed))
    print(f"every main-text edit found ({EDITS} per round)")


if __name__ == "__main__":
    main()
