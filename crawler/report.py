"""The trackers' report as HTML, each tracker's timeline drawn as inline SVG.

Pure rendering: :class:`~crawler.archive.analyst.Timeline` in, HTML text out.
``newswatch report --html`` writes :func:`report_html` (one self-contained file: no
scripts, no external resources, a Content-Security-Policy that forbids loading any);
``browse`` serves :func:`tracker_section` on a page per tracker. Everything from the web
(titles, sentences, source names, URLs) is escaped; only http(s) URLs become links.

The chart: time across, the value up (a count, or a date for timelines). Each point is a
statement — one report stating a value — coloured by source and shaped by what change
detection made of it (it states the value, a stale copy, a change waiting for
confirmation, neither); the tracker's value is the step line, ending at the current
value; each value change is a dashed vertical mark. Every point links to its document
and sentence and names them in its tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote

from alerts.render import safe_url
from crawler.archive.analyst import Held, Statement, Timeline

# Okabe–Ito and Tableau colours: distinguishable, also for colour-blind readers.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f7f7f",
           "#bcbd22", "#8c564b", "#17becf", "#f0e442", "#9467bd")
STALE = "#c0392b"
LINE = "#1f2d3d"

STATUS_TEXT = {
    "value": "states the value",
    "stale": "stale copy of an older value (conflict)",
    "pending": "new value waiting for confirmation",
    "none": "not evaluated as the tracker's value",
}


def esc(value: object) -> str:
    """Text or attribute value, escaped for HTML and SVG."""
    return html.escape("" if value is None else str(value), quote=True)


def web_link(url: str | None, sentence: str | None = None) -> str | None:
    """``url`` (http or https only), scrolled to ``sentence`` with a text fragment."""
    url = safe_url(url)
    if url is None:
        return None
    base = url.split("#", 1)[0]
    words = (sentence or "").split()
    if not words:
        return base

    def enc(part: list[str]) -> str:
        return quote(" ".join(part), safe="").replace("-", "%2D")

    text = enc(words) if len(words) <= 10 else f"{enc(words[:5])},{enc(words[-5:])}"
    return f"{base}#:~:text={text}"


@dataclass(frozen=True)
class Links:
    """Where a statement's point and its document link to."""

    statement: Callable[[Statement], str | None]
    document: Callable[[Statement], str | None]


#: the static report links to the reports themselves, scrolled to the sentence
WEB_LINKS = Links(statement=lambda s: web_link(s.url, s.sentence),
                  document=lambda s: web_link(s.url, s.sentence))


# ====================================================================== scales


@dataclass(frozen=True)
class Scale:
    """A linear map from a domain to pixels."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return round(self.start + (value - self.low) / (self.high - self.low)
                     * (self.end - self.start), 1)


def _day(iso: str) -> float:
    try:
        return float(date.fromisoformat(iso[:10]).toordinal())
    except ValueError:
        return 0.0


def _padded(values: Sequence[float], minimum: float, share: float = 0.08
            ) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max((high - low) * share, minimum / 2)
    return low - pad, high + pad


def _month_ticks(low: float, high: float, most: int) -> list[tuple[float, str]]:
    """Ticks on the first day of months (or years), at most ``most`` of them."""
    first, last = date.fromordinal(int(low)), date.fromordinal(int(high))
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60, 120) if months / s <= most), 240)
    ticks = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        index = year * 12 + month - 1
        if index % step == 0:
            day = date(year, month, 1)
            if low <= day.toordinal() <= high:
                label = str(year) if step >= 12 else day.strftime("%b %Y")
                ticks.append((float(day.toordinal()), label))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    if not ticks:  # less than a month: the ends
        ticks = [(low, first.isoformat()), (high, last.isoformat())]
    return ticks


def _count_ticks(low: float, high: float, most: int = 6) -> list[tuple[float, str]]:
    span = high - low
    step = 1.0
    for magnitude in (10.0 ** k for k in range(0, 10)):
        found = next((m * magnitude for m in (1, 2, 5) if span / (m * magnitude) <= most),
                     None)
        if found:
            step = found
            break
    first = int(low // step + 1) * step
    ticks = []
    value = first
    while value <= high:
        ticks.append((value, f"{value:,.0f}"))
        value += step
    return ticks


# ====================================================================== chart


def _sources(statements: Iterable[Statement]) -> dict[str, str]:
    """Each source's colour, in order of first statement."""
    colours: dict[str, str] = {}
    for s in statements:
        if s.source not in colours:
            colours[s.source] = PALETTE[len(colours) % len(PALETTE)]
    return colours


def _point(s: Statement, x: float, y: float, colour: str) -> str:
    faded = "" if s.current_text else ' opacity="0.45"'
    if s.status == "stale":
        return (f'<rect class="mark" x="{x - 5}" y="{y - 5}" width="10" height="10" '
                f'transform="rotate(45 {x} {y})" fill="{colour}" stroke="{STALE}" '
                f'stroke-width="2.5"{faded}/>')
    if s.status == "pending":
        return (f'<circle class="mark" cx="{x}" cy="{y}" r="5.5" fill="#fff" '
                f'stroke="{colour}" stroke-width="3"{faded}/>')
    if s.status == "none":
        return (f'<circle class="mark" cx="{x}" cy="{y}" r="3.5" fill="{colour}" '
                f'stroke="#fff" stroke-width="1"{faded}/>')
    return (f'<circle class="mark" cx="{x}" cy="{y}" r="6" fill="{colour}" stroke="#fff" '
            f'stroke-width="1.5"{faded}/>')


def chart_svg(timeline: Timeline, links: Links = WEB_LINKS, *, width: int = 900,
              height: int = 340) -> str:
    """The tracker's timeline chart as an ``<svg>`` element (empty text: nothing to draw)."""
    points = [s for s in timeline.statements if s.y is not None]
    steps = [s for s in timeline.steps if s.y is not None]
    if not points and not steps:
        return ""
    dating = timeline.kind == "timeline"
    colours = _sources(points)
    days = [_day(s.published) for s in points] + [_day(s.since) for s in steps]
    values = [s.y for s in points if s.y is not None] + [s.y for s in steps if s.y is not None]
    left, right, top = 84, 150, 34
    legend_rows = _legend_rows(colours, width - 20)
    bottom = 44 + 22 * (len(legend_rows) + 1)
    x = Scale(*_padded(days, 30), left, width - right)
    y_low, y_high = _padded(values, 60 if dating else max(10.0, max(values) * 0.2), 0.12)
    if not dating:
        y_low = max(0.0, y_low) if min(values) >= 0 else y_low
    y = Scale(y_low, y_high, height - bottom, top)
    plot_bottom = height - bottom

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-chart" '
           f'data-tracker="{esc(timeline.tracker)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(timeline.tracker)}: statements over time">',
           f'<rect x="{left}" y="{top}" width="{width - right - left}" '
           f'height="{plot_bottom - top}" fill="#fbfbfd" stroke="#d8dce3"/>']
    # axes
    out.append('<g class="axis x-axis" font-size="11" fill="#444">')
    for value, label in _month_ticks(x.low, x.high, 8):
        px = x(value)
        out.append(f'<line x1="{px}" y1="{top}" x2="{px}" y2="{plot_bottom}" '
                   f'stroke="#eceef2"/><text class="tick" x="{px}" y="{plot_bottom + 16}" '
                   f'text-anchor="middle">{esc(label)}</text>')
    out.append('</g><g class="axis y-axis" font-size="11" fill="#444">')
    ticks = _month_ticks(y.low, y.high, 6) if dating else _count_ticks(y.low, y.high)
    for value, label in ticks:
        py = y(value)
        out.append(f'<line x1="{left}" y1="{py}" x2="{width - right}" y2="{py}" '
                   f'stroke="#eceef2"/><text class="tick" x="{left - 8}" y="{py + 4}" '
                   f'text-anchor="end">{esc(label)}</text>')
    out.append("</g>")
    # value changes, then the value as a step line ending at the current value
    out.append('<g class="changes">')
    for i, step in enumerate(steps[1:], 1):
        px = x(_day(step.since))
        label_y = top - 6 - 11 * (i % 2)
        out.append(
            f'<g class="change-mark" data-change="{step.change_id}" '
            f'data-type="{esc(step.type)}" data-date="{esc(step.since)}">'
            f'<title>{esc(step.since)}: {esc(step.type)} {esc(step.old_display)} → '
            f'{esc(step.display)}</title>'
            f'<line x1="{px}" y1="{top}" x2="{px}" y2="{plot_bottom}" stroke="#8a94a6" '
            f'stroke-dasharray="4 3"/><text x="{px}" y="{label_y + 14}" font-size="10" '
            f'text-anchor="middle" fill="#56607a">{esc(step.type)}</text></g>')
    for s in points:
        if s.made_change and s.change_type == "conflict":
            px = x(_day(s.published))
            out.append(
                f'<g class="conflict-mark" data-change="{s.change_id}" '
                f'data-date="{esc(s.published)}"><title>{esc(s.published)}: stale copy of '
                f'{esc(s.display)} (conflict)</title><line x1="{px}" y1="{top}" x2="{px}" '
                f'y2="{plot_bottom}" stroke="{STALE}" stroke-opacity="0.5" '
                f'stroke-dasharray="1 3"/><text x="{px}" y="{top - 4}" font-size="10" '
                f'text-anchor="middle" fill="{STALE}">conflict</text></g>')
    out.append("</g>")
    if steps:
        assert steps[0].y is not None
        path = [f"M{x(_day(steps[0].since))},{y(steps[0].y)}"]
        for step in steps[1:]:
            assert step.y is not None
            path.append(f"H{x(_day(step.since))}V{y(step.y)}")
        path.append(f"H{width - right}")
        out.append(f'<path class="value-line" d="{"".join(path)}" fill="none" '
                   f'stroke="{LINE}" stroke-width="2.5" stroke-linejoin="round"/>')
        current = steps[-1]
        assert current.y is not None
        out.append(f'<text class="current-label" x="{width - right + 8}" '
                   f'y="{y(current.y) + 4}" font-size="13" font-weight="bold" '
                   f'fill="{LINE}">now {esc(current.display)}</text>')
    # statements: one point each, later copies of one date and value side by side
    out.append('<g class="statements">')
    seen: dict[tuple[float, float], int] = {}
    for s in points:
        assert s.y is not None
        px, py = x(_day(s.published)), y(s.y)
        n = seen.get((px, py), 0)
        seen[(px, py)] = n + 1
        px = round(px + 7 * n, 1)
        href = links.statement(s)
        tip = (f"{s.published} · {s.source} · {s.display} — {STATUS_TEXT[s.status]}"
               f"{'' if s.current_text else ' (revised away)'}\n{s.sentence}")
        attrs = (f'class="statement {s.status}" data-fact="{s.fact_id}" '
                 f'data-document="{s.document_id}" data-source="{esc(s.source)}" '
                 f'data-date="{esc(s.published)}" data-value="{esc(s.display)}" '
                 f'data-x="{px}" data-y="{py}"')
        mark = f"<title>{esc(tip)}</title>{_point(s, px, py, colours[s.source])}"
        if href:
            out.append(f'<a {attrs} href="{esc(href)}">{mark}</a>')
        else:
            out.append(f"<g {attrs}>{mark}</g>")
    out.append("</g>")
    out.append(_legend(legend_rows, colours, plot_bottom + 34))
    out.append("</svg>")
    return "".join(out)


def _legend_rows(colours: dict[str, str], width: int) -> list[list[str]]:
    rows: list[list[str]] = [[]]
    used = 0
    for source in colours:
        need = 30 + 7 * min(len(source), 28)
        if rows[-1] and used + need > width:
            rows.append([])
            used = 0
        rows[-1].append(source)
        used += need
    return rows


def _legend(rows: list[list[str]], colours: dict[str, str], top: float) -> str:
    out = ['<g class="legend" font-size="12" fill="#333">']
    y = top
    for row in rows:
        x = 20.0
        for source in row:
            name = source if len(source) <= 28 else source[:27] + "…"
            out.append(f'<g class="legend-source" data-source="{esc(source)}">'
                       f'<circle cx="{x + 6}" cy="{y - 4}" r="6" fill="{colours[source]}"/>'
                       f'<text x="{x + 16}" y="{y}">{esc(name)}</text></g>')
            x += 30 + 7 * len(name)
        y += 22
    shapes = [("value", "states the value"), ("pending", "unconfirmed"),
              ("stale", "stale copy"), ("none", "other statement")]
    x = 20.0
    for status, text in shapes:
        fake = Statement(0, 0, 0, "", "", "", 0.0, "", "", False, False, "", None, "", True,
                         None, None, False, status)
        out.append(f'<g class="legend-shape">{_point(fake, x + 6, y - 4, "#8a94a6")}'
                   f'<text x="{x + 18}" y="{y}">{esc(text)}</text></g>')
        x += 40 + 7 * len(text)
    out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" stroke="{LINE}" '
               f'stroke-width="2.5"/><text x="{x + 30}" y="{y}">the tracker\'s value</text>')
    out.append("</g>")
    return "".join(out)


# ====================================================================== HTML


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _held_html(items: list[Held], what: str) -> str:
    return "; ".join(
        f'<span class="held" data-change="{h.change_id}"><strong>{esc(h.display)}</strong> '
        f"since {esc(h.since)} ({_plural(h.reports, 'report')}, "
        f"{_plural(h.voices, 'independent source')})</span>" for h in items) or f"no {what}"


def summary_html(timeline: Timeline) -> str:
    """One paragraph: the current value, since when, how sure; what waits beside it."""
    cur = timeline.current
    if cur is None:
        return '<p class="summary">No value yet.</p>'
    official = {"yes": "an official source states it",
                "attributed": "a report attributes it to officials",
                "no": "no official voice states it"}[timeline.official]
    outlets = ", ".join(esc(o) for o in timeline.outlets)
    return (
        f'<p class="summary">Current value <strong class="current-value">'
        f"{esc(cur.display)}</strong> since <span class=\"since\">{esc(cur.since)}</span> "
        f"({esc(cur.type)}), stated by <span class=\"sources\">"
        f"{_plural(timeline.voices, 'independent source')}</span> ({outlets}); "
        f"{official}.</p>"
        f'<p class="pending">Waiting for confirmation: '
        f"{_held_html(timeline.pending, 'unconfirmed change')}.</p>"
        f'<p class="conflicts">Stale copies of older values since it was set: '
        f"{_held_html(timeline.conflicts, 'stale copies')}.</p>")


def statements_table(timeline: Timeline, links: Links) -> str:
    rows = []
    for s in sorted(timeline.statements, key=lambda s: (s.published, s.fact_id)):
        href = links.document(s)
        title = esc(s.title or s.url)
        doc = f'<a href="{esc(href)}">{title}</a>' if href else title
        rows.append(
            f'<tr class="{s.status}" id="fact-{esc(timeline.tracker)}-{s.fact_id}" '
            f'data-fact="{s.fact_id}"><td>{esc(s.published)}</td><td>{esc(s.source)}</td>'
            f"<td>{esc(s.display)}</td><td>{esc(STATUS_TEXT[s.status])}"
            f"{'' if s.current_text else ' (revised away)'}</td>"
            f"<td>{esc(s.sentence)}</td><td>{doc}</td></tr>")
    return ('<details class="evidence"><summary>'
            f"{_plural(len(timeline.statements), 'statement')}</summary>"
            '<table class="statements"><thead><tr><th>report</th><th>source</th>'
            "<th>value</th><th>what it is</th><th>sentence</th><th>document</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></details>")


def tracker_section(timeline: Timeline, label: str, links: Links = WEB_LINKS) -> str:
    """One tracker: heading, summary, chart and its statements."""
    name = esc(timeline.tracker)
    heading = esc(label) + (f" <small>({name})</small>" if label != timeline.tracker else "")
    return (f'<section class="tracker" id="tracker-{name}" data-tracker="{name}">'
            f"<h2>{heading}</h2>{summary_html(timeline)}"
            f'<div class="chart">{chart_svg(timeline, links)}</div>'
            f"{statements_table(timeline, links)}</section>")


def overview_table(timelines: Sequence[Timeline], labels: dict[str, str],
                   href: Callable[[Timeline], str]) -> str:
    """The trackers at a glance, each linking to its section or page."""
    rows = []
    for t in timelines:
        cur = t.current
        rows.append(
            f'<tr data-tracker="{esc(t.tracker)}"><td><a href="{esc(href(t))}">'
            f"{esc(labels.get(t.tracker, t.tracker))}</a></td>"
            f"<td><strong>{esc(cur.display) if cur else 'no value yet'}</strong></td>"
            f"<td>{esc(cur.since) if cur else ''}</td><td>{t.voices if cur else ''}</td>"
            f"<td>{esc(t.official) if cur else ''}</td>"
            f"<td>{'; '.join(esc(h.display) for h in t.pending)}</td>"
            f"<td>{len(t.conflicts) or ''}</td></tr>")
    return ('<table class="overview"><thead><tr><th>tracker</th><th>value</th><th>since</th>'
            "<th>sources</th><th>official</th><th>pending</th><th>conflicts</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2d3d;margin:24px;
max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px}h2 small{color:#667}
.meta{color:#667;font-size:13px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e3e6eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8}.chart svg{max-width:100%;height:auto}
tr.stale td{color:#8b2a1f}tr.pending td{color:#7a5a00}tr.none td{color:#777}
.summary strong{font-size:17px}a{color:#0b5cad}nav a{margin-right:12px}
""".strip()

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def page(title: str, body: str, *, csp: bool = True) -> str:
    """A whole HTML document around ``body`` (the CSP forbids loading anything)."""
    policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' if csp else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{policy}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
            "</body></html>\n")


def report_html(timelines: Sequence[Timeline], labels: dict[str, str], *,
                archive: str = "", generated: datetime | None = None) -> str:
    """The whole report: an overview table, then one section per tracker."""
    moment = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    sections = "".join(tracker_section(t, labels.get(t.tracker, t.tracker))
                       for t in timelines)
    body = (f'<h1>newswatch: tracked facts</h1><p class="meta">Generated {esc(moment)}'
            f"{' from ' + esc(archive) if archive else ''}. Each value is the one change "
            "detection confirmed; stale copies and unconfirmed changes are shown beside "
            "it.</p>"
            + overview_table(timelines, labels, lambda t: f"#tracker-{t.tracker}")
            + (sections or "<p>No trackers configured or archived.</p>"))
    return page("newswatch report", body)
