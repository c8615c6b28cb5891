"""A small real HTTP server for tests: serves the fixture site (or any directory).

    with SiteServer(copy_site(tmp_path / "site")) as site:
        crawl(site.url + "/feeds/wire.xml")
        assert site.count("/news/iraq-coalition-talks.html") == 1

* Files under ``root``; ``path/`` serves ``path/index.html`` (a directory without the
  slash gets a 301 to it). Text files (.html .xml .txt) have ``{{BASE}}`` replaced by
  ``.url`` so feeds can hold absolute links; ETag is a hash of the bytes actually sent.
* Content-Type by extension; .html under a ``latin1/`` folder is ``iso-8859-1``.
* ``ETag`` + ``Last-Modified`` (file mtime), conditional GET -> 304.
* Built in by path: ``/missing/...`` 404; ``/flaky/...`` 500 on the first request of
  each path, then the file; ``/slow/...`` sleeps ``slow_seconds`` (5 s);
  ``/big/...`` a generated HTML body of ``big_size`` bytes (~3 MB) instead of the file.
* Hooks: ``fail()``, ``delay()``, ``redirect()``; ``publish()``/``edit()`` change root.
* Every request is logged in ``.requests`` as ``(method, path, status)``, and with its
  timing in ``.hits`` (a :class:`Hit`: when it arrived and was answered, ``time.monotonic``,
  and how many requests were in flight on arrival, itself included); ``.max_in_flight`` is
  the most requests answered at once. Nothing is printed to stderr.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

FIXTURE_SITE = Path(__file__).parent / "fixtures" / "sites"
TEXT_TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain",
              ".md": "text/markdown", ".css": "text/css", ".json": "application/json"}
BINARY_TYPES = {".pdf": "application/octet-stream", ".bin": "application/octet-stream",
                ".png": "image/png", ".jpg": "image/jpeg"}
SUBSTITUTE = {".html", ".htm", ".xml", ".txt"}


def copy_site(dest: Path, src: Path = FIXTURE_SITE) -> Path:
    """Copy the fixture site to ``dest`` (so a test may edit it) and return ``dest``."""
    shutil.copytree(src, dest)
    return dest


@dataclass(frozen=True)
class Hit:
    """One answered request: arrival and answer times (time.monotonic) and concurrency."""

    path: str
    status: int
    arrived: float
    answered: float
    in_flight: int  # requests being answered when this one arrived, itself included


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # many crawlers connect at once (the default backlog is 5)


class SiteServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port> in a daemon thread, serving ``root``.

    ``host`` and ``port`` bind elsewhere on loopback (tests/test_ssrf.py puts a second
    server on 127.0.0.2 at the first one's port).
    """

    slow_seconds = 5.0
    big_size = 3_000_000

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.requests: list[tuple[str, str, int]] = []
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._fails: dict[str, list] = {}  # path -> [status, times_left, headers]
        self._delays: dict[str, float] = {}
        self._redirects: dict[str, tuple[str, int]] = {}
        self._flaky_seen: set[str] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> SiteServer:
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"site": self})
        self._httpd = _Server((self.host, self.port), handler)
        self._httpd.handle_error = lambda request, address: None  # quiet (client hung up)
        self.url = f"http://{self.host}:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes sleeping /slow/ and delay() handlers
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request log -----------------------------------------------------------
    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def _matching(self, path: str) -> list[tuple[str, str, int]]:
        """Log entries for ``path`` (without a query string it matches any query)."""
        with self._lock:
            log = list(self.requests)
        return [r for r in log if r[1] == path or ("?" not in path and r[1].split("?")[0] == path)]

    def count(self, path: str) -> int:
        """How many requests (any method) asked for ``path``."""
        return len(self._matching(path))

    def statuses(self, path: str) -> list[int]:
        """The statuses answered to ``path``, in order."""
        return [r[2] for r in self._matching(path)]

    # -- behaviour hooks -------------------------------------------------------
    def fail(self, path: str, status: int = 500, times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests of ``path`` with ``status`` (+ ``headers``)."""
        with self._lock:
            self._fails[path] = [status, times, headers or {}]

    def delay(self, path: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering ``path`` (0 removes the delay)."""
        with self._lock:
            self._delays[path] = seconds

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``to`` (a site path or an absolute URL)."""
        with self._lock:
            self._redirects[path] = (to, status)

    # -- editing the site ------------------------------------------------------
    def publish(self, rel_path: str, text: str | bytes) -> Path:
        """Write a (new) file under root. Text under ``latin1/`` is encoded ISO-8859-1.

        The mtime is bumped past the previous one so Last-Modified always moves forward.
        """
        path = self.root / rel_path.lstrip("/")
        old = path.stat().st_mtime if path.exists() else 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, str):
            text = text.encode("iso-8859-1" if "latin1" in path.parts else "utf-8")
        path.write_bytes(text)
        mtime = max(time.time(), old + 1)
        os.utime(path, (mtime, mtime))
        return path

    def edit(self, rel_path: str, text: str | bytes) -> Path:
        """Replace an existing file's content (FileNotFoundError if it does not exist)."""
        if not (self.root / rel_path.lstrip("/")).is_file():
            raise FileNotFoundError(rel_path)
        return self.publish(rel_path, text)

    # -- content ---------------------------------------------------------------
    def _content_type(self, path: Path, body: bytes) -> str:
        ext = path.suffix.lower()
        if ext == ".xml":
            head = body[:1024]
            if b"<feed" in head:
                return "application/atom+xml; charset=utf-8"
            return "application/rss+xml; charset=utf-8" if b"<rss" in head else "application/xml"
        if ext in TEXT_TYPES:
            charset = "iso-8859-1" if "latin1" in path.parts else "utf-8"
            return f"{TEXT_TYPES[ext]}; charset={charset}"
        return BINARY_TYPES.get(ext, "application/octet-stream")

    def _big_body(self) -> bytes:
        para = (b"<p>US forces, leading a coalition of over 80 members formed in 2014 to combat"
                b" ISIS, currently maintain approximately 2,500 troops in Iraq.</p>\n")
        head = b"<!DOCTYPE html><html><head><title>Big page</title></head><body><article>\n"
        return head + para * (self.big_size // len(para) + 1) + b"</article></body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    site: SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_GET

    def _serve(self) -> None:
        site, arrived = self.site, time.monotonic()
        with site._lock:
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
            in_flight = site.in_flight
        status = 0
        try:
            status = self._answer_request()
        finally:
            with site._lock:
                site.in_flight -= 1
                if status:
                    site.hits.append(Hit(self.path, status, arrived, time.monotonic(),
                                         in_flight))

    def _answer_request(self) -> int:
        """Decide the answer, log it, sleep if asked (delay/slow), then send it."""
        site, path = self.site, unquote(urlsplit(self.path).path)
        with site._lock:
            wait = max(site._delays.get(path, 0.0),
                       site.slow_seconds if path.startswith("/slow/") else 0.0)
        status, body, headers = self._answer(path)
        site._log(self.command, self.path, status)
        if wait and site._stopping.wait(wait):
            self.close_connection = True  # server stopping: hang up without an answer
            return 0
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)
        return status

    def _answer(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        site = self.site
        with site._lock:
            failing = site._fails.get(path)
            if failing and failing[1] > 0:
                failing[1] -= 1
            else:
                failing = None
            if path.startswith("/flaky/") and path not in site._flaky_seen:
                site._flaky_seen.add(path)
                failing = failing or [500, 1, {}]
            target = site._redirects.get(path)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if failing:
            body = f"<html><body><h1>Error {failing[0]}</h1></body></html>".encode()
            return failing[0], body, {**html, **failing[2]}
        if target:
            return target[1], b"", {"Location": urljoin(site.url + path, target[0])}
        file = (site.root / path.lstrip("/")).resolve()
        if file.is_dir() and not path.endswith("/"):
            return 301, b"", {"Location": site.url + path + "/"}
        if file.is_dir():
            file = file / "index.html"
        inside = file == site.root or site.root in file.parents
        if path.startswith("/missing/") or not inside or not file.is_file():
            return 404, b"<html><body><h1>Not Found</h1></body></html>", html
        body = site._big_body() if path.startswith("/big/") else file.read_bytes()
        if file.suffix.lower() in SUBSTITUTE:
            body = body.replace(b"{{BASE}}", site.url.encode("ascii"))
        mtime = int(file.stat().st_mtime)
        headers = {"Content-Type": site._content_type(file, body),
                   "ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"',
                   "Last-Modified": formatdate(mtime, usegmt=True)}
        return (304 if self._not_modified(headers["ETag"], mtime) else 200), body, headers

    def _not_modified(self, etag: str, mtime: int) -> bool:
        """RFC 9110: If-None-Match wins; otherwise If-Modified-Since against the mtime."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or etag in tags
        try:
            return mtime <= parsedate_to_datetime(self.headers["If-Modified-Since"]).timestamp()
        except (TypeError, ValueError):
            return False
