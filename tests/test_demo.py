"""`newswatch demo` end to end: the bundled site, the real service, alerts in the mailbox."""

from __future__ import annotations

import email
import mailbox
from email.policy import default
from pathlib import Path

from click.testing import CliRunner

from crawler.cli.main import cli


def test_demo_runs_end_to_end_and_delivers_its_alerts(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(workdir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "* CHANGE       us-troops-iraq: ~2,500 → <2,000" in out
    # phase 2's end moves; phase 1's (September 2025) never does
    assert "* CHANGE       presence-end: Sep 2026 → Dec 2026" in out
    assert "baseline     mission-end-federal-iraq = Sep 2025" in out
    assert "mission-end-federal-iraq:" not in out  # no change of phase 1's end
    assert "* CONFLICT     us-troops-iraq: <2,000 → ~2,500" in out
    assert "* REVISION     us-troops-iraq: <2,000 → <1,500" in out
    assert "4 changes detected, 3 alerts delivered" in out
    box = mailbox.mbox(workdir / "alerts.mbox",
                       factory=lambda f: email.message_from_binary_file(f, policy=default))
    subjects = sorted(str(m["Subject"]) for m in box)
    assert subjects == [
        "End of the remaining coalition presence: Sep 2026 → Dec 2026",
        "US troops in Iraq: article revised, <2,000 → <1,500",
        "US troops in Iraq: ~2,500 → <2,000",
    ]
    # The archive it leaves behind answers queries.
    status = CliRunner().invoke(cli, ["--config", str(workdir / "config.yaml"), "status"])
    assert status.exit_code == 0, status.output
    assert "state-briefings" in status.output
