"""Measure the fact extractor on a labelled set: precision/recall/F1 per kind and speed.

Usage: ``python bench/facts_eval.py [PATH]`` (default: ../shared/factset/dev.jsonl relative
to the repository root). Facts match on kind + normalized value. Prints the false positives
on negative sentences, every miss, and sentences per second on one core.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.facts.extract import KINDS, extract_facts  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "factset" / "dev.jsonl"


def report_date(value: str | None) -> datetime.date | None:
    """Parse a line's ``date``: YYYY-MM-DD, YYYY-MM (first of month) or null."""
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    return datetime.date(
        parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1
    )


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.path).read_text().splitlines() if line.strip()]
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    neg_fps: list[str] = []
    misses: list[str] = []
    wrong: list[str] = []
    for row in rows:
        facts = extract_facts(row["sentence"], report_date(row.get("date")))
        gold = Counter((f["kind"], str(f["value"])) for f in row["facts"])
        got = Counter((f.kind, f.value) for f in facts)
        for key in gold | got:
            hit = min(gold[key], got[key])
            tp[key[0]] += hit
            fp[key[0]] += got[key] - hit
            fn[key[0]] += gold[key] - hit
            if got[key] > hit:
                line = f"  {key[0]}={key[1]}  in: {row['sentence'][:110]}"
                (neg_fps if not row["facts"] else wrong).append(line)
            if gold[key] > hit:
                misses.append(f"  {key[0]}={key[1]}  in: {row['sentence'][:110]}")
    print(f"{'kind':10} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn")
    for kind in (*KINDS, "overall"):
        t, f, n = (
            (sum(c.values()) for c in (tp, fp, fn))
            if kind == "overall"
            else (tp[kind], fp[kind], fn[kind])
        )
        p, r, f1 = _prf(t, f, n)
        print(f"{kind:10} {p:6.3f} {r:6.3f} {f1:6.3f}  {t:3d} {f:3d} {n:3d}")
    negatives = sum(1 for row in rows if not row["facts"])
    print(f"\nfalse positives on negative sentences ({len(neg_fps)} over {negatives} negatives):")
    print("\n".join(neg_fps) or "  none")
    print(f"\nother false positives ({len(wrong)}):")
    print("\n".join(wrong) or "  none")
    print(f"\nmisses ({len(misses)}):")
    print("\n".join(misses) or "  none")

    inputs = [(row["sentence"], report_date(row.get("date"))) for row in rows]
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for sentence, date in inputs:
            extract_facts(sentence, date)
        done += len(inputs)
    rate = done / (time.perf_counter() - t0)
    print(f"\nspeed: {rate:,.0f} sentences/s on one core ({done} sentences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
