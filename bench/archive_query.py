"""Query benchmark: search, a tracker's history and changes on a large synthetic archive.

Builds an archive of N synthetic documents (default 100,000) with revisions,
facts of a few trackers, changes and corroborations — through the real schema
(``Archive.open`` runs the migrations), bulk inserted with sqlite-utils — then
times the functions the CLI commands call (``crawler.archive.queries``) on a read-only
connection, as ``newswatch search`` / ``facts history`` / ``changes`` open it.

    python bench/archive_query.py [--docs N] [--repeat R] [--keep FILE]

Targets: search p50 <= 20 ms, history p50 <= 10 ms.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from crawler.archive.queries import list_changes, search_documents, tracker_history
from crawler.archive.store import Archive, text_hash

SOURCES = [f"source-{i:02d}" for i in range(12)]
STORY = "us-iraq-coalition"
TRACKER = "us-troops-iraq"
START = date(2023, 1, 1)
SPAN_DAYS = 3 * 365
STORY_SHARE = 0.03  # documents about the tracked story
REVISED_SHARE = 0.10  # documents fetched again with edited text

TOPIC_SENTENCES = [
    "The United States has approximately {n:,} troops in Iraq, officials said.",
    "U.S.-Iraq talks on the coalition mission continued in Baghdad this week.",
    "The coalition mission will end by September {y}, according to the joint statement.",
    "A drawdown would leave fewer than {n:,} troops at Ain al-Asad and Erbil.",
    "Syria hosts about 900 troops who are not part of the withdrawal plan.",
]


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ter", "an", "so", "ri", "vel", "dor", "pa", "un", "es",
                 "tra", "ne", "gol", "bi", "zu", "mar", "ti", "en"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    common = ("the of and to in a said on for that with was as by officials government "
              "minister report week year security talks forces").split()
    return common + sorted(words)


def sentence_pool(rng: random.Random, size: int = 30_000) -> list[str]:
    """Random sentences over a Zipf-distributed vocabulary; documents are drawn from them."""
    words = vocabulary(rng)
    cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    return [
        " ".join(rng.choices(words, cum_weights=cum_weights, k=rng.randint(8, 20))).capitalize()
        + "."
        for _ in range(size)
    ]


def make_text(rng: random.Random, pool: list[str], topical: bool, figure: int, year: int
              ) -> str:
    sentences = rng.sample(pool, rng.randint(10, 22))
    if topical:
        for template in rng.sample(TOPIC_SENTENCES, 3):
            sentences.insert(rng.randrange(len(sentences)), template.format(n=figure, y=year))
    return " ".join(sentences)


def generate(n: int, seed: int = 7) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) pairs in insertion order: documents, versions, facts, changes."""
    rng = random.Random(seed)
    pool = sentence_pool(rng)
    figures = [2500, 2500, 2500, 2000, 2500, 1500, 2000, 500]  # stale copies make conflicts
    version_id = fact_id = change_id = 0
    current_figure: int | None = None
    for doc_id in range(1, n + 1):
        day = START + timedelta(days=SPAN_DAYS * doc_id // n)
        published = day.isoformat()
        topical = rng.random() < STORY_SHARE
        phase = min(len(figures) - 1, doc_id * len(figures) // n)
        figure = figures[phase] if rng.random() < 0.9 else figures[max(0, phase - 1)]
        text = make_text(rng, pool, topical, figure, 2025 + phase // 4)
        fetched = f"{published}T{rng.randint(0, 23):02d}:00:00+00:00"
        texts = [text]
        if rng.random() < REVISED_SHARE:
            texts.append(text.replace(" said", " told reporters", 1) + " (Updated.)")
        yield "documents", {
            "id": doc_id, "url": f"https://news{doc_id % 97}.example/{published}/{doc_id}",
            "source": SOURCES[doc_id % len(SOURCES)], "title": text[:70], "author": None,
            "published": published, "guid": None, "first_seen": fetched, "last_seen": fetched,
            "current_version": version_id + len(texts), "raw_hash": None,
            "stories": f'["{STORY}"]' if topical else "[]",
        }
        first_version = version_id + 1
        for text_version in texts:
            version_id += 1
            yield "versions", {
                "id": version_id, "document_id": doc_id, "fetched_at": fetched,
                "content_hash": text_hash(text_version), "title": text_version[:70],
                "text": text_version, "published": published, "via": "page", "facts_done": 1,
            }
        if not topical:
            continue
        for vid in range(first_version, version_id + 1):
            for tracker, kind, value, display, low, high in (
                (TRACKER, "troops", str(figure), f"~{figure:,}", figure * 0.95, figure * 1.05),
                (TRACKER, "troops", str(figure - 500), f"<{figure - 500:,}", 0.0,
                 float(figure - 500)),
                ("coalition-end", "timeline", f"{2025 + phase // 4}-09",
                 f"Sep {2025 + phase // 4}", None, None),
            ):
                if tracker == TRACKER and display.startswith("<") and rng.random() < 0.6:
                    continue
                if tracker == "coalition-end" and doc_id % 5:
                    continue  # a tracker with fewer facts: about 1 in 5 story reports
                fact_id += 1
                yield "facts", {
                    "id": fact_id, "version_id": vid, "document_id": doc_id, "story": STORY,
                    "tracker": tracker, "kind": kind, "value": value, "display": display,
                    "number": float(value) if kind == "troops" else None,
                    "low": low, "high": high,
                    "granularity": "approx" if kind == "troops" else "month",
                    "qualifier": "approximately", "raw": display,
                    "start": 0, "end": 10, "sentence": f"Sentence stating {display}.",
                    "published": published, "evaluated": 1,
                }
                if tracker != TRACKER or display.startswith("<"):
                    continue
                if current_figure is None:
                    current_figure = figure
                elif figure != current_figure:
                    kind_of = "change" if figure == figures[phase] else "conflict"
                    change_id += 1
                    yield "changes", {
                        "id": change_id, "story": STORY, "tracker": TRACKER, "kind": "troops",
                        "type": kind_of, "old_value": str(current_figure),
                        "new_value": str(figure), "old_display": f"~{current_figure:,}",
                        "new_display": display, "old_fact_id": None, "new_fact_id": fact_id,
                        "detected_at": fetched, "diff": None,
                    }
                    if kind_of == "change":
                        current_figure = figure
                elif change_id:
                    yield "corroborations", {"change_id": change_id, "fact_id": fact_id}


def build(path: Path, n: int) -> dict[str, int]:
    archive = Archive.open(path)
    db = archive.db
    db.execute("PRAGMA synchronous = OFF")
    counts: dict[str, int] = {}
    batches: dict[str, list[dict[str, Any]]] = {}
    order = ["documents", "versions", "facts", "changes", "corroborations"]

    def flush() -> None:
        for table in order:  # parents first: foreign keys are on
            rows = batches.pop(table, [])
            if rows:
                db[table].insert_all(rows, batch_size=500)

    with db.conn:
        for i, (table, row) in enumerate(generate(n)):
            batches.setdefault(table, []).append(row)
            counts[table] = counts.get(table, 0) + 1
            if i % 20_000 == 0:
                flush()
        flush()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    return counts


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    fn()  # warm the page cache, as a second CLI call would find it
    samples = []
    result: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, len(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="Build the archive here and keep it.")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.db"
        if path.exists():
            sys.exit(f"{path} exists; remove it first")
        t0 = time.perf_counter()
        counts = build(path, args.docs)
        built = time.perf_counter() - t0
        size = path.stat().st_size
        print(f"built {args.docs:,} documents in {built:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        print(f"archive {size / 1e6:.1f} MB, {size / args.docs:,.0f} bytes per document")

        archive = Archive.open_readonly(path)
        db = archive.db
        since = (START + timedelta(days=SPAN_DAYS // 2)).isoformat()
        cases: list[tuple[str, Callable[[], Any], float | None]] = [
            ("search iraq", lambda: search_documents(db, "iraq"), 20),
            ("search 'U.S.-Iraq'", lambda: search_documents(db, "U.S.-Iraq"), 20),
            ("search troops withdrawal", lambda: search_documents(db, "troops withdrawal"), 20),
            ("search \"fewer than\" --order rank",
             lambda: search_documents(db, '"fewer than"', order="rank"), 20),
            ("search officials --order rank", lambda: search_documents(db, "officials",
                                                                      order="rank"), 20),
            ("search officials (in most docs)", lambda: search_documents(db, "officials"), 20),
            ("search kalo* (prefix)", lambda: search_documents(db, "kalo*"), 20),
            ("search iraq --source --since",
             lambda: search_documents(db, "iraq", source=SOURCES[3], since=since), 20),
            ("search iraq --story", lambda: search_documents(db, "iraq", story=STORY), 20),
            (f"facts history {TRACKER}", lambda: tracker_history(db, TRACKER), 10),
            ("facts history coalition-end", lambda: tracker_history(db, "coalition-end"), 10),
            ("changes", lambda: list_changes(db), None),
            ("changes --type change --since", lambda: list_changes(db, type="change",
                                                                   since=since), None),
        ]
        print(f"\n{'query':<36}{'p50 ms':>9}{'p95 ms':>9}{'rows':>8}  target")
        failed = False
        for name, fn, target in cases:
            p50, p95, rows = timed(fn, args.repeat)
            verdict = ""
            if target is not None:
                ok = p50 <= target
                failed |= not ok
                verdict = f"p50 <= {target} ms {'ok' if ok else 'MISSED'}"
            print(f"{name:<36}{p50:>9.1f}{p95:>9.1f}{rows:>8}  {verdict}")
        archive.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
