"""`newswatch replay FILE.jsonl`: backtest the configured trackers on past reports."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from crawler.changes.records import ChangeStatus, ChangeType
from crawler.cli.main import State, UsageProblem, cli, emit_json, json_option, pass_state
from crawler.cli.output import table


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--all", "show_all", is_flag=True,
              help="Every change row (unconfirmed, conflicts, baselines), not only alerts.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Keep the scratch archive in DIR (for `--config` queries afterwards).")
@json_option
@pass_state
def replay(state: State, file: Path, show_all: bool, keep: Path | None, as_json: bool) -> None:
    """Replay dated reports in publication order; print the alerts that would fire.

    FILE holds one JSON object per line: url, date, source (or outlet), optional
    source_type (official, official-reprint, news, news-reprint, opinion), title, and text
    (or sentence). Nothing is sent; the config's trackers and change rules are used.
    """
    from crawler.archive.queries import list_changes
    from crawler.archive.store import Archive
    from crawler.replay import ReplayError, load_reports
    from crawler.replay import replay as run_replay

    config = state.config
    try:
        loaded = load_reports(file)
    except ReplayError as e:
        raise UsageProblem(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="newswatch-replay-") as tmp:
        folder = keep or Path(tmp)
        path = folder / "replay.db"
        if path.exists():
            raise UsageProblem(f"{path} exists already; give --keep an empty folder")
        events = run_replay(config, loaded.reports, path)
        archive = Archive.open_readonly(path)
        try:
            evidence = {r["id"]: r for t in (ChangeType.BASELINE, None)
                        for r in list_changes(archive.db, type=t)}
        finally:
            archive.close()
    rows: list[dict[str, Any]] = []
    for event in events:
        d = event.detected
        if not (show_all or d.alerted):
            continue
        ev = evidence.get(d.id, {})
        rows.append({
            "date": event.report.published, "outlet": event.report.source,
            "source_type": event.report.source_type, "url": event.report.url,
            "tracker": d.tracker, "type": d.type, "status": d.status, "alerted": d.alerted,
            "old": d.old_display, "new": d.new_display, "sentence": ev.get("sentence"),
        })
    if as_json:
        emit_json(rows)
    else:
        table(["date", "tracker", "change", "type", "outlet", "sentence"],
              [[r["date"], r["tracker"], f"{r['old']} → {r['new']}" if r["old"] else r["new"],
                r["type"] + ("" if r["status"] == ChangeStatus.CONFIRMED else f" ({r['status']})")
                + (" ALERT" if r["alerted"] and show_all else ""),
                r["outlet"], r["sentence"]] for r in rows])
    alerts = sum(e.detected.alerted for e in events)
    click.echo(f"replayed {len(loaded.reports)} reports ({loaded.skipped_undated} undated "
               f"skipped): {alerts} alert(s), "
               f"{sum(e.detected.status == 'unconfirmed' for e in events)} unconfirmed, "
               f"{sum(e.detected.type == ChangeType.CONFLICT for e in events)} conflict(s)"
               + (f"; archive kept in {keep}" if keep else ""), err=True)
