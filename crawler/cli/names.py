"""Source, story and tracker names given on the command line, checked against the valid ones.

A name is valid when the config names it or the archive holds rows of it (an archive may
outlive a config's renames). An unknown name is a usage error that lists the valid ones,
instead of a silently empty result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from crawler.cli.main import UsageProblem
from crawler.config.model import Config

if TYPE_CHECKING:
    from crawler.archive.analyst import Executes
    from crawler.archive.store import Archive

_PLURAL = {"source": "sources", "story": "stories", "tracker": "trackers"}


def configured_names(config: Config) -> dict[str, list[str]]:
    """The sources, stories and trackers config.yaml names."""
    return {
        "source": [s.name for s in config.sources],
        "story": [s.name for s in config.stories],
        "tracker": list(config.trackers),
    }


def unknown_name(what: str, name: str, configured: Iterable[str], archived: Iterable[str]
                 ) -> str:
    """The message for an unknown name: the configured ones, then any others archived."""
    configured = sorted(set(configured))
    message = f"unknown {what} {name!r}; configured {_PLURAL[what]}: "
    message += ", ".join(configured) or "none"
    others = sorted(set(archived) - set(configured))
    if others:
        message += f" (also in the archive: {', '.join(others)})"
    return message


def check_names(config: Config, db: Executes, **given: str | None) -> None:
    """Raise UsageProblem (exit 2) for the first given name (source=, story=, tracker=)
    that neither the config nor the archive knows."""
    wanted = {what: name for what, name in given.items() if name}
    if not wanted:
        return
    configured = configured_names(config)
    from crawler.archive.analyst import archive_names  # only when names are checked

    archived = archive_names(db)
    for what, name in wanted.items():
        if name not in configured[what] and name not in archived[what]:
            raise UsageProblem(unknown_name(what, name, configured[what], archived[what]))


def open_checked(config: Config, **names: str | None) -> Archive:
    """The archive, read-only, once the source/story/tracker names given are known ones."""
    from crawler.archive.store import Archive

    archive = Archive.open_readonly(config.archive)
    try:
        check_names(config, archive.db, **names)
    except BaseException:
        archive.close()
        raise
    return archive
