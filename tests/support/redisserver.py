"""A real redis-server on a free loopback port, with its own data folder.

Started as a subprocess (Debian's ``redis-server``); ``start()`` returns once it
answers PING. Data is kept in an append-only file (fsync every write), so
``stop()`` then ``start()`` is a restart with the frontier intact, like a
production Redis with persistence.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from alert_servers import free_port


class RedisServer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary

    def start(self, timeout: float = 15) -> RedisServer:
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): "
                                   + (self.folder / "redis.log").read_text(errors="replace"))
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"redis-server did not answer within {timeout} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
