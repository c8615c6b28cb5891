"""Measure the fact extractor on a labelled set: P/R/F1 per kind and per subject class, speed.

Usage: ``python bench/facts_eval.py [PATH]`` (default: ../shared/factset/dev.jsonl relative
to the repository root). Facts match on kind + normalized value. Prints the false positives
on negative sentences, every miss, the subject classes (``dev-subjects.json`` next to
PATH: is each labelled fact's subject read right — current level, planned, historical, a
base, Syria/CENTCOM/flows, phase 1 end, phase 2 end, ...), and sentences per second on one
core.
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
from crawler.facts.model import Fact  # noqa: E402

OURS = ("us", "coalition")


def subject_class(fact: Fact) -> str:
    """The dev set's subject class a fact's subject amounts to (dev-subjects.json)."""
    place = fact.place.split("/") if fact.place else []
    in_iraq = bool(place) and place[0] == "iraq"
    if fact.kind == "troops":
        if fact.actor not in OURS or not in_iraq or fact.granularity in ("vague", "relative"):
            return "X"
        if fact.role == "planned":
            return "T"
        if fact.role == "historical":
            return "H"
        if fact.role == "current":
            return "L" if len(place) == 1 else "SUB"
        return "X"
    if fact.kind == "timeline":
        if fact.event == "start":
            return "S2" if "second" in fact.sentence.lower() else "S1"
        if fact.event == "elsewhere":
            return "P2"
        if fact.event in ("", "end") or (place and not in_iraq):
            return "X"  # no event, or an end no phase is named for
        return "P1" if fact.event == "phase-end" else "P2"
    return "M-GLOBAL" if fact.actor == "coalition" and fact.role == "current" else "X"

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

    subjects_path = Path(args.path).with_name("dev-subjects.json")
    if subjects_path.exists():
        _subject_classes(rows, json.loads(subjects_path.read_text())["facts"])

    inputs = [(row["sentence"], report_date(row.get("date"))) for row in rows]
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for sentence, date in inputs:
            extract_facts(sentence, date)
        done += len(inputs)
    rate = done / (time.perf_counter() - t0)
    print(f"\nspeed: {rate:,.0f} sentences/s on one core ({done} sentences)")
    return 0


def _subject_classes(rows: list[dict], labels: list[dict]) -> None:
    """Per subject class: is each labelled fact extracted with the right subject?"""
    titles = {row["url"]: row.get("title") or "" for row in rows}
    dates = {(row["url"], row["sentence"]): report_date(row.get("date")) for row in rows}
    gold: Counter[str] = Counter()
    got: Counter[str] = Counter()
    right: Counter[str] = Counter()
    wrong = []
    for label in labels:
        key = (label["url"], label["sentence"])
        facts = extract_facts(label["sentence"], dates.get(key), title=titles.get(label["url"], ""))
        match = next((f for f in facts if f.kind == label["kind"]
                      and (f.value == str(label["value"]) or label["raw"] in f.raw
                           or f.raw in label["raw"])), None)
        want = label["subject_class"]
        gold[want] += 1
        if match is None:
            wrong.append(f"  {want} -> (not extracted)  {label['raw']!r}")
            continue
        have = subject_class(match)
        got[have] += 1
        if have == want:
            right[want] += 1
        else:
            wrong.append(f"  {want} -> {have}  {label['raw']!r} in: {label['sentence'][:90]}")
    print(f"\n{'subject':10} {'P':>6} {'R':>6}  gold  got")
    for cls in sorted(gold | got):
        p, r, _ = _prf(right[cls], got[cls] - right[cls], gold[cls] - right[cls])
        print(f"{cls:10} {p:6.3f} {r:6.3f}  {gold[cls]:4d} {got[cls]:4d}")
    total = sum(gold.values())
    print(f"subject accuracy: {sum(right.values())}/{total} = {sum(right.values()) / total:.3f}")
    print("\n".join(wrong) or "  no subject errors")


if __name__ == "__main__":
    raise SystemExit(main())
