"""The background service as a real subprocess, its output in a file.

A pipe nobody reads fills at 64 KiB (about 80 s of INFO logging) and then blocks the
service; a file never does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class Service:
    """`newswatch --config CONFIG run`, stdout and stderr appended to ``log``."""

    def __init__(self, config: Path, log: Path):
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), "run"],
            stdout=self._out, stderr=subprocess.STDOUT)

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float) -> tuple[int, str]:
        """Wait for it to exit (after a signal); returns its exit code and its output."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self._out.close()
        return code, self.log.read_text(encoding="utf-8", errors="replace")
