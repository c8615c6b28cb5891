"""A digest: one message per period listing what happened, for every channel.

Plain data in (:class:`Digest`), a :class:`~alerts.render.Message` out; web text is
cleaned, escaped for HTML and Slack exactly as single alerts are (see ``render``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from alerts.render import Message, _e, _line, _mrkdwn, _safe_url, _section, _slack_link

# section order and titles: what an analyst reads first
SECTIONS = (
    ("change", "Changes"),
    ("revision", "Revised articles"),
    ("unconfirmed", "Waiting for confirmation"),
    ("conflict", "Stale reports (conflicts)"),
)


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest: a change, a revision, an unconfirmed change or a conflict."""

    section: str  # one of SECTIONS' keys
    tracker_title: str
    old: str | None
    new: str
    sentence: str
    source: str
    title: str
    url: str
    published: str | None
    corroborations: int = 0


@dataclass(frozen=True)
class Digest:
    """What happened between ``start`` and ``end`` (ISO times, shown in ``timezone``)."""

    start: str
    end: str
    timezone: str
    items: tuple[DigestItem, ...]


def make_digest_message_id(alert_id: int, digest: Digest) -> str:
    key = f"{digest.start}\0{digest.end}"
    return f"<digest-{alert_id}-{hashlib.sha256(key.encode()).hexdigest()[:12]}@newswatch>"


def _move(item: DigestItem) -> str:
    return f"{_line(item.old, 60)} → {_line(item.new, 60)}" if item.old else _line(item.new, 60)


def _counts(digest: Digest) -> str:
    parts = []
    for key, title in SECTIONS:
        n = sum(i.section == key for i in digest.items)
        if n:
            parts.append(f"{n} {title.lower()}")
    return ", ".join(parts) or "nothing new"


def render_digest(digest: Digest, message_id: str) -> Message:
    """The digest as plain text, HTML and Slack blocks."""
    period = f"{_line(digest.start[:16])} – {_line(digest.end[:16])} ({_line(digest.timezone)})"
    subject = _line(f"newswatch digest {digest.end[:10]}: {_counts(digest)}", 250)
    text = [subject, period, ""]
    html = [f"<h2>{_e(subject)}</h2>", f"<p>{_e(period)}</p>"]
    blocks: list[dict[str, Any]] = [_section(f"*{_mrkdwn(subject)}*\n{_mrkdwn(period)}")]
    for key, title in SECTIONS:
        items = [i for i in digest.items if i.section == key]
        if not items:
            continue
        text += [f"{title}:"]
        html += [f"<h3>{_e(title)}</h3>", "<ul>"]
        lines = [f"*{_mrkdwn(title)}*"]
        for i in items:
            url = _safe_url(i.url)
            also = f" (+{i.corroborations} corroborating)" if i.corroborations else ""
            head = f"{_line(i.tracker_title, 120)}: {_move(i)}{also}"
            cite = f"{_line(i.source)}, {_line(i.title, 200)}" + (
                f", {_line(i.published)[:10]}" if i.published else "")
            text += [f"- {head}", f"  «{_line(i.sentence, 400)}»", f"  {cite} {url or ''}"]
            link = f'<a href="{_e(url)}">{_e(_line(i.title, 200))}</a>' if url else _e(
                _line(i.title, 200))
            html.append(f"<li><b>{_e(head)}</b><br><q>{_e(_line(i.sentence, 400))}</q><br>"
                        f"{_e(_line(i.source))}: {link}</li>")
            shown = _slack_link(url, _line(i.title, 200)) if url else _mrkdwn(_line(i.title))
            lines.append(f"• {_mrkdwn(head)} — {_mrkdwn(_line(i.source))}: {shown}")
        text.append("")
        html.append("</ul>")
        blocks.append(_section("\n".join(lines)))
    if not digest.items:
        text.append("Nothing changed in this period.")
        html.append("<p>Nothing changed in this period.</p>")
    return Message(subject=subject, text="\n".join(text) + "\n",
                   html="<html><body>" + "".join(html) + "</body></html>",
                   slack_text=_mrkdwn(subject), slack_blocks=blocks, message_id=message_id)
