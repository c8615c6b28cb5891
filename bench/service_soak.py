"""Soak benchmark: the real service against a local site for many scheduled cycles.

Runs `newswatch run` (a subprocess) against a small local news site on a short
interval for N crawl cycles (default 300), prints the service's resident memory
(RSS, main process plus extraction workers) at start, middle and end, and the
time from a new feed item appearing to its alert reaching a local SMTP server,
measured three times during the run.

    python bench/service_soak.py [--cycles 300] [--interval 0.5]

Targets: end RSS within 10% of the middle and under 250 MB; alert latency under
the poll interval + 5 s.
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

from aiosmtpd.controller import Controller

from crawler.demo.runner import serve_folder

ARTICLE = """<!doctype html><html><head><title>{title}</title>
<meta property="article:published_time" content="{date}T10:00:00Z"></head><body>
<nav><a href="/">Home</a></nav><article><h1>{title}</h1><time datetime="{date}">{date}</time>
<p>{sentence}</p>
<p>Officials from both governments met in Baghdad this week to review the security
relationship, the training of Iraqi forces and the future of the advisory mission.</p>
<p>Analysts said the talks reflected years of negotiation between the two capitals, and that
the plan still needs approval from both governments before it takes effect.</p>
</article><footer>Example News</footer></body></html>"""


class Inbox:
    """aiosmtpd handler recording when each message arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = getattr(envelope, "content", b"") or b""
        subject = next((line for line in content.decode(errors="replace").splitlines()
                        if line.startswith("Subject:")), "")
        self.arrivals.append((time.monotonic(), subject))
        return "250 OK"


class Site:
    def __init__(self, root: Path):
        self.root = root
        self.items: list[tuple[str, str, str]] = []
        self.server, self.url = serve_folder(root)

    def publish(self, slug: str, date: str, sentence: str) -> None:
        (self.root / f"{slug}.html").write_text(
            ARTICLE.format(title=f"Report {slug}", date=date, sentence=sentence))
        self.items.insert(0, (slug, date, f"Report {slug}"))
        items = "".join(
            f"<item><title>{t}</title><link>{self.url}/{s}.html</link><guid>{s}</guid>"
            f"<pubDate>{formatdate(time.mktime(time.strptime(d, '%Y-%m-%d')))}</pubDate></item>"
            for s, d, t in self.items[:20]
        )
        tmp = self.root / "feed.xml.tmp"
        tmp.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>n</title>'
                       f"<link>{self.url}</link><description>d</description>{items}"
                       "</channel></rss>")
        tmp.replace(self.root / "feed.xml")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB."""
    pids = [pid]
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for child in out.split():
        pids.append(int(child))
        grand = subprocess.run(["pgrep", "-P", child], capture_output=True, text=True).stdout
        pids.extend(int(g) for g in grand.split())
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def cycles(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM runs WHERE finished IS NOT NULL "
                                "AND source = 'news'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between crawls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        root.mkdir()
        site = Site(root)
        inbox = Inbox()
        with socket.socket() as probe:  # aiosmtpd's Controller needs a concrete port
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        smtp = Controller(inbox, hostname="127.0.0.1", port=port)
        smtp.start()
        figures = iter([2500, 2000, 1500, 1000, 750, 500])
        site.publish("r0", "2025-01-01",
                     f"The United States has approximately {next(figures):,} troops in Iraq.")
        config = Path(tmp) / "config.yaml"
        config.write_text(f"""archive: {tmp}/soak.db
crawl: {{timeout: 5, retries: 0, autothrottle: false}}
service: {{jitter: 0, log_level: WARNING}}
sources:
  - {{name: news, type: feed, url: "{site.url}/feed.xml", every: {args.interval}, revisit: 0}}
stories:
  - name: s
    match: {{all: [Iraq]}}
    trackers:
      - {{name: us-troops-iraq, label: US troops in Iraq, kind: troops, about: [Iraq]}}
alerts:
  email: {{smtp: "smtp://127.0.0.1:{smtp.port}", from: "n@test", to: ["d@test"]}}
  every: 1s
""")
        service = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(config),
                                    "run"], stderr=subprocess.DEVNULL)
        db = Path(tmp) / "soak.db"
        marks = {"start": 3, "middle": args.cycles // 2, "end": args.cycles}
        probes = {args.cycles // 6, args.cycles // 2 + args.cycles // 6,
                  args.cycles - args.cycles // 6}
        memory: dict[str, float] = {}
        latencies: list[float] = []
        n = 0
        started = time.monotonic()
        try:
            while n < args.cycles:
                n = cycles(db)
                for name, at in marks.items():
                    if n >= at and name not in memory:
                        memory[name] = rss_mb(service.pid)
                        print(f"cycle {n:4d}: RSS {memory[name]:6.1f} MB ({name})", flush=True)
                if probes and n >= min(probes):
                    probes.discard(min(probes))
                    before = len(inbox.arrivals)
                    published = time.monotonic()
                    site.publish(f"r{n}", "2025-10-01",
                                 f"The United States now has fewer than {next(figures):,} "
                                 "troops in Iraq.")
                    while len(inbox.arrivals) == before and time.monotonic() - published < 60:
                        time.sleep(0.05)
                    if len(inbox.arrivals) > before:
                        latencies.append(inbox.arrivals[before][0] - published)
                        print(f"cycle {n:4d}: new item -> alert in {latencies[-1]:.2f} s",
                              flush=True)
                    else:
                        print(f"cycle {n:4d}: no alert within 60 s", flush=True)
                time.sleep(0.1)
        finally:
            service.terminate()
            service.wait(timeout=30)
            smtp.stop()
            site.server.shutdown()
        elapsed = time.monotonic() - started
        growth = (memory["end"] - memory["middle"]) / memory["middle"]
        print(f"\n{args.cycles} cycles in {elapsed:.0f} s; RSS start {memory['start']:.1f} MB, "
              f"middle {memory['middle']:.1f} MB, end {memory['end']:.1f} MB "
              f"(end vs middle {growth:+.1%}; target within 10%, under 250 MB)")
        if latencies:
            print(f"alert latency: max {max(latencies):.2f} s over {len(latencies)} probes "
                  f"(target < interval + 5 s = {args.interval + 5:.1f} s)")


if __name__ == "__main__":
    main()
