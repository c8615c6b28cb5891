"""Read config.yaml and validate it into typed objects.

This is the only module that reads the YAML file. Every other component receives
its own section (a frozen dataclass). Errors name the key, what was expected and
what was found, so a user can fix the file without reading code.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import yaml

from crawler.facts.model import KINDS

SOURCE_TYPES = ("feed", "state-briefings", "page")
FACT_KINDS = KINDS  # troops, members, timeline (crawler.facts.model.Kind)
DEFAULT_EVERY = timedelta(minutes=30)  # a source's interval when it gives neither every nor cron
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36 newswatch/0.1 (+https://github.com/newswatch/newswatch)"
)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_INTERVAL = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class Source:
    """One place to crawl: a feed, the State Department briefings listing, or one page."""

    name: str
    type: str
    url: str
    every: timedelta | None = None
    cron: str | None = None
    pages: int = 2  # listing pages walked by the state-briefings spider
    max_items: int = 50  # feed items (or briefings) followed per crawl
    revisit: timedelta = timedelta(hours=1)  # re-check a known article at most this often
    fetch_articles: bool = True  # feed: fetch each item's page (else archive the item itself)
    allow_private: bool = False  # allow links to private/loopback hosts (SSRF guard off)
    enabled: bool = True
    official: bool = False  # an official source: its figures confirm a change on their own


@dataclass(frozen=True)
class Tracker:
    """A subject that facts of one kind are assigned to (e.g. US troops in Iraq now).

    A tracker follows one subject: a kind plus the role, actors, place and (for dates) the
    event its facts must have, read from each fact's own sentence. ``about``/``not_about``
    words and timeline ``cues`` refine that.
    """

    name: str
    kind: str
    about: tuple[str, ...] = ()
    not_about: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    label: str = ""  # human title used in alerts; defaults to the name
    tolerance: float | None = None  # relative change below which figures are "the same"
    role: str | None = "current"  # counts: current | planned | historical | moved | relative
    actors: tuple[str, ...] = ("us", "coalition", "unknown")  # whose figures
    place: str | None = None  # a place key ("iraq/kurdistan"; config resolves names); None: any
    within: bool = False  # also figures for places inside `place` (a base, a region)
    events: tuple[str, ...] = ()  # timelines: start | phase-end | final | elsewhere; () = any

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Match:
    """Which documents belong to a story: all of `all`, one of `any`, none of `none`."""

    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        low = text.lower()
        has = lambda word: word.lower() in low  # noqa: E731
        return (
            all(has(w) for w in self.all)
            and (not self.any or any(has(w) for w in self.any))
            and not any(has(w) for w in self.none)
        )


@dataclass(frozen=True)
class Story:
    name: str
    match: Match
    trackers: tuple[Tracker, ...] = ()


@dataclass(frozen=True)
class EmailConfig:
    host: str
    port: int
    security: str  # "plain" | "starttls" | "ssl"
    sender: str
    to: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # from NEWSWATCH_SMTP_PASSWORD
    timeout: float = 30.0


@dataclass(frozen=True)
class RetryConfig:
    attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    max: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class DigestConfig:
    """One message per period with what happened (changes, unconfirmed ones, conflicts)."""

    every: timedelta | None = None  # e.g. 1d; or
    cron: str | None = None  # e.g. "0 8 * * 1-5" (08:00 on weekdays)
    timezone: str = "UTC"  # the cron's and the digest's time zone (IANA name)


@dataclass(frozen=True)
class AlertsConfig:
    email: EmailConfig | None = None
    slack_webhook_url: str | None = field(default=None, repr=False)
    apprise: tuple[str, ...] = field(default=(), repr=False)
    mailbox: str | None = None  # append alerts to this mbox file (the demo uses it)
    retry: RetryConfig = RetryConfig()
    every: timedelta = timedelta(seconds=60)  # how often the service retries due alerts
    digest: DigestConfig | None = None  # none: no digest

    @property
    def channels(self) -> list[str]:
        names = []
        if self.email:
            names.append("email")
        if self.slack_webhook_url:
            names.append("slack")
        if self.apprise:
            names.append("apprise")
        if self.mailbox:
            names.append("mailbox")
        return names


@dataclass(frozen=True)
class ConfirmConfig:
    """When a change is news enough to alert (see README, "Confirmed changes")."""

    voices: int = 2  # independent outlets that must state a new value (official: one is enough)
    window: timedelta = timedelta(days=14)  # ... within this span of report dates
    max_jump: float = 3.0  # a count moving by more than this factor needs `voices` even if official


@dataclass(frozen=True)
class ChangesConfig:
    tolerance: float = 0.05  # relative difference in a stated figure that counts as a change
    alert_conflicts: bool = False  # alert when a report repeats an older (stale) value
    revisions: bool = True  # alert when an article revision changes a tracked fact
    confirm: ConfirmConfig = ConfirmConfig()


@dataclass(frozen=True)
class CrawlConfig:
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots: bool = True
    timeout: float = 30.0
    retries: int = 3
    max_size: int = 5 * 1024 * 1024
    concurrency: int = 8
    per_domain: int = 4
    autothrottle: bool = True
    http_cache: bool = True
    cache_dir: str = ".newswatch-cache"  # relative to the archive's folder
    extract_workers: int = 0  # processes for trafilatura; 0 = one per CPU
    extract_timeout: float = 120.0  # seconds one page may take to extract
    sources_at_once: int = 100  # sources crawled together (each is a Scrapy crawler)
    allow_private: bool = False
    # internal networks (CIDR) links may reach while the SSRF guard is on, e.g. an intranet
    allow_private_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceConfig:
    jitter: int = 30  # seconds of random delay added to each scheduled run
    grace: float = 30.0  # seconds a stopping service waits for the current crawl
    log_level: str = "INFO"


@dataclass(frozen=True)
class ClusterConfig:
    """Crawl workers on a shared Redis frontier, one archive writer (README "Scale-out")."""

    redis: str = "redis://127.0.0.1:6379/0"  # the frontier, the reports queue, the limits
    # A job (and a worker's per-domain slots) is handed to another worker when its
    # worker has not renewed it for this long (killed, cut off).
    lease: float = 60.0
    # A job whose crawl this many workers took and never finished (each was killed: a
    # page that crashes or exhausts them) is dropped and its run recorded as failed.
    max_attempts: int = 3


@dataclass(frozen=True)
class Config:
    path: Path
    archive: Path
    sources: tuple[Source, ...]
    stories: tuple[Story, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    changes: ChangesConfig = ChangesConfig()
    crawl: CrawlConfig = CrawlConfig()
    service: ServiceConfig = ServiceConfig()
    cluster: ClusterConfig | None = None  # None: everything runs in one process
    env_values: tuple[str, ...] = field(default=(), repr=False)  # what ${VAR}s expanded to

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")

    def chosen_sources(self, names: Iterable[str] = ()) -> list[Source]:
        """The sources named (ConfigError for an unknown name), or every enabled one."""
        return [self.source(n) for n in names] or [s for s in self.sources if s.enabled]

    def require_cluster(self) -> ClusterConfig:
        """The ``cluster:`` section; ConfigError saying what to add when there is none."""
        if self.cluster is None:
            raise ConfigError("no cluster: section in the config; add one, e.g. "
                              "cluster: {redis: 'redis://HOST:6379/0'} (README, Scale-out)")
        return self.cluster

    @property
    def trackers(self) -> dict[str, Tracker]:
        return {t.name: t for story in self.stories for t in story.trackers}


# ---------------------------------------------------------------- parsing helpers


def _fail(key: str, expected: str, value: Any, hint: str = "") -> ConfigError:
    found = f"{value!r} that is a {type(value).__name__}" if value is not None else "nothing"
    msg = f"{key}: expected {expected} (got {found})"
    return ConfigError(msg + (f". {hint}" if hint else ""))


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(key, "a mapping of keys to values", value)
    return value


def _check_keys(section: dict[str, Any], key: str, allowed: set[str]) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"{key}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _str(value: Any, key: str, *, required: bool = False, default: str | None = None) -> Any:
    if value is None:
        if required:
            raise ConfigError(f"{key}: is required but missing")
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(key, "a non-empty string", value)
    return value


def _words(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise _fail(key, "a list of words", value)
    return tuple(value)


def _bool(value: Any, key: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(key, "true or false", value)
    return value


def _number(value: Any, key: str, default: float, *, minimum: float = 0) -> float:
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise _fail(key, f"a number >= {minimum}", value)
    return value


def parse_interval(value: Any, key: str = "every") -> timedelta:
    """Parse '30m', '1h30m', '45s', '1d' or a number of seconds into a timedelta."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return timedelta(seconds=value)
        if isinstance(value, str):
            m = _INTERVAL.match(value)
            if m and any(m.groups()):
                d, h, mi, s = (int(g or 0) for g in m.groups())
                delta = timedelta(days=d, hours=h, minutes=mi, seconds=s)
                if delta.total_seconds() > 0:
                    return delta
    except (OverflowError, ValueError):
        pass  # absurdly large: reported below
    raise _fail(key, "an interval such as '30m', '1h', '45s' or '1d'", value)


def _interval_or(value: Any, key: str, default: timedelta) -> timedelta:
    return default if value is None else parse_interval(value, key)


def _revisit(value: Any, key: str) -> timedelta:
    if value is None:
        return Source.revisit
    if value == 0 or value == "0":
        return timedelta(0)  # re-check every known article on every crawl
    m = _INTERVAL.match(value) if isinstance(value, str) else None
    if m and any(m.groups()) and not any(int(g or 0) for g in m.groups()):
        return timedelta(0)  # "0s", "0m"
    return parse_interval(value, key)


def _split(url: str, key: str, expected: str) -> SplitResult:
    """``urlsplit(url)``; a URL it cannot read ("http://[bad") is an error naming ``key``."""
    try:
        return urlsplit(url)
    except ValueError as e:
        raise _fail(key, expected, url) from e


def _cron(cron: str, key: str, example: str) -> None:
    """A crontab line APScheduler can read, or an error naming ``key``."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(cron)
    except ValueError as e:
        raise _fail(key, f"a crontab expression like '{example}'", cron) from e


def _url(value: Any, key: str) -> str:
    url = _str(value, key, required=True)
    parts = _split(url, key, "an http(s) URL")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(key, "an http(s) URL", url, "Write the full address, e.g. https://host/path")
    return url


def expand_env(value: Any, environ: dict[str, str], key: str = "top level",
               used: set[str] | None = None) -> Any:
    """Replace ${VAR} in every string value; a missing variable is an error naming the key.

    The values substituted are added to ``used`` (they are masked in logs).
    """
    if isinstance(value, dict):
        return {k: expand_env(v, environ, f"{k}" if key == "top level" else f"{key}.{k}", used)
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, environ, f"{key}[{i}]", used) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in environ:
            raise ConfigError(
                f"{key}: environment variable {name} is not set "
                f"(referenced as ${{{name}}}); export it or remove the reference"
            )
        if used is not None:
            used.add(environ[name])
        return environ[name]

    return _ENV_REF.sub(sub, value)


# ---------------------------------------------------------------- sections


def _source(raw: Any, key: str, crawl: CrawlConfig) -> Source:
    data = _mapping(raw, key)
    _check_keys(
        data,
        key,
        {
            "name", "type", "url", "every", "cron", "pages", "max_items", "revisit",
            "fetch_articles", "allow_private", "enabled", "official",
        },
    )
    name = _str(data.get("name"), f"{key}.name", required=True)
    stype = data.get("type")
    if stype not in SOURCE_TYPES:
        raise _fail(f"{key}.type", f"one of {', '.join(SOURCE_TYPES)}", stype)
    every = data.get("every")
    cron = _str(data.get("cron"), f"{key}.cron")
    if every is not None and cron is not None:
        raise ConfigError(f"{key}: give either 'every' or 'cron', not both")
    if cron is not None:
        _cron(cron, f"{key}.cron", "*/30 * * * *")
    return Source(
        name=name,
        type=stype,
        url=_url(data.get("url"), f"{key}.url"),
        every=parse_interval(every, f"{key}.every") if every is not None
        else (None if cron else DEFAULT_EVERY),
        cron=cron,
        pages=int(_number(data.get("pages"), f"{key}.pages", Source.pages, minimum=1)),
        max_items=int(_number(data.get("max_items"), f"{key}.max_items", Source.max_items,
                               minimum=1)),
        revisit=_revisit(data.get("revisit"), f"{key}.revisit"),
        fetch_articles=_bool(data.get("fetch_articles"), f"{key}.fetch_articles",
                             Source.fetch_articles),
        allow_private=_bool(data.get("allow_private"), f"{key}.allow_private", crawl.allow_private),
        enabled=_bool(data.get("enabled"), f"{key}.enabled", Source.enabled),
        official=_bool(data.get("official"), f"{key}.official", Source.official),
    )


def _choices(value: Any, key: str, allowed: tuple[str, ...], default: tuple[str, ...]
             ) -> tuple[str, ...]:
    """One word or a list of words, each one of ``allowed``."""
    if value is None:
        return default
    words = _words(value, key)
    for word in words:
        if word not in allowed:
            raise _fail(key, f"one or more of {', '.join(allowed)}", word)
    return words


def _tracker(raw: Any, key: str) -> Tracker:
    from crawler.facts.model import Actor, Event, Role
    from crawler.facts.places import place_key, place_of_words, resolve_place

    data = _mapping(raw, key)
    _check_keys(data, key, {"name", "kind", "about", "not_about", "cues", "label", "tolerance",
                            "role", "actor", "place", "within", "event"})
    kind = data.get("kind")
    if kind not in FACT_KINDS:
        raise _fail(f"{key}.kind", f"one of {', '.join(FACT_KINDS)}", kind)
    tolerance = data.get("tolerance")
    about = _words(data.get("about"), f"{key}.about")
    roles = tuple(r.value for r in Role)
    role = data.get("role", Tracker.role if kind != "timeline" else None)
    if role is not None and (kind == "timeline" or role not in roles):
        expected = "no role (a timeline follows events)" if kind == "timeline" else \
            f"one of {', '.join(roles)}"
        raise _fail(f"{key}.role", expected, role)
    place = _str(data.get("place"), f"{key}.place")
    if place is not None:  # stored as its key ("iraq/kurdistan"), resolved once here
        path = resolve_place(place)
        if path is None:
            raise _fail(f"{key}.place", "a place the extractor knows (see README, Places)",
                        place)
        place = place_key(path)
    if "place" not in data:
        place = place_of_words(about)  # round-1 trackers: the place their `about` names
    events = tuple(e.value for e in Event if e.value)
    return Tracker(
        name=_str(data.get("name"), f"{key}.name", required=True),
        kind=kind,
        about=about,
        not_about=_words(data.get("not_about"), f"{key}.not_about"),
        cues=_words(data.get("cues"), f"{key}.cues"),
        label=_str(data.get("label"), f"{key}.label", default=Tracker.label),
        tolerance=None if tolerance is None else _number(tolerance, f"{key}.tolerance", 0),
        role=role,
        actors=_choices(data.get("actor"), f"{key}.actor", tuple(a.value for a in Actor),
                        Tracker.actors),
        place=place,
        within=_bool(data.get("within"), f"{key}.within", Tracker.within),
        events=_choices(data.get("event"), f"{key}.event", events, Tracker.events),
    )


def _story(raw: Any, key: str) -> Story:
    data = _mapping(raw, key)
    _check_keys(data, key, {"name", "match", "trackers"})
    match = _mapping(data.get("match"), f"{key}.match")
    _check_keys(match, f"{key}.match", {"all", "any", "none"})
    trackers = data.get("trackers") or []
    if not isinstance(trackers, list):
        raise _fail(f"{key}.trackers", "a list of trackers", trackers)
    return Story(
        name=_str(data.get("name"), f"{key}.name", required=True),
        match=Match(
            all=_words(match.get("all"), f"{key}.match.all"),
            any=_words(match.get("any"), f"{key}.match.any"),
            none=_words(match.get("none"), f"{key}.match.none"),
        ),
        trackers=tuple(_tracker(t, f"{key}.trackers[{i}]") for i, t in enumerate(trackers)),
    )


def _email(raw: Any, key: str, environ: dict[str, str]) -> EmailConfig | None:
    if raw is None:
        return None
    data = _mapping(raw, key)
    _check_keys(data, key, {"smtp", "starttls", "ssl", "from", "to", "timeout"})
    smtp = _str(data.get("smtp"), f"{key}.smtp", required=True)
    parts = _split(smtp if "://" in smtp else f"smtp://{smtp}", f"{key}.smtp",
                   "an address like 'smtp://user@host:587'")
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise _fail(f"{key}.smtp", "an address like 'smtp://user@host:587'", smtp)
    if parts.password:
        raise ConfigError(
            f"{key}.smtp: must not contain a password; set NEWSWATCH_SMTP_PASSWORD instead"
        )
    ssl = parts.scheme == "smtps" or _bool(data.get("ssl"), f"{key}.ssl", False)
    starttls = _bool(data.get("starttls"), f"{key}.starttls", False)
    if ssl and starttls:
        raise ConfigError(f"{key}: choose either ssl or starttls, not both")
    to = _words(data.get("to"), f"{key}.to")
    if not to:
        raise ConfigError(f"{key}.to: is required: a list of recipient addresses")
    try:
        port = parts.port or (465 if ssl else 587 if starttls else 25)
    except ValueError as e:
        raise _fail(f"{key}.smtp", "a valid port number", smtp) from e
    return EmailConfig(
        host=parts.hostname,
        port=port,
        security="ssl" if ssl else "starttls" if starttls else "plain",
        sender=_str(data.get("from"), f"{key}.from", required=True),
        to=to,
        user=parts.username,
        password=environ.get("NEWSWATCH_SMTP_PASSWORD"),
        timeout=_number(data.get("timeout"), f"{key}.timeout", EmailConfig.timeout, minimum=1),
    )


def _alerts(raw: Any, base: Path, environ: dict[str, str]) -> AlertsConfig:
    data = _mapping(raw, "alerts")
    _check_keys(data, "alerts", {"email", "slack", "apprise", "mailbox", "retry", "every",
                                 "digest"})
    slack = _mapping(data.get("slack"), "alerts.slack")
    _check_keys(slack, "alerts.slack", {"webhook_url"})
    webhook = slack.get("webhook_url")
    if webhook is not None:
        webhook = _url(webhook, "alerts.slack.webhook_url")
    retry = _mapping(data.get("retry"), "alerts.retry")
    _check_keys(retry, "alerts.retry", {"attempts", "base", "max"})
    mailbox = _str(data.get("mailbox"), "alerts.mailbox")
    return AlertsConfig(
        email=_email(data.get("email"), "alerts.email", environ),
        slack_webhook_url=webhook or None,
        apprise=_words(data.get("apprise"), "alerts.apprise"),
        mailbox=str(base / mailbox) if mailbox else None,
        retry=RetryConfig(
            attempts=int(_number(retry.get("attempts"), "alerts.retry.attempts",
                                     RetryConfig.attempts, minimum=1)),
            base=_interval_or(retry.get("base"), "alerts.retry.base", RetryConfig.base),
            max=_interval_or(retry.get("max"), "alerts.retry.max", RetryConfig.max),
        ),
        every=_interval_or(data.get("every"), "alerts.every", AlertsConfig.every),
        digest=_digest(data.get("digest")),
    )


def _digest(raw: Any) -> DigestConfig | None:
    if raw is None:
        return None
    data = _mapping(raw, "alerts.digest")
    _check_keys(data, "alerts.digest", {"every", "cron", "timezone"})
    every, cron = data.get("every"), _str(data.get("cron"), "alerts.digest.cron")
    if (every is None) == (cron is None):
        raise ConfigError("alerts.digest: give either 'every' or 'cron' (one of them)")
    timezone = _str(data.get("timezone"), "alerts.digest.timezone",
                    default=DigestConfig.timezone)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise _fail("alerts.digest.timezone", "an IANA time zone like Europe/Berlin",
                    timezone) from e
    if cron is not None:
        _cron(cron, "alerts.digest.cron", "0 8 * * *")
    return DigestConfig(every=None if every is None else parse_interval(
        every, "alerts.digest.every"), cron=cron, timezone=timezone)


def _crawl(raw: Any) -> CrawlConfig:
    data = _mapping(raw, "crawl")
    d = CrawlConfig()
    _check_keys(data, "crawl", set(d.__dataclass_fields__))
    return CrawlConfig(
        user_agent=_str(data.get("user_agent"), "crawl.user_agent", default=d.user_agent),
        obey_robots=_bool(data.get("obey_robots"), "crawl.obey_robots", d.obey_robots),
        timeout=_number(data.get("timeout"), "crawl.timeout", d.timeout, minimum=0.1),
        retries=int(_number(data.get("retries"), "crawl.retries", d.retries)),
        max_size=int(_number(data.get("max_size"), "crawl.max_size", d.max_size, minimum=1024)),
        concurrency=int(_number(data.get("concurrency"), "crawl.concurrency", d.concurrency,
                                    minimum=1)),
        per_domain=int(_number(data.get("per_domain"), "crawl.per_domain", d.per_domain,
                               minimum=1)),
        autothrottle=_bool(data.get("autothrottle"), "crawl.autothrottle", d.autothrottle),
        http_cache=_bool(data.get("http_cache"), "crawl.http_cache", d.http_cache),
        cache_dir=_str(data.get("cache_dir"), "crawl.cache_dir", default=d.cache_dir),
        extract_workers=int(_number(data.get("extract_workers"), "crawl.extract_workers",
                                        d.extract_workers)),
        extract_timeout=_number(data.get("extract_timeout"), "crawl.extract_timeout",
                                d.extract_timeout, minimum=1),
        sources_at_once=int(_number(data.get("sources_at_once"), "crawl.sources_at_once",
                                    d.sources_at_once, minimum=1)),
        allow_private=_bool(data.get("allow_private"), "crawl.allow_private", d.allow_private),
        allow_private_networks=_networks(data.get("allow_private_networks"),
                                         "crawl.allow_private_networks"),
    )


def _networks(value: Any, key: str) -> tuple[str, ...]:
    """CIDR networks ('10.20.0.0/16', 'fd00::/8'; an address alone is its /32 or /128)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _fail(key, "a list of networks such as ['10.20.0.0/16']", value)
    networks = []
    for i, item in enumerate(value):
        try:
            if not isinstance(item, str):
                raise ValueError("write it as a string")
            networks.append(str(ipaddress.ip_network(item)))
        except ValueError as e:
            raise _fail(f"{key}[{i}]", "a network such as 10.20.0.0/16", item, str(e)) from None
    return tuple(networks)


def _changes(raw: Any) -> ChangesConfig:
    data = _mapping(raw, "changes")
    _check_keys(data, "changes", {"tolerance", "alert_conflicts", "revisions", "confirm"})
    d, c = ChangesConfig(), ConfirmConfig()
    confirm = _mapping(data.get("confirm"), "changes.confirm")
    _check_keys(confirm, "changes.confirm", {"voices", "window", "max_jump"})
    window = confirm.get("window")
    return ChangesConfig(
        tolerance=_number(data.get("tolerance"), "changes.tolerance", d.tolerance),
        alert_conflicts=_bool(data.get("alert_conflicts"), "changes.alert_conflicts",
                              d.alert_conflicts),
        revisions=_bool(data.get("revisions"), "changes.revisions", d.revisions),
        confirm=ConfirmConfig(
            voices=int(_number(confirm.get("voices"), "changes.confirm.voices", c.voices,
                               minimum=1)),
            window=_interval_or(window, "changes.confirm.window", c.window),
            max_jump=_number(confirm.get("max_jump"), "changes.confirm.max_jump", c.max_jump,
                             minimum=1),
        ),
    )


def _service(raw: Any) -> ServiceConfig:
    data = _mapping(raw, "service")
    _check_keys(data, "service", {"jitter", "grace", "log_level"})
    level = _str(data.get("log_level"), "service.log_level",
                 default=ServiceConfig.log_level).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise _fail("service.log_level", "one of DEBUG, INFO, WARNING, ERROR", level)
    return ServiceConfig(
        jitter=int(_number(data.get("jitter"), "service.jitter", ServiceConfig.jitter)),
        grace=_number(data.get("grace"), "service.grace", ServiceConfig.grace),
        log_level=level,
    )


def _cluster(raw: Any) -> ClusterConfig | None:
    if raw is None:
        return None
    data = _mapping(raw, "cluster")
    _check_keys(data, "cluster", {"redis", "lease", "max_attempts"})
    url = _str(data.get("redis"), "cluster.redis", default=ClusterConfig.redis)
    if _split(url, "cluster.redis", "a redis:// URL").scheme not in ("redis", "rediss", "unix"):
        raise _fail("cluster.redis", "a redis:// (rediss://, unix://) URL", url,
                    "e.g. redis://host:6379/0; a password as ${REDIS_PASSWORD}")
    lease = _interval_or(data.get("lease"), "cluster.lease",
                         timedelta(seconds=ClusterConfig.lease)).total_seconds()
    if lease < 1:
        raise _fail("cluster.lease", "at least 1 second", data.get("lease"))
    attempts = int(_number(data.get("max_attempts"), "cluster.max_attempts",
                           ClusterConfig.max_attempts, minimum=1))
    return ClusterConfig(redis=url, lease=lease, max_attempts=attempts)


def parse_config(text: str, path: Path, environ: dict[str, str] | None = None) -> Config:
    """Validate the text of a config file; relative paths resolve against its folder."""
    env = dict(os.environ if environ is None else environ)
    try:
        # libyaml's safe loader when installed: 8x faster on a large config, same errors
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(f"{where}not valid YAML ({getattr(e, 'problem', e)})") from e
    substituted: set[str] = set()
    data = expand_env(_mapping(data, "top level"), env, used=substituted)
    sections = {"archive", "sources", "stories", "alerts", "changes", "crawl", "service",
                "cluster"}
    _check_keys(data, "top level", sections)
    base = path.resolve().parent
    crawl = _crawl(data.get("crawl"))
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise _fail("sources", "a non-empty list of sources", raw_sources)
    sources = tuple(_source(s, f"sources[{i}]", crawl) for i, s in enumerate(raw_sources))
    _unique([s.name for s in sources], "sources")
    raw_stories = data.get("stories") or []
    if not isinstance(raw_stories, list):
        raise _fail("stories", "a list of stories", raw_stories)
    stories = tuple(_story(s, f"stories[{i}]") for i, s in enumerate(raw_stories))
    _unique([s.name for s in stories], "stories")
    _unique([t.name for s in stories for t in s.trackers], "trackers")
    archive = Path(_str(data.get("archive"), "archive", default="newswatch.db"))
    return Config(
        path=path,
        archive=archive if archive.is_absolute() else base / archive,
        sources=sources,
        stories=stories,
        alerts=_alerts(data.get("alerts"), base, env),
        changes=_changes(data.get("changes")),
        crawl=crawl,
        service=_service(data.get("service")),
        cluster=_cluster(data.get("cluster")),
        env_values=tuple(sorted(substituted)),
    )


def _unique(names: list[str], key: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{key}: the name {name!r} is used twice; names must be unique")
        seen.add(name)


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load the config file: the given path, $NEWSWATCH_CONFIG, or ./config.yaml."""
    env = os.environ if environ is None else environ
    p = Path(path or env.get("NEWSWATCH_CONFIG") or "config.yaml")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(p)!r} not found; pass --config FILE or set NEWSWATCH_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e}") from e
    return parse_config(text, p, dict(env))
