"""The extraction pool survives crashing and hanging workers."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from crawler.extraction.pages import ExtractionTimeout, Extractor, extract_page, html_to_text


def crash(marker: str) -> str:
    if os.path.exists(marker):
        os._exit(1)  # a worker dying mid-page, like a parser segfault or the OOM killer
    return "ok"


def hang(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


def double(x: int) -> int:
    return 2 * x


def test_crashed_worker_is_replaced_and_page_retried(tmp_path: object) -> None:
    marker = os.path.join(str(tmp_path), "crash")
    open(marker, "w").close()
    pool = Extractor(1, timeout=30)

    async def scenario() -> tuple[object, int]:
        with pytest.raises(Exception) as failure:  # crashes twice: given up after one retry
            await pool.run(crash, marker)
        os.remove(marker)
        return failure.value, await pool.run(double, 21)

    try:
        error, value = asyncio.run(scenario())
    finally:
        pool.close()
    assert type(error).__name__ == "BrokenProcessPool"
    assert value == 42  # new workers took over


def test_hung_worker_times_out_and_is_replaced() -> None:
    pool = Extractor(1, timeout=1)

    async def scenario() -> int:
        started = time.monotonic()
        with pytest.raises(ExtractionTimeout):
            await pool.run(hang, 60)
        assert time.monotonic() - started < 10
        return await pool.run(double, 4)

    try:
        assert asyncio.run(scenario()) == 8
    finally:
        started = time.monotonic()
        pool.close(wait=1)
        assert time.monotonic() - started < 5


def test_extract_page_and_feed_html() -> None:
    page = extract_page("<html><body><nav>Home</nav><article><h1>T</h1><p>"
                        + "The coalition mission in Iraq continues. " * 20
                        + "</p></article></body></html>", with_metadata=False)
    assert page is not None and "coalition mission" in page.text and "Home" not in page.text
    assert extract_page("<html><body></body></html>") is None
    assert html_to_text("<p>One</p><script>alert(1)</script><p>Two &amp; three</p>") == \
        "One\nTwo & three"


def test_feed_html_text_never_joins_blocks_or_cells() -> None:
    """A sentence must not run from a headline or a date line into the text, nor across
    table cells: "2024-01-26 The US has" once gave a "1–26" count."""
    text = html_to_text("<h1>US to cut troops</h1><time>2024-01-26</time> The US has 2,500 "
                        "troops in Iraq.<table><tr><td>Erbil</td><td>500</td></tr></table>"
                        "<p>A <b>bold</b> word.</p>")
    assert text.splitlines() == ["US to cut troops", "2024-01-26", "The US has 2,500 troops "
                                 "in Iraq.", "Erbil", "500", "A bold word."]
