"""Tests for alerts.render: subject, text, HTML and Slack output, and hostile input."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.changes import sample_change

from alerts.render import ChangeRecord, Report, make_message_id, render

MID = "<alert-1-abc@newswatch>"


def _report(**kw: str | None) -> Report:
    base = dict(
        value="<2,000",
        sentence="The US has fewer than 2,000 troops in Iraq.",
        source="state-briefings",
        title="Department Press Briefing",
        url="https://www.state.gov/briefings/x/",
        published="2025-09-12",
    )
    base.update(kw)
    return Report(**base)  # type: ignore[arg-type]


def _change(**kw: object) -> ChangeRecord:
    fields: dict[str, object] = {"type": "change", "change_id": 7, **kw}
    return replace(sample_change(), **fields)  # type: ignore[arg-type]


class _Links(HTMLParser):
    """Collects the tags and hrefs of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_change_subject_text_html_slack() -> None:
    msg = render(_change(), MID)
    assert msg.subject == "US troops in Iraq: ~2,500 → <2,000"
    assert msg.message_id == MID
    text = msg.text
    assert "New value: <2,000" in text
    assert '"The United States now has fewer than 2,000 troops in Iraq' in text
    assert "Previous value: ~2,500" in text
    assert (
        "defense-releases: Secretary of Defense Meets With Iraqi Counterpart (2025-03-04)" in text
    )
    assert "https://www.state.gov/briefings/department-press-briefing-september-12-2025/" in text
    assert "Corroborated by:" in text and "aljazeera" in text
    assert "change #7" in text
    links = _parse(msg.html)
    assert "https://www.aljazeera.com/news/2025/9/13/us-begins-drawdown-of-troops-from-iraq" in (
        links.hrefs
    )
    assert "&lt;2,000" in msg.html and "<2,000" not in msg.html
    assert "US troops in Iraq: ~2,500 → &lt;2,000" in msg.slack_text
    dumped = json.dumps(msg.slack_blocks)
    assert (
        "<https://www.state.gov/briefings/department-press-briefing-september-12-2025/|" in dumped
    )
    assert all(b["type"] in ("section", "context") for b in msg.slack_blocks)


def test_revision_shows_diff_in_every_format() -> None:
    diff = (
        ("equal", "There are "),
        ("delete", "about 2,500"),
        ("insert", "fewer than 2,000"),
        ("equal", " troops in Iraq."),
    )
    msg = render(_change(type="revision", diff=diff), MID)
    assert "revised" in msg.subject
    assert "There are [-about 2,500-]{+fewer than 2,000+} troops in Iraq." in msg.text
    assert "<del" in msg.html and "<ins" in msg.html
    assert "about 2,500</del>" in msg.html and "fewer than 2,000</ins>" in msg.html
    assert "There are ~about 2,500~ *fewer than 2,000* troops" in json.dumps(msg.slack_blocks)


def test_conflict_and_test_subjects() -> None:
    conflict = render(_change(type="conflict", new=_report(value="~2,500")), MID)
    assert conflict.subject.startswith("US troops in Iraq: stale report says ~2,500")
    assert "Stale report: ~2,500" in conflict.text and "Current value:" in conflict.text
    sample = render(sample_change(), MID)
    assert sample.subject == "[test] US troops in Iraq: ~2,500 → <2,000"


def test_no_old_value_and_long_diff_are_shortened() -> None:
    diff = (("equal", "x" * 500), ("insert", "new"), ("equal", "y" * 500))
    msg = render(_change(old=None, diff=diff), MID)
    assert msg.subject == "US troops in Iraq: <2,000"
    assert "Previous value" not in msg.text
    assert "x" * 81 not in msg.text and "{+new+}" in msg.text


HOSTILE = _report(
    value="<script>alert(1)</script>",
    sentence="Click <http://evil.example|here> <!channel> @here & <b>bold</b>\n\nSecond line",
    source="state-briefings",
    title="Title\r\nBcc: victim@example.org\n<!channel> <http://evil.example|click>",
    url="javascript:alert(document.cookie)",
    published="2025-09-12\n<script>",
)


def test_hostile_input_is_escaped_everywhere() -> None:
    change = _change(
        tracker_title="Troops <script>x</script>\nnext",
        new=HOSTILE,
        corroborating=(replace(HOSTILE, url='https://ok.example/"onmouseover="x'),),
        diff=(("equal", "<!channel> "), ("insert", "<http://evil.example|x>")),
    )
    msg = render(change, MID)
    # subject: one line, whatever the input held
    assert "\n" not in msg.subject and "\r" not in msg.subject
    assert msg.text.splitlines()[0] == msg.subject
    # HTML: nothing from the web is markup, no javascript: link
    assert "<script" not in msg.html
    parsed = _parse(msg.html)
    assert set(parsed.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "body",
        "h2",
        "h3",
        "p",
        "strong",
        "b",
        "blockquote",
        "a",
        "ul",
        "li",
        "del",
        "ins",
    }
    assert parsed.hrefs == [  # the old report's link and the corroborating one, still quoted
        "https://www.defense.gov/News/Releases/Release/Article/4101234/",
        'https://ok.example/"onmouseover="x',
    ]
    assert 'href="https://ok.example/&quot;onmouseover=&quot;x"' in msg.html
    assert "javascript:" not in " ".join(parsed.hrefs)
    # plain text: the non-http link is not shown as a link
    assert "javascript:" not in msg.text and "link omitted" in msg.text
    # Slack: no raw special sequences, no injected links, mentions defused
    for slack in (msg.slack_text, json.dumps(msg.slack_blocks, ensure_ascii=False)):
        assert "<!channel>" not in slack
        assert "<http://evil" not in slack
        assert "<script" not in slack
        assert not re.search(r"(?<![\w&])@here\b", slack)
    links = re.findall(r"<([^>|]*)\|", json.dumps(msg.slack_blocks, ensure_ascii=False))
    assert links == [  # only the http(s) ones
        "https://www.defense.gov/News/Releases/Release/Article/4101234/",
        'https://ok.example/\\"onmouseover=\\"x',
    ]


def test_message_id_is_deterministic_per_alert() -> None:
    change = _change()
    assert make_message_id(1, change) == make_message_id(1, change)
    assert make_message_id(1, change) != make_message_id(2, change)
    assert re.fullmatch(r"<alert-1-[0-9a-f]{12}@newswatch>", make_message_id(1, change))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "//evil",
        "http:///x",
        "https://x.example/\nX: y",
        "ftp://x.example/",
    ],
)
def test_only_http_links(url: str) -> None:
    msg = render(_change(new=_report(url=url), corroborating=()), MID)
    assert url.strip() not in " ".join(_parse(msg.html).hrefs)
    assert url not in json.dumps(msg.slack_blocks)


@given(
    title=st.text(max_size=60),
    value=st.text(max_size=20),
    sentence=st.text(max_size=80),
)
def test_any_text_stays_inert(title: str, value: str, sentence: str) -> None:
    report = _report(value=value, title=title, sentence=sentence)
    msg = render(_change(tracker_title=title, new=report, corroborating=()), MID)
    assert "\n" not in msg.subject and "\r" not in msg.subject
    parsed = _parse(msg.html)
    assert parsed.tags.count("a") == 2  # the new and old report's links, nothing injected
    for slack in (msg.slack_text, json.dumps(msg.slack_blocks, ensure_ascii=False)):
        assert "<!" not in slack
        assert slack.count("<http") == (0 if slack is msg.slack_text else 2)
