"""Workers tell the cluster they are alive: what `status` shows of them.

Each worker writes ``newswatch:worker:<name>`` (a hash: host, pid, state, started,
last_seen, pages, errors, jobs, running, pages_per_s) every few seconds and scores its
name in ``newswatch:workers`` by the time it was last seen. Times are Redis's own clock
(``TIME``), so machines whose clocks disagree still show true ages. A worker that stops
says so (state ``stopped``); one that was killed simply stops being seen. Workers not
seen for a day are forgotten.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
import redis.asyncio

from crawler.cluster.frontier import PREFIX

WORKERS_SEEN = PREFIX + "workers"
EVERY = 5.0  # seconds between heartbeats
FORGET = 24 * 3600  # seconds after which a worker not seen is dropped from the list
RATE_WINDOW = 60.0  # seconds over which pages/s is measured

_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local forget = tonumber(ARGV[1])
local state = ARGV[2]
if state == 'starting' or redis.call('HEXISTS', KEYS[1], 'started') == 0 then
  redis.call('HSET', KEYS[1], 'started', now)
  state = 'running'
end
redis.call('HSET', KEYS[1], 'last_seen', now, 'state', state, unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], forget)
redis.call('ZADD', KEYS[2], now, ARGV[4])  -- ARGV[3], ARGV[4]: 'name', the name
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - forget)
return 1
"""


class WorkerState(StrEnum):
    STARTING = "starting"  # written once, as "running", with a new start time
    RUNNING = "running"
    STOPPED = "stopped"  # said so itself on the way out
    GONE = "gone"  # not seen for three heartbeats: killed or cut off (never written)


def worker_key(name: str) -> str:
    return f"{PREFIX}worker:{name}"


class Heartbeat:
    """A worker's counters and its beat (asyncio)."""

    def __init__(self, r: redis.asyncio.Redis, name: str):
        self.r = r
        self.name = name
        self.pages = 0  # pages fetched by finished jobs
        self.errors = 0
        self.jobs = 0  # jobs finished
        self.live: dict[str, tuple[int, int]] = {}  # running job -> (pages, errors) so far
        self._samples: deque[tuple[float, int]] = deque()
        self._script = r.register_script(_BEAT)

    def progress(self, key: str, pages: int, errors: int) -> None:
        """A running job's counts so far."""
        self.live[key] = (pages, errors)

    def finished(self, key: str, pages: int, errors: int) -> None:
        """A job is done: its counts move to the totals."""
        self.live.pop(key, None)
        self.pages += pages
        self.errors += errors
        self.jobs += 1

    def totals(self) -> tuple[int, int]:
        return (self.pages + sum(p for p, _ in self.live.values()),
                self.errors + sum(e for _, e in self.live.values()))

    def rate(self, pages: int) -> float:
        """Pages per second over the last minute (since start, if younger)."""
        now = time.monotonic()
        self._samples.append((now, pages))
        while len(self._samples) > 1 and now - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()
        then, before = self._samples[0]
        return (pages - before) / (now - then) if now > then else 0.0

    async def beat(self, state: WorkerState = WorkerState.RUNNING) -> None:
        pages, errors = self.totals()
        fields = {"host": socket.gethostname(), "pid": os.getpid(), "pages": pages,
                  "errors": errors, "jobs": self.jobs, "running": len(self.live),
                  "pages_per_s": round(self.rate(pages), 2)}
        args: list[Any] = [FORGET, state, "name", self.name]
        for k, v in fields.items():
            args += [k, v]
        await self._script(keys=[worker_key(self.name), WORKERS_SEEN], args=args)


@dataclass(frozen=True)
class WorkerSeen:
    name: str
    host: str
    pid: int
    state: WorkerState
    last_seen_ago: float  # seconds
    up: float  # seconds since it started
    pages: int
    errors: int
    jobs: int
    running: int
    pages_per_s: float


def workers_seen(r: redis.Redis) -> list[WorkerSeen]:
    """The workers seen in the last day, most recently seen first."""
    clock: Any = r.time()
    now = clock[0] + clock[1] / 1e6
    seen: Any = r.zrevrange(WORKERS_SEEN, 0, -1)
    out = []
    for name in seen:
        h: Any = r.hgetall(worker_key(name))
        if not h:
            continue
        ago = max(0.0, now - float(h.get("last_seen", 0)))
        state = WorkerState(h.get("state", WorkerState.RUNNING))
        if state != WorkerState.STOPPED and ago > 3 * EVERY:
            state = WorkerState.GONE
        out.append(WorkerSeen(
            name=name, host=h.get("host", ""), pid=int(h.get("pid", 0)), state=state,
            last_seen_ago=round(ago, 1), up=round(now - float(h.get("started", now)), 1),
            pages=int(h.get("pages", 0)), errors=int(h.get("errors", 0)),
            jobs=int(h.get("jobs", 0)),
            running=int(h.get("running", 0)) if state == WorkerState.RUNNING else 0,
            pages_per_s=float(h.get("pages_per_s", 0)) if state == WorkerState.RUNNING else 0.0))
    return out
