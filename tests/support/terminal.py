"""The real `newswatch` under a pseudo-terminal: what a person at a terminal would see."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path


def on_a_terminal(config: Path, *args: str, columns: int = 160,
                  env: dict[str, str] | None = None) -> str:
    """Run ``newswatch --config CONFIG ARGS`` on a pty ``columns`` wide; its output (raw,
    escape sequences included). Fails when the command does."""
    main, child = pty.openpty()
    environ = {**os.environ, "COLUMNS": str(columns), "LINES": "50",
               "TERM": "xterm-256color", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(config), *args],
                            stdin=child, stdout=child, stderr=child, env=environ)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    return text
