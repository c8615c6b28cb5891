"""A digest: one message per period listing what happened, for every channel.

Plain data in (:class:`Digest`), a :class:`~alerts.render.Message` out; web text is
cleaned, escaped for HTML and Slack exactly as single alerts are (see ``render``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from alerts.render import (
    Message,
    escape_html,
    mrkdwn,
    one_line,
    safe_url,
    slack_link,
    slack_section,
)

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
    new = one_line(item.new, 60)
    return f"{one_line(item.old, 60)} → {new}" if item.old else new


def _counts(digest: Digest) -> str:
    parts = []
    for key, title in SECTIONS:
        n = sum(i.section == key for i in digest.items)
        if n:
            parts.append(f"{n} {title.lower()}")
    return ", ".join(parts) or "nothing new"


def render_digest(digest: Digest, message_id: str) -> Message:
    """The digest as plain text, HTML and Slack blocks."""
    period = (f"{one_line(digest.start[:16])} – {one_line(digest.end[:16])} "
              f"({one_line(digest.timezone)})")
    subject = one_line(f"newswatch digest {digest.end[:10]}: {_counts(digest)}", 250)
    text = [subject, period, ""]
    html = [f"<h2>{escape_html(subject)}</h2>", f"<p>{escape_html(period)}</p>"]
    blocks: list[dict[str, Any]] = [slack_section(f"*{mrkdwn(subject)}*\n{mrkdwn(period)}")]
    for key, title in SECTIONS:
        items = [i for i in digest.items if i.section == key]
        if not items:
            continue
        text += [f"{title}:"]
        html += [f"<h3>{escape_html(title)}</h3>", "<ul>"]
        lines = [f"*{mrkdwn(title)}*"]
        for i in items:
            url = safe_url(i.url)
            also = f" (+{i.corroborations} corroborating)" if i.corroborations else ""
            head = f"{one_line(i.tracker_title, 120)}: {_move(i)}{also}"
            cite = f"{one_line(i.source)}, {one_line(i.title, 200)}" + (
                f", {one_line(i.published)[:10]}" if i.published else "")
            text += [f"- {head}", f"  «{one_line(i.sentence, 400)}»", f"  {cite} {url or ''}"]
            shown_title = escape_html(one_line(i.title, 200))
            link = f'<a href="{escape_html(url)}">{shown_title}</a>' if url else shown_title
            html.append(f"<li><b>{escape_html(head)}</b><br>"
                        f"<q>{escape_html(one_line(i.sentence, 400))}</q><br>"
                        f"{escape_html(one_line(i.source))}: {link}</li>")
            shown = slack_link(url, one_line(i.title, 200)) if url else mrkdwn(one_line(i.title))
            lines.append(f"• {mrkdwn(head)} — {mrkdwn(one_line(i.source))}: {shown}")
        text.append("")
        html.append("</ul>")
        blocks.append(slack_section("\n".join(lines)))
    if not digest.items:
        text.append("Nothing changed in this period.")
        html.append("<p>Nothing changed in this period.</p>")
    return Message(subject=subject, text="\n".join(text) + "\n",
                   html="<html><body>" + "".join(html) + "</body></html>",
                   slack_text=mrkdwn(subject), slack_blocks=blocks, message_id=message_id)
