"""The tracker charts in a real browser: headless Chromium (Debian's package) via Selenium.

`newswatch browse` runs as a real server on loopback and `newswatch report --html` writes
its file; Chromium loads both, and the test reads what it drew — each point's position,
its link and tooltip, the labels — and checks them against the archive's rows. A
screenshot of each page is saved in the test's tmp dir. Chromium never reaches the
network: the pages load nothing, and background networking is switched off.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from analyst_archive import build_archive

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

from selenium import webdriver  # noqa: E402  (the dev extra)

# Never skipped: what a person sees is tested in a real browser (README, "Development").
assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), (
    "tests/test_browser.py needs Debian's chromium and chromium-driver: "
    "apt-get install chromium chromium-driver (.ci/run does)")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1100,1400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browse_url(config: Path) -> Iterator[str]:
    """`newswatch browse --port 0` as a real server; its base URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--config", str(config), "browse", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # printed once the socket is listening
        assert "newswatch archive at http://127.0.0.1:" in line, line
        yield line.split(" at ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def archive_facts(config: Path, tracker: str) -> dict[int, dict[str, Any]]:
    with sqlite3.connect(config.parent / "archive.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT f.id, f.display, f.sentence, coalesce(f.published, d.published) AS day, "
            "d.source, d.url, d.id AS document FROM facts f JOIN documents d "
            "ON d.id = f.document_id WHERE f.tracker = ?", [tracker]).fetchall()
    return {r["id"]: dict(r) for r in rows}


DRAWN = """
const chart = document.querySelector(arguments[0] + ' svg.timeline-chart');
const box = chart.getBoundingClientRect();
const points = [...chart.querySelectorAll('.statement')].map(p => {
  const r = p.querySelector('.mark').getBoundingClientRect();
  return {fact: +p.dataset.fact, date: p.dataset.date, value: p.dataset.value,
          source: p.dataset.source, status: p.classList[1],
          href: p.getAttribute('href'), tip: p.querySelector('title').textContent,
          x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height,
          inside: r.left >= box.left && r.right <= box.right && r.top >= box.top
                  && r.bottom <= box.bottom};
});
const line = chart.querySelector('path.value-line').getBoundingClientRect();
return {points, width: box.width, height: box.height,
        current: chart.querySelector('.current-label').textContent,
        changes: [...chart.querySelectorAll('.change-mark')].map(m => m.dataset.type),
        conflicts: [...chart.querySelectorAll('.conflict-mark')].map(m => m.dataset.date),
        legend: [...chart.querySelectorAll('.legend-source')].map(m => m.dataset.source),
        line: {left: line.left, right: line.right, w: line.width, h: line.height},
        ticks: [...chart.querySelectorAll('.tick')].map(t => t.textContent)};
"""


def check_chart(drawn: dict[str, Any], facts: dict[int, dict[str, Any]]) -> None:
    """The drawn points are the archive's facts, placed by date and value."""
    assert drawn["width"] > 400 and drawn["height"] > 200
    points = drawn["points"]
    assert sorted(p["fact"] for p in points) == sorted(facts)
    for p in points:
        fact = facts[p["fact"]]
        assert (p["date"], p["value"], p["source"]) == (fact["day"], fact["display"],
                                                        fact["source"])
        assert p["inside"] and p["w"] > 4 and p["h"] > 4, p  # drawn, within the chart
        assert fact["sentence"] in p["tip"] and fact["source"] in p["tip"]
    by_date = sorted(points, key=lambda p: (p["date"], p["x"]))
    assert [p["x"] for p in by_date] == sorted(p["x"] for p in points)  # time runs right
    level = {p["value"]: p["y"] for p in points}
    assert level["~1,500"] > level["~2,000"] > level["~2,500"]  # larger values higher
    assert {p["status"] for p in points if p["value"] == "~1,500"} == {"pending"}
    assert {p["status"] for p in points if p["date"] >= "2025-03-01"
            and p["value"] == "~2,500"} == {"stale"}
    assert drawn["current"] == "now ~2,000"
    assert drawn["changes"] == ["change"] and drawn["conflicts"] == ["2025-03-01"]
    assert drawn["legend"] == ["DoD", "Wire A", "Daily B", "Daily C", "Old News", "Reprints"]
    assert drawn["line"]["w"] > drawn["width"] / 2 and drawn["line"]["h"] > 10
    assert "Feb 2025" in drawn["ticks"] and "2,000" in drawn["ticks"]


def test_browse_tracker_page_in_chromium(browser: Any, browse_url: str, config: Path,
                                         tmp_path: Path) -> None:
    browser.get(browse_url + "-/trackers")
    link = browser.find_element("css selector", 'a[href="/-/trackers/us-troops-iraq"]')
    link.click()
    assert browser.current_url == browse_url + "-/trackers/us-troops-iraq"
    facts = archive_facts(config, "us-troops-iraq")
    drawn = browser.execute_script(DRAWN, "section.tracker")
    check_chart(drawn, facts)
    for p in drawn["points"]:
        assert p["href"] == f"/archive/facts?id={p['fact']}"
    browser.save_screenshot(str(tmp_path / "browse-tracker.png"))
    assert (tmp_path / "browse-tracker.png").stat().st_size > 10_000
    # a point's link leads to its fact: the sentence, and the document it links to
    stale = next(p for p in drawn["points"] if p["status"] == "stale")
    browser.get(browse_url + stale["href"].lstrip("/"))
    page = browser.find_element("tag name", "body").text
    assert facts[stale["fact"]]["sentence"] in page
    document = browser.find_element("css selector", 'a[href$="/documents/'
                                    f'{facts[stale["fact"]]["document"]}"]')
    document.click()
    assert facts[stale["fact"]]["url"] in browser.find_element("tag name", "body").text


def test_html_report_in_chromium(browser: Any, config: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    subprocess.run([sys.executable, "-m", "crawler", "-q", "--config", str(config), "report",
                    "--html", str(report)], check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    browser.get(report.as_uri())
    assert browser.title == "newswatch report"
    overview = browser.find_element("css selector", "table.overview").text
    assert "US troops in Iraq ~2,000 2025-02-01 3 no ~1,500 1" in overview
    facts = archive_facts(config, "us-troops-iraq")
    drawn = browser.execute_script(DRAWN, "#tracker-us-troops-iraq")
    check_chart(drawn, facts)
    for p in drawn["points"]:  # the report links to each report, at its sentence
        assert p["href"].startswith(facts[p["fact"]]["url"] + "#:~:text=")
    end = browser.execute_script(DRAWN, "#tracker-coalition-end")
    assert end["current"] == "now Sep 2026" and len(end["points"]) == 2
    assert "Sep 2025" in end["ticks"] or "Oct 2025" in end["ticks"]
    # the evidence table opens and lists every statement with its sentence
    browser.find_element("css selector", "#tracker-us-troops-iraq details summary").click()
    rows = browser.find_elements("css selector", "#tracker-us-troops-iraq tr[data-fact]")
    assert sorted(int(r.get_attribute("data-fact")) for r in rows) == sorted(facts)
    assert all(r.is_displayed() for r in rows)
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    # the page loaded nothing from anywhere: the only resource is the file itself
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded == []
