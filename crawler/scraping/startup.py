"""What makes Scrapy's imports slow at a crawl's start-up, and the one remedy for it.

Scrapy (2.19) gives each of its deprecated TLS class aliases (``scrapy.core.downloader.
tls`` and ``.contextfactory``, imported by the HTTP download handler) the name of the
module defining it with ``inspect.stack()`` and ``inspect.getmodule()``. Both resolve the
source file of every module loaded so far (a ``realpath`` each, then a walk over
``sys.modules`` per frame): about 0.1–0.2 s of every ``crawl``, more the more is loaded.
:func:`caller_modules_by_frame` answers the same question from the calling frame's
globals, while those modules are imported.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any


class _FrameLookup:
    """``inspect`` as scrapy.utils.deprecate uses it, with the caller found cheaply."""

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list[tuple[FrameType | None]]:
        # [0] is create_deprecated_class itself, [1] the module defining the alias
        frame = sys._getframe(1)
        return [(frame,), (frame.f_back,)]

    @staticmethod
    def getmodule(obj: Any, _filename: str | None = None) -> ModuleType | None:
        if isinstance(obj, FrameType):
            return sys.modules.get(obj.f_globals.get("__name__", ""))
        return inspect.getmodule(obj, _filename)


@contextmanager
def caller_modules_by_frame() -> Iterator[None]:
    """While it lasts, Scrapy's deprecated classes find their module from the frame."""
    from scrapy.utils import deprecate

    real = getattr(deprecate, "inspect", None)
    if real is not inspect:  # another Scrapy: leave it as it is
        yield
        return
    deprecate.inspect = _FrameLookup()  # type: ignore[assignment]
    try:
        yield
    finally:
        deprecate.inspect = real
