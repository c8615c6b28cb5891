"""Twisted's asyncio reactor, installed once per process and driven from asyncio.

All reactor plumbing lives here: Scrapy runs on Twisted's asyncio reactor, so spiders, the
extraction pool, the archive writer and (in the service) APScheduler share one event loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_reactor(coro: Coroutine[Any, Any, T], interruptible: bool = False,
                   also_on_sigterm: bool = False) -> T:
    """Run a coroutine on the asyncio loop behind Twisted's asyncio reactor.

    The reactor is installed and started once per process; the loop is then
    driven with ``run_until_complete``, so a process (or a test session) can run
    several passes, which ``reactor.run()`` would not allow.

    ``interruptible``: the first SIGINT (Ctrl-C) cancels the coroutine, which then
    records its work as interrupted and raises ``asyncio.CancelledError``; a second
    SIGINT raises KeyboardInterrupt at once. ``also_on_sigterm``: SIGTERM does the same
    (a `newswatch worker` under a process manager).
    """
    from scrapy.utils.reactor import install_reactor, is_reactor_installed

    if not is_reactor_installed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    if not reactor.running:
        reactor.startRunning(installSignalHandlers=False)
    loop = _reactor_loop(reactor)
    if not interruptible or threading.current_thread() is not threading.main_thread():
        return loop.run_until_complete(coro)
    task = loop.create_task(coro)
    signals = (signal.SIGINT, signal.SIGTERM) if also_on_sigterm else (signal.SIGINT,)

    def interrupt() -> None:
        for sig in signals:  # a second Ctrl-C: KeyboardInterrupt; SIGTERM: exit
            loop.remove_signal_handler(sig)
        task.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, interrupt)
    try:
        return loop.run_until_complete(task)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def shutdown_reactor() -> None:
    """Stop the reactor's thread pool, so the process can exit; the reactor stays usable.

    Without this, Twisted's non-daemon pool threads keep the interpreter alive.
    Only the pool is stopped: firing the reactor's "shutdown" event would also
    crash the reactor and stop its event loop, and the next ``run_on_reactor`` in
    the same process (a test session, the CLI invoked in-process) would fail with
    "Event loop stopped before Future completed". The pool is recreated on demand.
    A process that never ran a crawl has no reactor: nothing is imported then.
    """
    if "twisted.internet.reactor" not in sys.modules:  # Scrapy's is_reactor_installed test
        return
    from twisted.internet import reactor

    if getattr(reactor, "threadpool", None) is not None:
        _stop_thread_pool(reactor)


# Twisted's asyncio reactor keeps two things newswatch needs without a public accessor.
# Each is reached in exactly one place, and fails loudly if Twisted moves it.


def _reactor_loop(reactor: Any) -> asyncio.AbstractEventLoop:
    """The asyncio loop the reactor runs on (Scrapy reads the same attribute)."""
    loop = getattr(reactor, "_asyncioEventloop", None)
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise RuntimeError("Twisted's asyncio reactor no longer exposes its event loop "
                           "(AsyncioSelectorReactor._asyncioEventloop); see scraping/reactor.py")
    return loop


def _stop_thread_pool(reactor: Any) -> None:
    """Stop the reactor's thread pool only (the public shutdown would also stop the loop)."""
    stop = getattr(reactor, "_stopThreadPool", None)
    if stop is None:
        raise RuntimeError("Twisted's reactor no longer has _stopThreadPool(); see "
                           "scraping/reactor.py")
    stop()
