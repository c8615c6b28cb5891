"""Render a detected change as an email (plain text + HTML) and a Slack message.

Everything that comes from the web (values, sentences, titles, links, dates) is untrusted:

- control and bidi-override characters are removed, and one-line fields (subject, titles,
  values) have every kind of line break collapsed to a space;
- HTML output escapes all of it with :func:`html.escape`;
- Slack mrkdwn escapes ``&``, ``<`` and ``>`` so a title cannot inject ``<!channel>`` or
  ``<http://evil|click>``, and defuses bare ``@channel``/``@here``/``@everyone``;
- links are emitted only for ``http``/``https`` URLs (never ``javascript:`` and the like).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ChangeRecord",
    "Message",
    "Report",
    "escape_html",
    "make_message_id",
    "mrkdwn",
    "one_line",
    "render",
    "safe_url",
    "slack_link",
    "slack_section",
    "trial_change",
]


@dataclass(frozen=True)
class Report:
    """One report stating a value; every field except ``source`` comes from the web."""

    value: str
    sentence: str
    source: str
    title: str
    url: str
    published: str | None


@dataclass(frozen=True)
class ChangeRecord:
    """A detected change of a tracked fact, as handed over by the application."""

    change_id: int
    story: str
    tracker: str
    tracker_title: str
    kind: str  # "troops" | "members" | "timeline" | "text" (a watched page's text)
    type: str  # "change" | "revision" | "conflict" | "test"
    old: Report | None
    new: Report
    corroborating: tuple[Report, ...] = ()
    diff: tuple[tuple[str, str], ...] = ()  # ("equal"|"insert"|"delete", text)
    detected_at: str = ""


@dataclass(frozen=True)
class Message:
    """A rendered alert, ready for any channel."""

    subject: str
    text: str
    html: str
    slack_text: str
    slack_blocks: list[dict[str, Any]]
    message_id: str


# type -> (label of the new report, label of the old report)
_LABELS = {
    "change": ("New value", "Previous value"),
    "revision": ("After revision", "Before revision"),
    "conflict": ("Stale report", "Current value"),
    "test": ("New value", "Previous value"),
}
_STRIP = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SLACK_SECTION_MAX = 3000
_SLACK_CORROBORATING_MAX = 5


def make_message_id(alert_id: int, change: ChangeRecord) -> str:
    """Return a deterministic RFC 5322 Message-ID for one alert of ``change``."""
    key = "\0".join([str(change.change_id), change.tracker, change.new.value, change.new.url])
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]
    return f"<alert-{alert_id}-{digest}@newswatch>"


def render(change: ChangeRecord, message_id: str) -> Message:
    """Render ``change`` into subject, plain text, HTML and Slack blocks."""
    subject = _subject(change)
    return Message(
        subject=subject,
        text=_text(change, subject),
        html=_html(change, subject),
        slack_text=_slack_text(change, subject),
        slack_blocks=_slack_blocks(change, subject),
        message_id=one_line(message_id),
    )


# -- sanitizing helpers -------------------------------------------------------------------


def _clean(s: str | None) -> str:
    """Drop control and bidi-override characters (keeps tab and newline)."""
    return _STRIP.sub("", s or "")


def one_line(s: str | None, limit: int = 1000) -> str:
    """One line: all whitespace runs (incl. CR, LF, U+2028) become one space."""
    out = " ".join(_clean(s).split())
    return out if len(out) <= limit else out[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """Return ``url`` if it is a plain http(s) URL, else None."""
    u = (url or "").strip()
    if not u or _STRIP.search(u) or any(ch.isspace() for ch in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    return u if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _labels(change: ChangeRecord) -> tuple[str, str]:
    return _LABELS.get(change.type, _LABELS["change"])


def _cite_parts(r: Report) -> tuple[str, str, str]:
    """(source, title, date) as clean single lines."""
    return one_line(r.source, 100), one_line(r.title, 200), one_line(r.published or "", 40)


def _diff_segments(change: ChangeRecord) -> list[tuple[str, str]]:
    """The diff with whitespace collapsed and long unchanged stretches shortened."""
    out = []
    last = len(change.diff) - 1
    for i, (op, text) in enumerate(change.diff):
        t = re.sub(r"\s+", " ", _clean(text))
        if op not in ("insert", "delete"):
            op = "equal"
            if len(t) > 160:
                t = (
                    ("…" + t[-80:])
                    if i == 0
                    else (t[:80] + "…")
                    if i == last
                    else (t[:60] + " … " + t[-60:])
                )
        out.append((op, t))
    return out


def _subject(change: ChangeRecord) -> str:
    title = one_line(change.tracker_title or change.tracker, 120)
    new = one_line(change.new.value, 60)
    old = one_line(change.old.value, 60) if change.old else None
    move = f"{old} → {new}" if old else new
    if change.type == "revision" and change.kind == "text":
        subject = f"{title}: page revised"
    elif change.type == "revision":
        subject = f"{title}: article revised, {move}"
    elif change.type == "conflict":
        subject = f"{title}: stale report says {new}" + (f" (current {old})" if old else "")
    else:
        subject = f"{title}: {move}"
    if change.type == "test":
        subject = "[test] " + subject
    return one_line(subject, 250)


def _footer(change: ChangeRecord) -> str:
    parts = [f"story {one_line(change.story)}", f"tracker {one_line(change.tracker)}"]
    parts.append(f"change #{change.change_id}")
    if change.detected_at:
        parts.append(f"detected {one_line(change.detected_at)}")
    return " · ".join(parts)


# -- plain text -----------------------------------------------------------------------------


def _text_report(label: str, r: Report) -> list[str]:
    source, title, date = _cite_parts(r)
    lines = [f"{label}: {one_line(r.value)}" if label else f"- {one_line(r.value)}"]
    if r.sentence.strip():
        lines.append(f'  "{one_line(r.sentence)}"')
    lines.append(f"  — {source}: {title}" + (f" ({date})" if date else ""))
    url = safe_url(r.url)
    lines.append(f"  {url}" if url else "  (link omitted: not an http(s) URL)")
    return lines


def _text(change: ChangeRecord, subject: str) -> str:
    new_label, old_label = _labels(change)
    lines = [subject, ""] + _text_report(new_label, change.new)
    if change.old:
        lines += [""] + _text_report(old_label, change.old)
    if change.corroborating:
        lines += ["", "Corroborated by:"]
        for r in change.corroborating:
            lines += ["  " + line for line in _text_report("", r)]
    if change.diff:
        marks = {"insert": "{{+{}+}}", "delete": "[-{}-]", "equal": "{}"}
        passage = "".join(marks[op].format(t) for op, t in _diff_segments(change))
        lines += ["", "Changed passage ([-deleted-] {+inserted+}):", "  " + passage.strip()]
    lines += ["", "-- ", _footer(change)]
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------


def escape_html(s: str) -> str:
    """Escape text for HTML, quotes included (safe in attributes too)."""
    return html.escape(s, quote=True)


def _html_report(label: str, r: Report) -> str:
    source, title, date = _cite_parts(r)
    url = safe_url(r.url)
    shown = escape_html(title or url or "")
    link = f'<a href="{escape_html(url)}">{shown}</a>' if url else shown
    value = escape_html(one_line(r.value))
    out = [f"<p><strong>{escape_html(label)}:</strong> {value}</p>" if label
           else f"<p><b>{value}</b></p>"]
    if r.sentence.strip():
        out.append(
            '<blockquote style="margin:0 0 0 1em;padding-left:.8em;border-left:3px solid #ccc">'
            f"{escape_html(one_line(r.sentence))}</blockquote>"
        )
    dated = f" ({escape_html(date)})" if date else ""
    out.append(f"<p>— {escape_html(source)}: {link}{dated}</p>")
    return "\n".join(out)


def _html(change: ChangeRecord, subject: str) -> str:
    new_label, old_label = _labels(change)
    body = [f"<h2>{escape_html(subject)}</h2>", _html_report(new_label, change.new)]
    if change.old:
        body.append(_html_report(old_label, change.old))
    if change.corroborating:
        items = "".join(f"<li>{_html_report('', r)}</li>" for r in change.corroborating)
        body.append(f"<h3>Corroborated by</h3>\n<ul>{items}</ul>")
    if change.diff:
        tags = {
            "insert": '<ins style="background:#dfd">{}</ins>',
            "delete": '<del style="background:#fdd">{}</del>',
            "equal": "{}",
        }
        passage = "".join(tags[op].format(escape_html(t)) for op, t in _diff_segments(change))
        body.append(f"<h3>Changed passage</h3>\n<p>{passage}</p>")
    body.append(f'<p style="color:#666;font-size:smaller">{escape_html(_footer(change))}</p>')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape_html(subject)}</title></head>\n"
        '<body style="font-family:sans-serif">\n' + "\n".join(body) + "\n</body></html>\n"
    )


# -- Slack ----------------------------------------------------------------------------------


def mrkdwn(s: str) -> str:
    """Escape untrusted text for Slack mrkdwn (already cleaned to one line)."""
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u200b\\1", s)


def slack_link(url: str, label: str) -> str:
    """A Slack mrkdwn link to a safe URL (see :func:`safe_url`), its label escaped."""
    target = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E")
    return f"<{target.replace('|', '%7C')}|{mrkdwn(label)}>"


def _slack_cite(r: Report) -> str:
    source, title, date = _cite_parts(r)
    url = safe_url(r.url)
    shown = slack_link(url, title or url) if url else mrkdwn(title)
    return f"{mrkdwn(source)}: {shown}" + (f" ({mrkdwn(date)})" if date else "")


def slack_section(text: str) -> dict[str, Any]:
    """A Slack section block of mrkdwn text, cut to Slack's limit at a line end."""
    if len(text) > _SLACK_SECTION_MAX:  # cut at a line end so no link is left half-open
        text = text[: _SLACK_SECTION_MAX - 2].rsplit("\n", 1)[0] + "\n…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack_report(label: str, r: Report) -> str:
    lines = [f"*{mrkdwn(label)}:* {mrkdwn(one_line(r.value))}"]
    if r.sentence.strip():
        lines.append(f"> {mrkdwn(one_line(r.sentence))}")
    lines.append(_slack_cite(r))
    return "\n".join(lines)


def _slack_blocks(change: ChangeRecord, subject: str) -> list[dict[str, Any]]:
    new_label, old_label = _labels(change)
    blocks = [slack_section(f"*{mrkdwn(subject)}*"),
              slack_section(_slack_report(new_label, change.new))]
    if change.old:
        blocks.append(slack_section(_slack_report(old_label, change.old)))
    if change.corroborating:
        shown = change.corroborating[:_SLACK_CORROBORATING_MAX]
        lines = [f"• {mrkdwn(one_line(r.value))} — {_slack_cite(r)}" for r in shown]
        if len(change.corroborating) > len(shown):
            lines.append(f"… and {len(change.corroborating) - len(shown)} more")
        blocks.append(slack_section("*Corroborated by:*\n" + "\n".join(lines)))
    if change.diff:
        marks = {"insert": "*{}*", "delete": "~{}~", "equal": "{}"}
        pieces, prev = [], "equal"
        for op, t in _diff_segments(change):
            if op != "equal" and prev != "equal":
                pieces.append(" ")  # ~old~*new* would not render as formatting
            pieces.append(_around(marks[op], mrkdwn(t)))
            prev = op
        passage = "".join(pieces)
        blocks.append(slack_section("*Changed passage:*\n" + passage.strip()))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(_footer(change))}]}
    )
    return blocks


def _around(mark: str, t: str) -> str:
    """Apply ``mark`` to ``t`` without its outer spaces (``*x*`` needs no inner padding)."""
    core = t.strip()
    if not core:
        return t
    start = t.index(core)
    return t[:start] + mark.format(core) + t[start + len(core) :]


def _slack_text(change: ChangeRecord, subject: str) -> str:
    source, _, _ = _cite_parts(change.new)
    return f"{mrkdwn(subject)} ({mrkdwn(source)})"


# -- sample ---------------------------------------------------------------------------------


def trial_change(tracker: str = "sample-tracker", title: str = "Sample tracker",
                 kind: str = "troops", story: str = "") -> ChangeRecord:
    """A clearly marked test change for ``alerts test``, about one of the user's trackers
    (or a neutral sample): made-up values, example.org links, nothing that reads as news."""
    old, new = {"timeline": ("Sep 2025", "Dec 2025"),
                "members": ("~80", "~60")}.get(kind, ("~1,000", "~900"))
    base = "https://example.org/newswatch-test"

    def report(value: str, which: str) -> Report:
        return Report(
            value=value,
            sentence=f"Test alert: a made-up {which} value ({value}) of {title}; "
                     "no report said this.",
            source="newswatch-test", title=f"newswatch test alert ({which} value)",
            url=f"{base}/{which}", published=None)

    return ChangeRecord(
        change_id=0, story=story, tracker=tracker, tracker_title=title, kind=kind,
        type="test", old=report(old, "old"), new=report(new, "new"), corroborating=(),
        detected_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
