"""An archive built through the real detector: dated reports replayed in order.

The reports (tests/fixtures/analyst/reports.jsonl) give the us-troops-iraq tracker an
official baseline (~2,500), a change to ~2,000 confirmed by a second outlet, two stale
copies of ~2,500 (one conflict) and an unconfirmed ~1,500; coalition-end a baseline and
a change attributed to officials.
"""

from __future__ import annotations

from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "analyst" / "reports.jsonl"

CONFIG = """archive: {archive}
sources:
  - {{name: news, type: feed, url: 'http://127.0.0.1:9/feed'}}
stories:
  - name: us-iraq
    match: {{all: [Iraq]}}
    trackers:
      - {{name: us-troops-iraq, label: US troops in Iraq, kind: troops, place: Iraq}}
      - {{name: coalition-end, label: Coalition mission ends, kind: timeline,
          about: [coalition, mission], cues: [end, conclude]}}
"""


def build_archive(folder: Path, reports: Path = FIXTURE) -> Path:
    """Write config.yaml in ``folder`` and replay ``reports`` into its archive; the config."""
    from crawler.config.model import load_config
    from crawler.replay import load_reports, replay

    config = folder / "config.yaml"
    config.write_text(CONFIG.format(archive=folder / "archive.db"), encoding="utf-8")
    loaded = load_reports(reports)
    replay(load_config(config), loaded.reports, folder / "archive.db")
    return config
