"""Past one machine: `newswatch worker` processes on a real Redis, one archive writer.

Everything is real and on loopback: a redis-server subprocess with its own data folder,
the news fixture site, workers and the writer as the commands users run.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from alert_servers import SMTPSink
from conftest import run_cli
from newssite import BASELINE, FILLER, MOVED, NewsSite
from support.archives import query
from support.configs import service_config
from support.redisserver import RedisServer
from support.service import Service
from support.waits import wait_until

from crawler.archive.store import Archive
from crawler.cluster.frontier import REPORTS, Depth, Frontier, Job, depth, enqueue, job_key
from crawler.cluster.heartbeat import Heartbeat, worker_key
from crawler.cluster.writer import Writer
from crawler.config.model import load_config

WORKTREE = Path(__file__).resolve().parent.parent
STORIES = [{"name": "iraq", "match": {"all": ["Iraq"]},
            "trackers": [{"name": "us-troops-iraq", "kind": "troops", "about": ["Iraq"]}]}]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


class Process(Service):
    """A `newswatch ARGS` subprocess (this worktree's code), output in a file."""

    def __init__(self, config: Path, log: Path, *args: str):
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "--config", str(config), "-v", *args],
            stdout=self._out, stderr=subprocess.STDOUT, cwd=WORKTREE,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(WORKTREE)})

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def end(self) -> str:
        """Stop it (SIGINT; SIGKILL if it hangs) and return its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.output()


def publish(site: NewsSite, feeds: int, per_feed: int) -> list[str]:
    """``feeds`` feeds (feed0.xml, ...) of ``per_feed`` new articles each; their paths."""
    paths = []
    for f in range(feeds):
        items = []
        for i in range(per_feed):
            slug = f"f{f}-{i}"
            figure = f"{2000 + 100 * f + i:,}"
            body = (f"The United States has approximately {figure} troops in Iraq, officials "
                    f"said in report {slug}.")
            site.publish([(slug, f"2025-0{1 + f % 9}-1{i % 10}", f"Report {slug} on Iraq",
                           body + " " + FILLER)])
            items.append(site.items.pop())
            paths.append(f"/news/{slug}.html")
        xml = "".join(
            f"<item><title>{title}</title><link>{site.server.url}/news/{slug}.html</link>"
            f"<guid>{slug}</guid></item>" for slug, _date, title in items)
        site.server.publish(f"feed{f}.xml", '<?xml version="1.0"?><rss version="2.0"><channel>'
                            f"<title>F{f}</title><link>{site.server.url}/</link>"
                            f"<description>d</description>{xml}</channel></rss>")
    return paths


def cluster_config(tmp_path: Path, make_config: Any, site: NewsSite, feeds: int,
                   redis_url: str, per_domain: int = 4, lease: int = 2) -> Path:
    sources = [{"name": f"feed{f}", "type": "feed", "url": f"{site.server.url}/feed{f}.xml"}
               for f in range(feeds)]
    return make_config(tmp_path, sources, stories=STORIES,
                       crawl={"per_domain": per_domain, "concurrency": 8},
                       cluster={"redis": redis_url, "lease": lease})


def finished_runs(db: Path) -> list[tuple[Any, ...]]:
    return query(db, "SELECT source, status, new_documents, new_versions, fetched, unchanged "
                     "FROM runs WHERE status != 'running' ORDER BY source")


def wait_until_archived(db: Path, runs: int, timeout: float) -> None:
    """Wait for ``runs`` runs recorded and the writer's pass after them (facts, changes)."""
    wait_until(lambda: len(finished_runs(db)) == runs, timeout, f"{runs} run(s) recorded")
    wait_until(lambda: query(db, "SELECT count(*) FROM facts WHERE evaluated = 0") == [(0,)],
               30, "the pass after the crawl")


def assert_archived_once(db: Path, paths: list[str], feeds: int) -> None:
    docs = query(db, "SELECT url FROM documents")
    assert sorted(u.split("/", 3)[3] for (u,) in docs) == sorted(p[1:] for p in paths)
    assert query(db, "SELECT count(*) FROM versions") == [(len(paths),)]
    runs = finished_runs(db)
    per_feed = len(paths) // feeds
    assert runs == [(f"feed{f}", "ok", per_feed, 0, per_feed, 0) for f in range(feeds)]
    # The writer ran the pass after the crawl: facts extracted, the tracker evaluated.
    assert query(db, "SELECT count(*) FROM versions WHERE facts_done = 0") == [(0,)]
    assert query(db, "SELECT count(*) FROM facts WHERE evaluated = 0") == [(0,)]
    assert query(db, "SELECT count(*) FROM changes WHERE tracker = 'us-troops-iraq'")[0][0] >= 1


def enqueue_all(cli_run: Any, config: Path) -> list[dict[str, Any]]:
    result = cli_run("--config", str(config), "cluster", "enqueue", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_two_workers_and_the_writer_archive_every_document_once_within_the_domain_limit(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    feeds = 4
    paths = publish(news_site, feeds, per_feed=3)
    for path in paths:
        news_site.server.delay(path, 0.15)  # long enough for two workers' requests to meet
    config = cluster_config(tmp_path, make_config, news_site, feeds, redis_server.url,
                            per_domain=1)
    db = tmp_path / "newswatch.db"
    jobs = enqueue_all(cli_run, config)
    assert [j["source"] for j in jobs] == [f"feed{f}" for f in range(feeds)]
    assert all(j["job"] for j in jobs)
    # Queued twice: a source already queued is skipped.
    assert [j["job"] for j in enqueue_all(cli_run, config)] == [None] * feeds
    procs = [Process(config, tmp_path / "writer.log", "writer"),
             Process(config, tmp_path / "w1.log", "worker", "--name", "w1", "--parallel", "1"),
             Process(config, tmp_path / "w2.log", "worker", "--name", "w2", "--parallel", "1")]
    try:
        wait_until_archived(db, feeds, 120)
    finally:
        logs = [p.end() for p in procs]
    assert_archived_once(db, paths, feeds)
    assert all(news_site.server.count(p) == 1 for p in paths)
    # Both workers crawled, and the site never saw two requests at once.
    assert "job" in logs[1] and "done" in logs[1], logs[1][-3000:]
    assert "job" in logs[2] and "done" in logs[2], logs[2][-3000:]
    assert news_site.server.max_in_flight == 1
    # Jobs are acknowledged and gone; a source can be queued again.
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert r.xlen("newswatch:jobs") == 0 and r.xlen(REPORTS) == 0
    assert all(j["job"] for j in enqueue_all(cli_run, config))


def test_the_service_queues_due_sources_for_the_workers_and_archives_and_alerts(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer) -> None:
    """`run` with a cluster: section: its per-source jobs queue crawls on the frontier
    (every second here), a worker crawls them, and the service's writer thread archives
    the reports, detects changes and alerts, exactly as the one-process service does."""
    news_site.publish(BASELINE)
    with SMTPSink() as smtp:
        config = service_config(tmp_path, news_site, smtp.port)
        config.write_text(config.read_text() + f"cluster: {{redis: '{redis_server.url}', "
                          "lease: 2}\n", encoding="utf-8")
        db = tmp_path / "archive.db"

        def runs(source: str) -> int:
            return len(query(db, f"SELECT id FROM runs WHERE source = '{source}' "
                                 "AND status != 'running'"))

        service = Process(config, tmp_path / "service.log", "run")
        worker = Process(config, tmp_path / "w1.log", "worker", "--name", "w1")
        try:
            wait_until(lambda: runs("news") >= 2 and runs("dead") >= 2, 90,
                       "two runs of each source, crawled by the worker")
            wait_until(lambda: query(db, "SELECT 1 FROM changes WHERE type = 'baseline'"), 30,
                       "the baseline, detected by the service's writer")

            def status() -> list[dict[str, Any]]:
                result = run_cli("--config", str(config), "status", "--json")
                assert result.exit_code == 0, result.output
                return [json.loads(line) for line in result.stdout.splitlines()]

            # `status` shows the frontier and the worker, with its pages so far.
            def counted() -> list[dict[str, Any]] | None:
                rows = status()
                return rows if any(r["kind"] == "worker" and r["pages"] >= 1
                                   for r in rows) else None

            rows = wait_until(counted, 30, "the worker's heartbeat counting pages")
            [frontier] = [r for r in rows if r["kind"] == "cluster"]
            assert frontier["redis"] == redis_server.url and "error" not in frontier
            assert all(isinstance(frontier[k], int)
                       for k in ("jobs_waiting", "jobs_running", "reports_waiting"))
            # A source is never queued twice and a finished job is deleted: at most one job
            # per source (two) is waiting or running.
            assert frontier["jobs_waiting"] + frontier["jobs_running"] <= 2
            [seen] = [r for r in rows if r["kind"] == "worker"]
            assert (seen["name"], seen["state"]) == ("w1", "running")
            assert seen["jobs"] >= 1 and seen["errors"] >= 1  # the dead feed's failures
            assert seen["last_seen_ago"] < 15

            news_site.publish(MOVED[:1])
            mails = smtp.wait_for(1, timeout=60)
            assert mails[0]["Subject"] == "US troops in Iraq: ~2,500 → <2,000"
            streak = query(db, "SELECT error_streak FROM sources WHERE name = 'dead'")
            assert streak[0][0] >= 2
        finally:
            service_log = service.end()
            worker_log = worker.end()
        assert "cluster mode" in service_log and "service stopped" in service_log
        assert "queued for the workers as job" in service_log
        assert "crawling news" in worker_log  # the worker crawled, not the service
        assert "crawling http" not in service_log, service_log[-3000:]
        assert len(smtp.messages) == 1
    stopped = run_cli("--config", str(config), "cluster", "status")
    assert stopped.exit_code == 0, stopped.output
    assert re.search(r"cluster: redis://\S+: \d+ jobs waiting, \d+ running, \d+ reports "
                     "not yet archived", stopped.output), stopped.output
    assert [line.split()[:2] for line in stopped.output.splitlines()
            if line.startswith("w1")] == [["w1", "stopped"]]
    # Every article archived once, however many runs saw it.
    articles = query(db, "SELECT url, count(*) FROM versions JOIN documents d "
                         "ON d.id = versions.document_id GROUP BY url")
    assert len(articles) == len(BASELINE) + 1
    assert all(n == 1 for _url, n in articles)


def test_the_service_stops_within_its_grace_while_redis_is_down(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer) -> None:
    redis_server.stop()  # down from the start: queueing and the writer wait for it
    config = service_config(tmp_path, news_site, 1)
    config.write_text(config.read_text() + f"cluster: {{redis: '{redis_server.url}'}}\n",
                      encoding="utf-8")
    service = Process(config, tmp_path / "service.log", "run")
    try:
        wait_until(lambda: "is unreachable" in service.output(), 30, "the outage noticed")
    finally:
        start = time.monotonic()
        log = service.end()  # SIGINT; the grace period is 5 s
    assert time.monotonic() - start < 5, log[-3000:]
    assert service.proc.returncode == 0 and "service stopped" in log, log[-3000:]
    assert "still in progress" not in log and "still busy" not in log, log[-3000:]
    assert "raised an exception" not in log and "Traceback" not in log, log[-3000:]
    assert log.count("is unreachable") <= 2, log[-3000:]  # one line per client, not per try


def test_status_shows_a_worker_not_seen_for_three_heartbeats_as_gone_and_a_redis_down(
        tmp_path: Path, redis_server: RedisServer, make_config: Any, cli_run: Any) -> None:
    config = make_config(tmp_path, [{"name": "a", "type": "feed", "url": "http://x.example/"}],
                         cluster={"redis": redis_server.url})
    assert cli_run("--config", str(config), "crawl", "--source", "a").exit_code == 1

    async def beat() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        await Heartbeat(client, "killed").beat("starting")
        await client.aclose()

    asyncio.run(beat())
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    seconds, _ = r.time()
    r.hset(worker_key("killed"), "last_seen", seconds - 100)  # its last beat, long ago
    result = cli_run("--config", str(config), "cluster", "status", "--json")
    assert result.exit_code == 0, result.output
    [worker] = [json.loads(line) for line in result.stdout.splitlines()
                if '"worker"' in line]
    assert (worker["name"], worker["state"], worker["running"]) == ("killed", "gone", 0)
    assert worker["last_seen_ago"] >= 100

    redis_server.stop()
    status = cli_run("--config", str(config), "status")
    assert status.exit_code == 0, status.output  # the archive's status still shows
    assert f"cluster: redis at {redis_server.url} is unreachable" in status.output
    assert "source" in status.output and "archive:" in status.output
    down = cli_run("--config", str(config), "cluster", "status")
    assert down.exit_code == 2 and "is unreachable" in down.output


def test_workers_skip_what_the_archive_holds_articles_not_due_and_unchanged_pages(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    """Workers know what the archive holds (written by the writer, seeded from an archive
    made before the cluster): an article not due for a revisit is not fetched, and a page
    fetched byte for byte as archived is not extracted, whichever worker crawls it."""
    paths = publish(news_site, 1, per_feed=3)
    feed = [{"name": "feed0", "type": "feed", "url": f"{news_site.server.url}/feed0.xml",
             "revisit": "1h"}]
    cluster = {"redis": redis_server.url, "lease": 2}
    config = make_config(tmp_path, feed, stories=STORIES, cluster=cluster)
    db = tmp_path / "newswatch.db"
    assert cli_run("--config", str(config), "crawl").exit_code == 0  # before the cluster

    def crawl_once(name: str) -> str:
        """Queue the source, let a fresh worker (no HTTP cache) crawl it; its log."""
        runs = len(finished_runs(db))
        enqueue_all(cli_run, config)
        worker = Process(config, tmp_path / f"{name}.log", "worker", "--name", name,
                         "--max-jobs", "1", "--dir", str(tmp_path / name))
        assert worker.proc.wait(60) == 0, worker.end()[-3000:]
        wait_until(lambda: len(finished_runs(db)) == runs + 1, 30, "the run recorded")
        return worker.end()

    def last_run() -> tuple[Any, ...]:
        return query(db, "SELECT status, fetched, new_documents, new_versions, unchanged "
                         "FROM runs ORDER BY id DESC LIMIT 1")[0]

    writer = Process(config, tmp_path / "writer.log", "writer")
    try:
        wait_until(lambda: "archiving reports" in writer.output(), 30, "the writer")
        # Seeded from the archive: nothing due, no article fetched again.
        crawl_once("w1")
        assert last_run() == ("ok", 0, 0, 0, 3)
        assert [news_site.server.count(p) for p in paths] == [1, 1, 1]

        # A new article: fetched, extracted and archived; the writer records it.
        paths += publish(news_site, 1, per_feed=4)[3:]
        log = crawl_once("w2")
        assert last_run() == ("ok", 1, 1, 0, 3), log[-3000:]
        assert [news_site.server.count(p) for p in paths] == [1, 1, 1, 1]

        # Everything due again: each page fetched, found byte for byte as archived,
        # and not extracted; the writer notes each visit.
        config.write_text(config.read_text().replace("revisit: 1h", "revisit: 0"))
        before = query(db, "SELECT url, last_seen FROM documents ORDER BY url")
        time.sleep(1.1)  # last_seen has whole seconds
        log = crawl_once("w3")
        assert last_run() == ("ok", 4, 0, 0, 4), log[-3000:]
        assert [news_site.server.count(p) for p in paths] == [2, 2, 2, 2]
        assert "queued http" not in log  # nothing extracted, nothing to store
        after = query(db, "SELECT url, last_seen FROM documents ORDER BY url")
        assert [u for u, _ in after] == [u for u, _ in before]
        assert all(a > b for (_, a), (_, b) in zip(after, before, strict=True))
    finally:
        writer.end()
    assert query(db, "SELECT count(*) FROM versions") == [(4,)]


def crawling_a_slow_feed(tmp_path: Path, news_site: NewsSite, redis_server: RedisServer,
                         make_config: Any, cli_run: Any, lease: int
                         ) -> tuple[list[str], Path, Process, Process]:
    """One feed of 6 slow articles queued, the writer and worker w1 running, and w1 in
    the middle of the crawl, two of its reports archived: (paths, config, writer, w1)."""
    paths = publish(news_site, 1, per_feed=6)
    for path in paths:
        news_site.server.delay(path, 0.6)
    config = cluster_config(tmp_path, make_config, news_site, 1, redis_server.url,
                            per_domain=1, lease=lease)
    writer = Process(config, tmp_path / "writer.log", "writer")
    first = Process(config, tmp_path / "w1.log", "worker", "--name", "w1")
    try:
        enqueue_all(cli_run, config)
        wait_until(lambda: query(tmp_path / "newswatch.db",
                                 "SELECT count(*) FROM documents") >= [(2,)], 60,
                   "the first worker's first reports archived")
    except BaseException:
        writer.end()
        first.end()
        raise
    return paths, config, writer, first


def test_a_killed_workers_job_goes_to_another_after_the_lease(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    paths, config, writer, first = crawling_a_slow_feed(tmp_path, news_site, redis_server,
                                                        make_config, cli_run, lease=2)
    db = tmp_path / "newswatch.db"
    second = None
    try:
        # Killed mid-crawl: some of its reports already queued (and maybe archived).
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        second = Process(config, tmp_path / "w2.log", "worker", "--name", "w2")
        wait_until_archived(db, 1, 90)
    finally:
        writer_log = writer.end()
        first.end()
        second_log = second.end() if second else ""
    assert "taking over job" in second_log, second_log[-3000:]
    # The same result as one uninterrupted crawl: one run, each document once.
    assert_archived_once(db, paths, 1)
    assert query(db, "SELECT count(*) FROM runs") == [(1,)], writer_log[-2000:]


def test_a_stopped_worker_hands_its_job_back_at_once(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    # A lease far longer than the test: only a hand-back lets the second worker in.
    paths, config, writer, first = crawling_a_slow_feed(tmp_path, news_site, redis_server,
                                                        make_config, cli_run, lease=300)
    db = tmp_path / "newswatch.db"
    second = None
    try:
        first.proc.send_signal(signal.SIGTERM)  # as a process manager stops it
        first.proc.wait(20)  # (a second signal would stop it at once)
        first_log = first.end()
        assert first.proc.returncode == 130, first_log[-2000:]
        assert "handed back for another worker" in first_log
        second = Process(config, tmp_path / "w2.log", "worker", "--name", "w2")
        wait_until_archived(db, 1, 60)
    finally:
        writer.end()
        first.end()
        second_log = second.end() if second else ""
    assert "handed back by a worker that stopped" in second_log, second_log[-3000:]
    assert_archived_once(db, paths, 1)


def test_a_job_no_worker_survives_is_given_up_after_max_attempts(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    publish(news_site, 1, per_feed=1)
    config_path = make_config(
        tmp_path, [{"name": "feed0", "type": "feed", "url": f"{news_site.server.url}/feed0.xml"}],
        stories=STORIES, cluster={"redis": redis_server.url, "lease": 1, "max_attempts": 2})
    [job] = enqueue_all(cli_run, config_path)
    # Two workers took it and died (never acknowledged, never renewed): the first read
    # it, the second took it over after the lease.
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    r.xreadgroup("workers", "dead-1", {"newswatch:jobs": ">"}, count=1)
    time.sleep(1.1)
    r.xautoclaim("newswatch:jobs", "workers", "dead-2", 1000, count=1)
    time.sleep(1.1)
    worker = Process(config_path, tmp_path / "w.log", "worker", "--max-jobs", "1")
    assert worker.proc.wait(60) == 0
    log = worker.end()
    assert "gave up: 2 workers took this job" in log, log[-3000:]
    assert news_site.server.count("/feed0.xml") == 0  # not crawled a third time
    config = load_config(config_path)
    archive = Archive.open(config.archive)
    try:
        writer = Writer(config, archive)
        assert writer.step() == 1
        writer.close()
    finally:
        archive.close()
    [(status, details)] = query(tmp_path / "newswatch.db",
                                "SELECT status, error_detail FROM runs")
    assert status == "failed" and "gave up: 2 workers took this job" in details
    assert r.xlen("newswatch:jobs") == 0 and not r.exists("newswatch:queued:feed0")
    assert job["job"]


def test_a_writer_killed_mid_batch_resumes_and_archives_each_report_once(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    feeds = 4
    paths = publish(news_site, feeds, per_feed=20)
    config = cluster_config(tmp_path, make_config, news_site, feeds, redis_server.url)
    db = tmp_path / "newswatch.db"
    enqueue_all(cli_run, config)
    # The workers queue everything first; then the writer starts on a full batch.
    worker = Process(config, tmp_path / "w1.log", "worker", "--max-jobs", str(feeds))
    assert worker.proc.wait(60) == 0, worker.end()[-3000:]
    worker.end()
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert r.xlen(REPORTS) == len(paths) + feeds  # every report, and each run's outcome
    first = Process(config, tmp_path / "writer1.log", "writer")
    deadline = time.monotonic() + 60
    while query(db, "SELECT count(*) FROM versions") in ([], [(0,)]):  # polled closely
        assert time.monotonic() < deadline, first.output()[-3000:]
        time.sleep(0.002)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    first.end()
    assert r.xlen(REPORTS) > 0  # it died with work left
    second = Process(config, tmp_path / "writer2.log", "writer")
    try:
        wait_until_archived(db, feeds, 60)
    finally:
        second.end()
    assert_archived_once(db, paths, feeds)
    assert r.xlen(REPORTS) == 0


def test_redis_restarted_mid_crawl_the_workers_and_writer_recover(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer, make_config: Any,
        cli_run: Any) -> None:
    paths = publish(news_site, 2, per_feed=4)
    for path in paths:
        news_site.server.delay(path, 0.4)
    config = cluster_config(tmp_path, make_config, news_site, 2, redis_server.url,
                            per_domain=1, lease=2)
    db = tmp_path / "newswatch.db"
    enqueue_all(cli_run, config)
    procs = [Process(config, tmp_path / "writer.log", "writer"),
             Process(config, tmp_path / "w1.log", "worker", "--name", "w1")]
    try:
        wait_until(lambda: sum(news_site.server.count(p) for p in paths) >= 1, 60,
                   "the worker fetching articles")
        redis_server.stop()
        wait_until(lambda: "unreachable" in procs[1].output(), 30, "the worker noticing")
        wait_until(lambda: "unreachable" in procs[0].output(), 30, "the writer noticing")
        redis_server.start()
        wait_until_archived(db, 2, 120)
    finally:
        logs = [p.end() for p in procs]
    for log in logs:
        assert log.count("unreachable") == 1, log[-3000:]  # one line per outage
        assert "is back" in log
    assert_archived_once(db, paths, 2)


def test_a_redelivered_report_is_archived_once_and_counted_once(
        tmp_path: Path, news_site: NewsSite, redis_server: RedisServer,
        make_config: Any) -> None:
    """The writer died after storing, before acknowledging: its successor sees the
    same messages again (its own pending entries) and changes nothing."""
    config_path = cluster_config(tmp_path, make_config, news_site, 1, redis_server.url)
    config = load_config(config_path)
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    report = {"url": "http://x.example/a", "source": "feed0", "title": "A", "via": "page",
              "text": "The United States has about 2,500 troops in Iraq. " + FILLER,
              "published": "2025-01-01", "stories": ["iraq"], "facts": None}
    for kind, body in (("report", report), ("report", report),
                       ("run", {"status": "ok", "counts": {"fetched": 1}, "details": []})):
        r.xadd(REPORTS, {"kind": kind, "job": "1-0", "source": "feed0",
                         "body": json.dumps(body)})
    archive = Archive.open(config.archive)
    try:
        dying = Writer(config, archive)
        entries = dying._read(0.1)
        assert len(entries) == 3
        for _id, fields in entries:
            dying._handle(fields)  # stored, then "killed" before the acknowledgement
        dying.close()
        successor = Writer(config, archive)
        assert successor.step() == 3  # its pending entries, read again
        successor.close()
    finally:
        archive.close()
    db = tmp_path / "newswatch.db"
    assert query(db, "SELECT count(*) FROM versions") == [(1,)]
    assert finished_runs(db) == [("feed0", "ok", 1, 0, 1, 0)]
    assert r.xlen(REPORTS) == 0
    assert enqueue(r, ["feed0"])["feed0"]


def test_only_the_worker_holding_a_job_finishes_or_hands_it_back(
        redis_server: RedisServer) -> None:
    """A worker cut off past its lease loses the job to the one that took it over: its
    late outcome and its late hand-back change nothing; finishing is one step."""
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    queued = enqueue(r, ["a", "b", "c"])

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
        slow, other = Frontier(client, "slow", 0.05), Frontier(client, "other", 0.05)
        job = await slow.claim(block=0.1)
        assert job is not None and job.source == "a"
        await asyncio.sleep(0.1)
        taken = await other.claim(block=0.1)  # the slow worker's lease ran out
        assert taken == Job(job.id, "a", failed_attempts=1)
        assert not await slow.renew(job)
        assert not await slow.hand_back(job)
        assert not await slow.finish(job, {"status": "ok", "counts": {}})
        assert r.xlen(REPORTS) == 0 and not r.hget(job_key(job.id), "handed_back")
        # The frontier's depth with a finished job deleted: the two others wait.
        assert await other.finish(taken, {"status": "ok", "counts": {"fetched": 1}})
        assert depth(r) == Depth(jobs_waiting=2, jobs_running=0, reports_waiting=1)
        [(_id, fields)] = r.xrange(REPORTS)
        assert (fields["kind"], fields["job"], fields["source"]) == ("run", job.id, "a")
        # Queued again at once: the finished job is gone from the frontier.
        assert enqueue(r, ["a"])["a"] not in (None, queued["a"])
        second = await other.claim(block=0.1)
        assert second is not None and second.source == "b"
        assert depth(r) == Depth(jobs_waiting=2, jobs_running=1, reports_waiting=1)
        assert await other.hand_back(second)  # stopping: it goes to the next worker now
        assert await slow.claim(block=0.1) == Job(second.id, "b", failed_attempts=0)
        await client.aclose()

    asyncio.run(scenario())


def test_a_run_is_recorded_once_per_job_and_the_writer_retries_what_it_could_not_store(
        tmp_path: Path, redis_server: RedisServer, make_config: Any) -> None:
    config = load_config(make_config(
        tmp_path, [{"name": "feed0", "type": "feed", "url": "http://x.example/"}],
        stories=STORIES, cluster={"redis": redis_server.url}))
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    # The second report is long (about 35 kB of distinct words): it needs far more pages
    # than the first one, so a page limit can let the first in and keep the second out.
    long_text = " ".join(f"Briefing{n} on the advisory mission." for n in range(1000))
    for i in range(2):
        report = {"url": f"http://x.example/{i}", "source": "feed0", "title": "A",
                  "text": f"Report {i} on the United States troops in Iraq. "
                          + (FILLER if i == 0 else long_text),
                  "published": "2025-01-01", "stories": ["iraq"], "facts": None}
        r.xadd(REPORTS, {"kind": "report", "job": "7-0", "source": "feed0",
                         "body": json.dumps(report)})
    r.xadd(REPORTS, {"kind": "run", "job": "7-0", "source": "feed0",
                     "body": json.dumps({"status": "ok", "counts": {"fetched": 2}})})
    archive = Archive.open(config.archive)
    try:
        # A write the archive refuses once (here a full archive: SQLite's page limit): the
        # rest of the batch stays unacknowledged and is read again.
        pages = archive.db.execute("PRAGMA page_count").fetchone()[0]
        archive.db.execute(f"PRAGMA max_page_count = {pages + 5}")
        writer = Writer(config, archive, stop=threading.Event())
        writer.stop.wait = lambda seconds: False  # type: ignore[method-assign]
        assert writer.step(block=0.1) == 1  # the first report; then the failure
        archive.db.execute("PRAGMA max_page_count = 1073741823")
        assert writer.step(block=0.1) == 2  # the rest, read again
        writer.close()
        # The run of a job is found again in the archive (a writer restarted between
        # starting it and anything else).
        run_id = archive.start_run("feed0", job="7-0")
        assert archive.start_run("feed0", job="7-0") == run_id
    finally:
        archive.close()
    assert finished_runs(tmp_path / "newswatch.db") == [("feed0", "ok", 2, 0, 2, 0)]
    assert query(tmp_path / "newswatch.db", "SELECT count(*) FROM runs") == [(1,)]


def test_without_a_cluster_section_the_commands_say_what_to_add(
        tmp_path: Path, make_config: Any, cli_run: Any) -> None:
    config = make_config(tmp_path, [{"name": "a", "type": "feed", "url": "http://x.example/"}])
    for args in (["worker"], ["writer"], ["cluster", "enqueue"], ["cluster", "status"]):
        result = cli_run("--config", str(config), *args)
        assert result.exit_code == 2
        assert "no cluster: section" in result.output


@pytest.mark.parametrize("section,error", [
    ("cluster: {redis: 'http://h:6379'}", "cluster.redis: expected a redis://"),
    ("cluster: {redis: 'redis://h:6379/0', lease: 0}", "cluster.lease: expected an interval"),
    ("cluster: {redis: 'redis://h:6379/0', workers: 2}", "cluster: unknown key 'workers'"),
    ("cluster: [redis]", "cluster: expected a mapping"),
], ids=["not-redis", "zero-lease", "unknown-key", "not-a-mapping"])
def test_cluster_config_errors_name_the_key(section: str, error: str) -> None:
    from crawler.config.model import ConfigError, parse_config

    text = f"sources: [{{name: a, type: feed, url: 'http://x.example/'}}]\n{section}\n"
    with pytest.raises(ConfigError, match=error.replace(".", r"\.")):
        parse_config(text, Path("config.yaml"), environ={})


def test_cluster_config_defaults_and_secrets_from_the_environment() -> None:
    from crawler.config.model import ClusterConfig, parse_config

    base = "sources: [{name: a, type: feed, url: 'http://x.example/'}]\n"
    assert parse_config(base, Path("config.yaml"), environ={}).cluster is None
    config = parse_config(base + "cluster: {redis: 'redis://:${REDIS_PASSWORD}@h:6379/0'}\n",
                          Path("config.yaml"), environ={"REDIS_PASSWORD": "s3cret"})
    assert config.cluster == ClusterConfig(redis="redis://:s3cret@h:6379/0")
    assert "s3cret" in config.env_values  # masked in logs like every ${VAR}
