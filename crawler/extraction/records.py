"""The typed record extraction hands to the archive: one analysed report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AnalyzedReport:
    """A fetched report with its text, matching stories and facts: what ``Archive.store``
    stores. Plain data, so it crosses the extraction pool and (as JSON) a cluster's queue.
    """

    url: str
    source: str
    text: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    guid: str | None = None
    raw_hash: str | None = None  # hash of the fetched body, to skip unchanged pages
    via: str = "page"  # "page" | "feed" (the feed item's own content) | "replay"
    stories: tuple[str, ...] = ()  # names of the stories it matches
    # Rows for the `facts` table, stored with the new version in the same transaction;
    # None: not extracted yet (the pass after the crawl extracts them).
    facts: tuple[dict[str, Any], ...] | None = None
    official: bool = False  # from a source marked official
    run_id: int | None = None  # the run that fetched it

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready plain data (:meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalyzedReport:
        """The report :meth:`to_dict` gave; TypeError or KeyError if it is not one."""
        facts = data.get("facts")
        return cls(**{**data, "stories": tuple(data.get("stories") or ()),
                       "facts": None if facts is None else tuple(facts)})
