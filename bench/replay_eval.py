"""Score the alerts a replay of real coverage raises (issue: alerts right on real coverage).

Replays a labelled development set (``../shared/factset/dev.jsonl``: one report per URL,
in date order) through `newswatch replay`'s code with the shipped config.yaml, then judges
every alert as ``../shared/factset/README.md`` describes: an alert is **right** when the
fact it comes from and the fact it replaces have the same subject class
(``dev-subjects.json``), that class is one whose values change, and the values really
differ. Prints each alert with its verdict, precision, whether the drawdown (the level
falling from about 2,500 to about/fewer than 2,000) was alerted, and whether a stale copy
was.

    python bench/replay_eval.py [FACTSET_DIR] [--config config.yaml]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config.model import load_config  # noqa: E402
from crawler.replay import load_reports, replay  # noqa: E402


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def label_of(labels: list[dict], url: str, sentence: str, raw: str, value: str) -> dict | None:
    """The labelled fact an extracted fact is (same report and sentence, overlapping span)."""
    sentence, raw = _norm(sentence), _norm(raw)
    candidates = [f for f in labels if f["url"] == url and _norm(f["sentence"]) in sentence
                  or f["url"] == url and sentence in _norm(f["sentence"])]
    for f in candidates:
        lraw = _norm(f["raw"])
        if lraw in raw or raw in lraw or str(f["value"]) == value:
            return f
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("factset", nargs="?", type=Path,
                        default=ROOT.parent / "shared" / "factset")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    subjects = json.loads((args.factset / "dev-subjects.json").read_text())
    labels, changing = subjects["facts"], set(subjects["changing_classes"])
    config = load_config(args.config, environ={})
    loaded = load_reports(args.factset / "dev.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        events = replay(config, loaded.reports, Path(tmp) / "replay.db")
        conn = sqlite3.connect(Path(tmp) / "replay.db")
        conn.row_factory = sqlite3.Row
        facts = {r["id"]: dict(r) for r in conn.execute(
            "SELECT f.*, d.url FROM facts f JOIN documents d ON d.id = f.document_id")}
        changes = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM changes")}
        conn.close()
    alerts = [e for e in events if e.detected.alerted]
    right = 0
    drawdown = stale = False
    print(f"{len(loaded.reports)} reports replayed ({loaded.skipped_undated} undated skipped), "
          f"{len(alerts)} alerts\n")
    for e in alerts:
        c = changes[e.detected.id]
        new, old = facts.get(c["new_fact_id"]), facts.get(c["old_fact_id"])
        ln, lo = (label_of(labels, f["url"], f["sentence"], f["raw"], f["value"]) if f else None
                  for f in (new, old))
        cn, co = (ln or {}).get("subject_class", "?"), (lo or {}).get("subject_class", "?")
        ok = bool(ln and lo and cn == co and cn in changing
                  and str(ln["value"]) != str(lo["value"]))
        right += ok
        if ok and cn == "L" and new["number"] and new["number"] <= 2000 and old["number"] \
                and old["number"] >= 2400:
            drawdown = True
        if cn == "L" and new["number"] and new["number"] >= 2400 and old and old["number"] \
                and old["number"] <= 2000:
            stale = True
        print(f"{'RIGHT' if ok else 'WRONG'}  {e.report.published}  {c['tracker']}: "
              f"{c['old_display']} [{co}] -> {c['new_display']} [{cn}]  ({e.report.source})")
        print(f"       {new['sentence'][:150] if new else ''}")
    precision = right / len(alerts) if alerts else 1.0
    print(f"\nprecision {precision:.2f} ({right}/{len(alerts)} alerts right)  target >= 0.90")
    print(f"drawdown ~2,500 -> <=2,000 alerted: {'yes' if drawdown else 'NO'}")
    print(f"stale copy alerted: {'YES' if stale else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
