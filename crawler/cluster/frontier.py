"""The frontier (a Redis stream of source jobs) and the reports queue (another stream).

Keys (all under ``newswatch:``):

- ``jobs``: one entry per source crawl, ``{source}``; consumer group ``workers``. A
  worker's claimed entry stays in the group's pending-entries list (its lease) until
  the worker acknowledges it; the worker renews it while crawling (``XCLAIM`` to itself
  resets its idle time). An entry idle for longer than ``cluster.lease`` belongs to a
  worker that died or was cut off, and the next worker takes it over (``XAUTOCLAIM``).
- ``queued:<source>``: the id of the source's job while it is queued or running, so a
  source is never queued twice (``enqueue`` skips it, like the service's max_instances=1).
- ``reports``: what workers extracted, ``{kind: report|seen|run, job, source, body}``;
  consumer group ``writer`` (the one archive writer). ``seen``: a page fetched again
  byte for byte as archived (no extraction, nothing to store but the visit).
- ``seen:<source>``: what the archive holds of the source's documents, url -> "raw_hash
  last_seen", so a worker skips articles not due for a revisit and pages unchanged since
  (as `crawl` does from the archive itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio

log = logging.getLogger(__name__)

PREFIX = "newswatch:"
JOBS = PREFIX + "jobs"
WORKERS = "workers"
REPORTS = PREFIX + "reports"
WRITER = "writer"


def queued_key(source: str) -> str:
    return f"{PREFIX}queued:{source}"


def seen_key(source: str) -> str:
    """What the archive holds of a source's documents, for its workers: url -> "raw_hash
    last_seen" (written by the writer after each commit, read by a worker at job start)."""
    return f"{PREFIX}seen:{source}"


def job_key(job: str) -> str:
    """The writer's record of one job: its run id, whether the run was finished."""
    return f"{PREFIX}job:{job}"


def job_docs_key(job: str) -> str:
    """The writer's tally of one job: url -> what storing it did (new, revised, unchanged)."""
    return f"{PREFIX}job:{job}:docs"


# Atomic "queue this source unless its job is still queued or running".
_ENQUEUE = """
local current = redis.call('GET', KEYS[2])
if current and #redis.call('XRANGE', KEYS[1], current, current) > 0 then
  return false
end
local id = redis.call('XADD', KEYS[1], '*', 'source', ARGV[1])
redis.call('SET', KEYS[2], id)
return id
"""


def ensure_group(r: redis.Redis, stream: str, group: str) -> None:
    """Create the stream's consumer group (and the stream) unless it exists."""
    try:
        r.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.exceptions.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


async def ensure_group_async(r: redis.asyncio.Redis, stream: str, group: str) -> None:
    try:
        await r.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.exceptions.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def enqueue(r: redis.Redis, sources: Iterable[str]) -> dict[str, str | None]:
    """Queue a crawl job per source; {source: job id, or None when already queued/running}."""
    ensure_group(r, JOBS, WORKERS)
    script = r.register_script(_ENQUEUE)
    return {name: script(keys=[JOBS, queued_key(name)], args=[name]) for name in sources}


async def enqueue_async(r: redis.asyncio.Redis, sources: Iterable[str]
                        ) -> dict[str, str | None]:
    """:func:`enqueue` on an asyncio client (the service's scheduled jobs)."""
    await ensure_group_async(r, JOBS, WORKERS)
    script = r.register_script(_ENQUEUE)
    return {name: await script(keys=[JOBS, queued_key(name)], args=[name]) for name in sources}


@dataclass(frozen=True)
class Depth:
    """How much work the cluster has: jobs waiting and running, reports not yet archived."""

    jobs_waiting: int
    jobs_running: int
    reports_waiting: int


def depth(r: redis.Redis) -> Depth:
    """The frontier's depth (status, benchmarks). Both streams delete what is done, so
    their lengths are what is left (a group's ``lag`` is unknown once entries are
    deleted)."""
    ensure_group(r, JOBS, WORKERS)
    ensure_group(r, REPORTS, WRITER)
    jobs: Any = next(g for g in r.xinfo_groups(JOBS) if g["name"] == WORKERS)
    queued: Any = r.xlen(JOBS)
    reports: Any = r.xlen(REPORTS)
    return Depth(jobs_waiting=max(0, int(queued) - int(jobs["pending"])),
                 jobs_running=int(jobs["pending"]), reports_waiting=int(reports))


@dataclass(frozen=True)
class Job:
    id: str
    source: str
    # Workers that took this job before and never finished it (killed, cut off); a
    # job a stopping worker handed back does not count.
    failed_attempts: int = 0


class Frontier:
    """A worker's side of the jobs stream (asyncio)."""

    def __init__(self, r: redis.asyncio.Redis, consumer: str, lease: float):
        self.r = r
        self.consumer = consumer
        self.lease_ms = int(lease * 1000)
        self._if_ours = r.register_script(_IF_OURS)
        self._finish = r.register_script(_FINISH)

    async def claim(self, block: float = 1.0) -> Job | None:
        """The next job: first one a dead worker left (idle past the lease), else a new one."""
        await ensure_group_async(self.r, JOBS, WORKERS)
        cursor = "0-0"
        while True:
            claimed: Any = await self.r.xautoclaim(JOBS, WORKERS, self.consumer, self.lease_ms,
                                            start_id=cursor, count=1)
            cursor, entries = claimed[0], claimed[1]
            for entry_id, fields in entries:
                job = await self._job(entry_id, fields, taken_over=True)
                if job is not None:
                    return job
            if cursor == "0-0":
                break
        reply: Any = await self.r.xreadgroup(WORKERS, self.consumer, {JOBS: ">"}, count=1,
                                        block=int(block * 1000))
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                job = await self._job(entry_id, fields)
                if job is not None:
                    return job
        return None

    async def _job(self, entry_id: str, fields: dict[str, str] | None,
                   taken_over: bool = False) -> Job | None:
        if not fields or "source" not in fields:  # deleted or not a job: drop it
            await self.r.xack(JOBS, WORKERS, entry_id)
            return None
        if not taken_over:
            return Job(entry_id, fields["source"])
        # XAUTOCLAIM counted this delivery: the first worker's was 1.
        pending = await self.r.xpending_range(JOBS, WORKERS, min=entry_id, max=entry_id,
                                              count=1)
        delivered = int(pending[0]["times_delivered"]) if pending else 2
        handed_back = int(await self.r.hget(job_key(entry_id), "handed_back") or 0)
        failed = max(0, delivered - 1 - handed_back)
        if failed:
            log.warning("taking over job %s (%s): its worker stopped renewing it",
                        entry_id, fields["source"])
        else:
            log.info("taking over job %s (%s): handed back by a worker that stopped",
                     entry_id, fields["source"])
        return Job(entry_id, fields["source"], failed)

    async def renew(self, job: Job) -> bool:
        """Renew the lease on ``job`` (reset its idle time); False if another worker has it."""
        return bool(await self._if_ours(keys=[JOBS], args=[job.id, self.consumer, 0]))

    async def hand_back(self, job: Job) -> bool:
        """Give ``job`` up at once (this worker is stopping): the next worker that asks
        takes it over without waiting for the lease, and it is no failed attempt. False
        if it was no longer this worker's (finished, or taken over)."""
        return bool(await self._if_ours(keys=[JOBS, job_key(job.id)],
                                        args=[job.id, self.consumer, self.lease_ms]))

    async def seen(self, source: str) -> dict[str, str]:
        """What the writer has seen of ``source``'s documents (url -> "raw_hash last_seen")."""
        seen: Any = await self.r.hgetall(seen_key(source))
        return dict(seen)

    async def push(self, kind: str, job: Job, body: dict[str, Any]) -> None:
        """Queue one message for the writer (a report, a page seen again)."""
        await self.r.xadd(REPORTS, {"kind": kind, "job": job.id, "source": job.source,
                                    "body": json.dumps(body, ensure_ascii=False)})

    async def finish(self, job: Job, outcome: dict[str, Any] | None) -> bool:
        """In one step: queue the run's ``outcome`` for the writer (None: no run, e.g. a
        job for a source the config no longer has) and drop the job from the frontier.
        False, and nothing done, if the job is no longer this worker's (taken over)."""
        body = "" if outcome is None else json.dumps(outcome, ensure_ascii=False)
        return bool(await self._finish(keys=[JOBS, REPORTS, queued_key(job.source)],
                                       args=[job.id, self.consumer, job.source, body]))


# The job's pending entry still belongs to ARGV[2]: reset its idle time to ARGV[3] ms
# (0: a renewal; the lease: a hand-back, counted in KEYS[2] when given). JUSTID: a
# renewal or hand-back is no new delivery.
_IF_OURS = """
local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
if KEYS[2] then redis.call('HINCRBY', KEYS[2], 'handed_back', 1) end
redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'IDLE', ARGV[3], 'JUSTID')
return 1
"""

# Finish a job atomically (a kill between its steps would leave a job acknowledged but
# not deleted, which `enqueue` takes for queued, or a run queued twice).
_FINISH = """
local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[2], '*', 'kind', 'run', 'job', ARGV[1], 'source', ARGV[3],
             'body', ARGV[4])
end
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""
