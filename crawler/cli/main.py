"""The `newswatch` command line (click). Only this module prints."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click

from crawler.config.model import Config, ConfigError, load_config

log = logging.getLogger(__name__)


class UsageProblem(click.ClickException):
    """A usage or configuration error: message, no traceback, exit code 2."""

    exit_code = 2


class JobFailed(click.ClickException):
    """The job ran and failed: one line, exit code 1."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Stopped by Ctrl-C (SIGINT): one line, exit code 130 like any interrupted command."""

    exit_code = 130


@contextmanager
def on_sigint(handler: Callable[[], None]) -> Iterator[None]:
    """Call ``handler`` on the first Ctrl-C; a second one interrupts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        handler()

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class SecretsFilter(logging.Filter):
    """Replace secret values (passwords, webhook URLs) in log records with ***."""

    def __init__(self, secrets: Iterable[str | None]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg, record.args = mask(record.getMessage(), self.secrets), None
        return True


# Loggers whose failures newswatch already reports itself, as an error of the run:
# robots.txt unreachable (the page's own request then fails and is counted).
_REPORTED_ELSEWHERE = ("scrapy.downloadermiddlewares.robotstxt",)


class OneLineFilter(logging.Filter):
    """One logging policy: third-party records (Scrapy, Twisted, Datasette, apprise, ...)
    become one line — no traceback — tagged with the source and run when Scrapy says
    which spider they are about. With ``detail`` (-vv) everything passes unchanged.
    """

    def __init__(self, detail: bool):
        super().__init__()
        self.detail = detail

    def filter(self, record: logging.LogRecord) -> bool:
        if self.detail or record.name.split(".")[0] in ("crawler", "alerts"):
            return True
        if record.name.startswith(_REPORTED_ELSEWHERE) and record.levelno < logging.CRITICAL:
            return False
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if str(error) not in message:
                message = f"{message}: {type(error).__name__}: {error}"
        lines = [line for line in message.splitlines() if line.strip()]
        line = lines[0] if lines else ""
        if line.startswith("Traceback") or line.startswith("Unhandled error"):
            line = next((x for x in reversed(lines) if not x.startswith(" ")), line)
        context = getattr(getattr(record, "spider", None), "context", None)
        if context is not None:
            line = f"[{context.source.name} run {context.run_id}] {line}"
        record.msg, record.args = line + (" (-vv for detail)" if len(lines) > 1 else ""), None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def referenced_secrets(config_path: str | None) -> list[str | None]:
    """The values the config file's ${VAR} references expand to, and the SMTP password.

    For a config that failed to load: its error message may quote an expanded value.
    """
    import os
    import re
    from pathlib import Path

    values: list[str | None] = [os.environ.get("NEWSWATCH_SMTP_PASSWORD")]
    path = Path(config_path or os.environ.get("NEWSWATCH_CONFIG") or "config.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return values
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        values.append(os.environ.get(name))
    return values


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret value (4 characters or more) replaced by ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def config_secrets(config: Config) -> list[str | None]:
    alerts = config.alerts
    return [
        alerts.email.password if alerts.email else None,
        alerts.slack_webhook_url,
        *alerts.apprise,
        *config.env_values,
    ]


def setup_logging(level: str, secrets: Iterable[str | None] = ()) -> None:
    """One line per event on stderr, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OneLineFilter(detail=level == "DEBUG"))
    handler.addFilter(SecretsFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_newswatch", False):
            root.removeHandler(old)
    handler._newswatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Scrapy and Twisted are chatty at INFO; their warnings still show.
    noisy = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in ("scrapy", "twisted", "py.warnings", "trafilatura", "htmldate", "courlan",
                 "apscheduler", "mail.log"):
        logging.getLogger(name).setLevel(noisy)


class State:
    """What the group passes to commands: the config file and verbosity."""

    def __init__(self, config_path: str | None, verbose: int, quiet: bool):
        self.config_path = config_path
        self.verbose = verbose
        self.quiet = quiet
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as e:
                raise UsageProblem(mask(f"config error: {e}", referenced_secrets(
                    self.config_path))) from None
            self.configure_logging(self._config)
        return self._config

    def configure_logging(self, config: Config) -> None:
        """Log level from config or -v/-q; the config's secrets masked."""
        level = config.service.log_level
        if self.verbose:
            level = "DEBUG" if self.verbose > 1 else "INFO"
        elif self.quiet:
            level = "ERROR"
        setup_logging(level, config_secrets(config))


pass_state = click.make_pass_decorator(State)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--json: one JSON object per line instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")(fn)


def emit_json(rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False, default=str))


def library_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's known failures into clean CLI errors."""
    from crawler.archive.store import (
        ArchiveMissing,
        ArchiveUnusable,
        ArchiveWriteError,
        ReadOnlyQuery,
    )

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, ArchiveMissing, ArchiveUnusable, ReadOnlyQuery) as e:
            raise UsageProblem(str(e)) from None
        except ArchiveWriteError as e:
            raise JobFailed(str(e)) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="NEWSWATCH_CONFIG", metavar="FILE",
              help="Config file (default: $NEWSWATCH_CONFIG or ./config.yaml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors in the log.")
@click.version_option(package_name="newswatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """newswatch: crawl news sources, archive reports, alert when tracked facts change."""
    ctx.obj = State(config_path, verbose, quiet)
    ctx.call_on_close(_shutdown)


def _shutdown() -> None:
    reactor = sys.modules.get("crawler.scraping.reactor")
    if reactor is not None:  # a command that never crawled imports nothing here (speed)
        reactor.shutdown_reactor()


def _register() -> None:
    # Commands live in their own modules; importing them registers them on `cli`.
    from crawler.cli import analyst, backtest, cluster, commands, query  # noqa: F401


_register()
