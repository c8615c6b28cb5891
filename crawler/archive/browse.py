"""The archive in Datasette: a read-only web view with descriptions and canned queries.

``make_datasette(path)`` builds the Datasette instance (tests drive it with
``ds.client``); ``serve(path, ...)`` runs it under uvicorn on 127.0.0.1 by default.
The archive is opened read-only (``mode=ro``): nothing in the web view can write,
while a crawl running at the same time stays visible. ``immutable=True`` is for a
copy of the archive that no crawl writes to (Datasette then skips locking and
caches table counts).
"""

from __future__ import annotations

import logging
import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

LATEST_CHANGES_SQL = """
SELECT c.id, c.detected_at, c.story, c.tracker, c.type,
       c.old_display AS old, c.new_display AS new,
       d.source, d.title, d.url, f.sentence,
       (SELECT count(*) FROM corroborations k WHERE k.change_id = c.id) AS corroborations
FROM changes c
LEFT JOIN facts f ON f.id = c.new_fact_id
LEFT JOIN documents d ON d.id = f.document_id
ORDER BY c.detected_at DESC, c.id DESC
LIMIT 200
""".strip()

TRACKER_HISTORY_SQL = """
SELECT coalesce(f.published, d.published) AS published, f.display AS value, f.qualifier,
       (SELECT c.type FROM changes c WHERE c.new_fact_id = f.id ORDER BY c.id LIMIT 1)
           AS change,
       d.source, d.title, d.url, f.sentence, f.id AS fact_id
FROM facts f JOIN documents d ON d.id = f.document_id
WHERE f.tracker = :tracker
ORDER BY coalesce(f.published, d.published), f.id
""".strip()

DOCUMENTS_PER_SOURCE_SQL = """
SELECT d.source, count(*) AS documents,
       (SELECT count(*) FROM versions v JOIN documents x ON x.id = v.document_id
        WHERE x.source = d.source) AS versions,
       min(d.published) AS oldest, max(d.published) AS newest, max(d.last_seen) AS last_seen,
       s.last_status, s.last_run
FROM documents d LEFT JOIN sources s ON s.name = d.source
GROUP BY d.source
ORDER BY documents DESC
""".strip()

# escape_fts() is Datasette's own SQL function: it quotes each word, so plain input
# such as U.S.-Iraq works; an empty :q matches nothing instead of failing.
SEARCH_SQL = """
SELECT d.id, coalesce(d.published, substr(v.fetched_at, 1, 10)) AS published, d.source,
       d.title, snippet(versions_fts, -1, '[', ']', '…', 24) AS snippet, d.url
FROM versions_fts
JOIN versions v ON v.id = versions_fts.rowid
JOIN documents d ON d.id = v.document_id AND d.current_version = v.id
WHERE versions_fts MATCH escape_fts(coalesce(nullif(trim(:q), ''), 'newswatch-no-query'))
ORDER BY coalesce(d.published, v.fetched_at) DESC
LIMIT 100
""".strip()

TABLES: dict[str, dict[str, Any]] = {
    "sources": {
        "description": "The configured sources and how their last crawl went.",
        "columns": {
            "name": "Source name from config.yaml",
            "type": "feed, state-briefings or page",
            "url": "Feed, listing or page URL",
            "last_run": "When the last crawl of this source finished (UTC)",
            "last_status": "ok, partial (some errors) or failed",
            "last_error": "The last error of the last run",
            "error_streak": "Failed runs in a row",
            "next_run": "When the service will crawl it next",
        },
    },
    "documents": {
        "description": "One row per report URL; its text is in versions.",
        "label_column": "title",
        "sort_desc": "published",
        "columns": {
            "url": "Where the report was fetched",
            "source": "The source it came from",
            "title": "Headline",
            "published": "Publication date (YYYY-MM-DD) as the source gives it",
            "first_seen": "First fetched (UTC)",
            "last_seen": "Last fetched or confirmed unchanged (UTC)",
            "current_version": "The versions row holding the current text",
            "raw_hash": "Hash of the fetched bytes (skips re-extracting unchanged pages)",
            "stories": "JSON list of the stories this report matches",
            "guid": "The feed item's guid",
        },
    },
    "versions": {
        "description": "Every distinct extracted text of a document (a revision is a new row). "
        "Full-text searchable.",
        "label_column": "title",
        "sort_desc": "id",
        "columns": {
            "document_id": "The document this text belongs to",
            "fetched_at": "When this text was first fetched (UTC)",
            "content_hash": "SHA-256 of the text",
            "text": "The extracted article text",
            "via": "page: extracted from the page; feed: the feed item's own content",
            "facts_done": "1 once facts were extracted from this text",
        },
    },
    "facts": {
        "description": "Troop figures, member counts and dates stated in a version, with the "
        "sentence that states them.",
        "label_column": "display",
        "sort_desc": "published",
        "columns": {
            "story": "Story whose trackers were applied",
            "tracker": "The tracker this fact is about (empty: none claimed it)",
            "kind": "troops, members or timeline",
            "value": "Normalized value (a number, or a date YYYY[-MM[-DD]])",
            "display": "Short human form: ~2,500, <2,000, Sep 2025",
            "number": "The stated figure",
            "low": "Lower bound of the interval the statement allows",
            "high": "Upper bound (empty: unbounded)",
            "granularity": "exact, approx, upper, lower, range, vague, day, month, year ...",
            "qualifier": "The hedge: approximately, fewer than, by, until ...",
            "raw": "The words that state the fact",
            "sentence": "The sentence quoted as evidence",
            "published": "The report's publication date",
            "evaluated": "1 once change detection looked at this fact",
        },
    },
    "changes": {
        "description": "What each tracker's values did: baseline (its first value), change (a "
        "new value), revision (an article edit changed it), refinement (a finer date that "
        "agrees), conflict (a report repeating an older value).",
        "sort_desc": "detected_at",
        "columns": {
            "type": "baseline, change, revision, refinement or conflict",
            "old_display": "The value before",
            "new_display": "The new value",
            "old_fact_id": "The fact that stated the old value",
            "new_fact_id": "The fact that stated the new value",
            "detected_at": "When newswatch noticed (UTC)",
            "diff": "For revisions: JSON list of [op, text] word-diff operations",
        },
    },
    "corroborations": {
        "description": "Further reports (facts) that state the same change.",
    },
    "alerts": {
        "description": "The alert outbox: one row per change and channel.",
        "columns": {
            "status": "pending, sending, sent, failed or unknown",
            "attempts": "Delivery attempts so far",
            "next_attempt": "When delivery is retried (UTC)",
            "last_error": "Why the last attempt failed",
        },
    },
    "runs": {
        "description": "One row per crawl of a source, with its counts.",
        "sort_desc": "id",
    },
}


def metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for the archive database named ``database``."""
    return {
        "title": "newswatch archive",
        "description_html": "Reports, their revisions and the facts newswatch tracks. "
        'Read-only. <a href="/-/trackers">Trackers: current values and timelines</a>.',
        "databases": {
            database: {
                "description": "The newswatch archive",
                "tables": TABLES,
                "queries": {
                    "latest_changes": {
                        "title": "Latest changes",
                        "description": "Detected changes of tracked facts, newest first.",
                        "sql": LATEST_CHANGES_SQL,
                    },
                    "tracker_history": {
                        "title": "A tracker's history",
                        "description": "Every value a tracker (e.g. us-troops-iraq) has had, "
                        "in publication order.",
                        "sql": TRACKER_HISTORY_SQL,
                    },
                    "documents_per_source": {
                        "title": "Documents per source",
                        "sql": DOCUMENTS_PER_SOURCE_SQL,
                    },
                    "search": {
                        "title": "Full-text search",
                        "description": "Current versions containing all the words of q.",
                        "sql": SEARCH_SQL,
                    },
                },
            }
        },
    }


def make_datasette(path: str | Path, *, immutable: bool = False) -> Any:
    """A Datasette instance serving the archive at ``path`` read-only, with the tracker
    pages (``/-/trackers``, ``/-/trackers/NAME``)."""
    from datasette.app import Datasette

    p = str(Path(path).resolve())
    name = Path(p).stem
    files: dict[str, list[str]] = {"immutables" if immutable else "files": [p]}
    class ArchiveDatasette(Datasette):
        # Set before Datasette builds its routes (in __init__): the tracker pages serve
        # only newswatch archives, not other Datasette instances in this process.
        newswatch_database = name

    _register_tracker_pages()
    return ArchiveDatasette(
        **files,
        metadata=metadata(name),
        settings={"default_page_size": 50, "sql_time_limit_ms": 5000},
    )


# ====================================================================== tracker pages

TRACKER_PAGES = "newswatch-trackers"


def _register_tracker_pages() -> None:
    """Add the tracker pages to Datasette's plugins (once per process)."""
    from datasette import hookimpl
    from datasette.plugins import pm

    if pm.get_plugin(TRACKER_PAGES) is not None:
        return

    class TrackerPages:
        """A page per tracker with its timeline chart (crawler/report.py); each point links
        to its fact (the sentence, and the document it links to)."""

        __name__ = TRACKER_PAGES  # Datasette lists plugins by their module's name

        @hookimpl
        def register_routes(self, datasette: Any) -> list[tuple[str, Any]]:
            if getattr(datasette, "newswatch_database", None) is None:
                return []  # another Datasette in this process
            return [(r"^/-/trackers$", tracker_index),
                    (r"^/-/trackers/(?P<tracker>[^/]+)$", tracker_page)]

        @hookimpl
        def menu_links(self, datasette: Any) -> list[dict[str, str]]:
            if getattr(datasette, "newswatch_database", None) is None:
                return []
            return [{"href": datasette.urls.path("/-/trackers"), "label": "Trackers"}]

    pm.register(TrackerPages(), name=TRACKER_PAGES)


async def _timelines(datasette: Any, names: list[str] | None = None) -> Any:
    from crawler.archive.analyst import timeline_trackers, tracker_timeline

    db = datasette.get_database(datasette.newswatch_database)

    def read(conn: Any) -> Any:
        wanted = timeline_trackers(conn) if names is None else names
        return [tracker_timeline(conn, n) for n in wanted]

    return await db.execute_fn(read)


def _links(datasette: Any) -> Any:
    from crawler.report import Links

    base = datasette.urls.database(datasette.newswatch_database)
    # the fact in the facts table: its sentence, and its document linked by title (a row
    # page would show the document's id without a link)
    return Links(statement=lambda s: f"{base}/facts?id={s.fact_id}",
                 document=lambda s: f"{base}/documents/{s.document_id}")


def _nav(datasette: Any) -> str:
    from crawler.report import esc

    return (f'<nav><a href="{esc(datasette.urls.instance())}">archive</a>'
            f'<a href="{esc(datasette.urls.path("/-/trackers"))}">trackers</a></nav>')


async def tracker_index(datasette: Any) -> Any:
    """Every tracker with its current value, linking to its page."""
    from datasette.utils.asgi import Response

    from crawler.report import overview_table, page

    timelines = await _timelines(datasette)
    base = datasette.urls.path("/-/trackers/")
    body = (_nav(datasette) + "<h1>Trackers</h1>"
            + overview_table(timelines, {}, lambda t: base + quote(t.tracker, safe=""))
            if timelines else _nav(datasette) + "<h1>Trackers</h1><p>No trackers yet.</p>")
    return Response.html(page("Trackers · newswatch", body, csp=False))


async def tracker_page(datasette: Any, request: Any) -> Any:
    """One tracker: its current value, timeline chart and statements."""
    from datasette.utils.asgi import Response

    from crawler.archive.analyst import timeline_trackers
    from crawler.report import esc, page, tracker_section

    name = request.url_vars["tracker"]
    db = datasette.get_database(datasette.newswatch_database)
    known = await db.execute_fn(timeline_trackers)
    if name not in known:
        body = (f"{_nav(datasette)}<h1>No tracker {esc(name)}</h1><p>Trackers in this "
                f"archive: {esc(', '.join(known) or 'none')}.</p>")
        return Response.html(page("Unknown tracker · newswatch", body, csp=False), status=404)
    timeline = (await _timelines(datasette, [name]))[0]
    body = _nav(datasette) + tracker_section(timeline, name, _links(datasette))
    return Response.html(page(f"{name} · newswatch", body, csp=False))


class PortUnavailable(Exception):
    """The address `browse` should listen on is taken (or not ours to use)."""


def serve(
    path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8001,
    open_browser: bool = False,
    immutable: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the archive until interrupted (Ctrl-C). ``port=0`` picks a free port."""
    import uvicorn

    ds = make_datasette(path, immutable=immutable)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise PortUnavailable(f"cannot listen on {host}:{port} ({e.strerror or e}); "
                              "another program uses it: choose another with --port") from None
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    bound = sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if family == socket.AF_INET6 else host}:{bound}/"
    if announce:
        announce(url)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="off"))
    if open_browser:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _open_when_started(server: Any, url: str) -> None:
    import time

    for _ in range(200):  # up to 20 s for the server to start
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)
    log.warning("the web server did not start; not opening a browser")
