"""Tests for crawler.facts.extract: table-driven cases, trackers, and Hypothesis properties."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.config.model import Tracker
from crawler.facts.extract import extract_facts
from crawler.facts.model import Fact
from crawler.facts.numbers import parse_number
from crawler.facts.sentences import split_sentences
from crawler.facts.trackers import assign_trackers

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "facts_cases.yaml").read_text())
VALUE_FORMS = {
    "troops": re.compile(
        r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?|%)?|hundreds|thousands|dozens|tens of thousands"
    ),
    "members": re.compile(r"\d+(?:-\d+)?"),
    "timeline": re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?"),
}


def _date(value: Any) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _check_invariants(text: str, facts: list[Fact]) -> None:
    for f in facts:
        assert text[f.start : f.end] == f.raw
        assert f.raw in f.sentence and f.sentence in text
        assert VALUE_FORMS[f.kind].fullmatch(f.value), f.value
        if f.low is not None and f.high is not None:
            assert f.low <= f.high
        if f.number is not None and f.low is not None:
            assert f.low <= f.number
        if f.number is not None and f.high is not None:
            assert f.number <= f.high
        assert f.display()


# --- table-driven cases ---------------------------------------------------------------


@pytest.mark.parametrize("case", CASES["extract"], ids=[c["id"] for c in CASES["extract"]])
def test_extract_case(case: dict[str, Any]) -> None:
    text = case["text"]
    facts = extract_facts(text, _date(case.get("date")))
    assert [(f.kind, f.value) for f in facts] == [
        (e["kind"], str(e["value"])) for e in case["expect"]
    ]
    for want, got in zip(case["expect"], facts, strict=True):
        for key, value in want.items():
            actual = got.display() if key == "display" else getattr(got, key)
            if key == "value":
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert actual == pytest.approx(value), key
            else:
                assert actual == (None if value is None else str(value)), key
    _check_invariants(text, facts)


# --- articles, sentences, offsets -----------------------------------------------------

ARTICLE = (
    "US to cut troops in Iraq\n\n"
    "WASHINGTON (Reuters) - The U.S. military said on Tuesday that it has about 2,500 troops in "
    "Iraq. Gen. Smith said the coalition mission would end by September 2025.\n\n"
    "Dr. Jones, a former official, noted that the Sept. 27 statement set the plan. "
    "The U.S. also has 900 troops in Syria!\n"
)


def test_article_offsets_and_sentences() -> None:
    facts = extract_facts(ARTICLE, datetime.date(2024, 9, 30))
    assert [(f.kind, f.value) for f in facts] == [
        ("troops", "2500"),
        ("timeline", "2025-09"),
        ("troops", "900"),
    ]
    _check_invariants(ARTICLE, facts)
    assert facts[1].sentence == "Gen. Smith said the coalition mission would end by September 2025."
    assert facts[2].sentence == "The U.S. also has 900 troops in Syria!"


def test_split_sentences_respects_abbreviations_and_paragraphs() -> None:
    spans = split_sentences(ARTICLE)
    sentences = [ARTICLE[a:b] for a, b, _ in spans]
    assert sentences[0] == "US to cut troops in Iraq"
    assert sentences[2].startswith("Gen. Smith said")
    assert sentences[3].startswith("Dr. Jones, a former official, noted that the Sept. 27")
    assert [p for _, _, p in spans] == [0, 1, 1, 2, 2]


def test_fact_is_frozen_and_open_bounds() -> None:
    more, fewer, least = (
        extract_facts(t)[0]
        for t in ("More than 80 troops.", "Fewer than 2,000 troops.", "At least 80 troops.")
    )
    assert (more.low, more.high, more.low_open) == (80, None, True)
    assert (fewer.low, fewer.high, fewer.high_open, fewer.number) == (0, 2000, True, 2000)
    assert least.low_open is False
    with pytest.raises(AttributeError):
        more.value = "1"  # type: ignore[misc]


# --- trackers -------------------------------------------------------------------------

IRAQ = Tracker(name="iraq-troops", kind="troops", about=("Iraq",), not_about=("Syria",))
SYRIA = Tracker(name="syria-troops", kind="troops", about=("Syria",))
ANY_MEMBERS = Tracker(name="members", kind="members")
MISSION_END = Tracker(
    name="mission-end",
    kind="timeline",
    about=("Iraq", "coalition"),
    cues=("end", "conclude", "until"),
)
WITHDRAWAL_START = Tracker(
    name="withdrawal-start", kind="timeline", about=("Iraq",), cues=("begin", "commence", "start")
)
TRACKERS = [IRAQ, SYRIA, ANY_MEMBERS, MISSION_END, WITHDRAWAL_START]

TRACKER_CASES = [
    (
        "same-sentence-not-about-closer",
        "The US has approximately 2,500 troops in Iraq and 900 in neighbouring Syria.",
        [("2500", "iraq-troops"), ("900", "syria-troops")],
    ),
    (
        "previous-sentence-of-paragraph",
        "The Pentagon briefed reporters on Syria. The US keeps about 900 troops there.",
        [("900", "syria-troops")],
    ),
    (
        "title-lede-fallback",
        "Drawdown in Iraq\n\nOfficials spoke on Friday.\n\nThe plan keeps 2,000 troops.",
        [("2000", "iraq-troops")],
    ),
    (
        "no-about-word-anywhere",
        "The plan keeps 2,000 troops, officials said.",
        [("2000", None)],
    ),
    (
        "empty-about-claims-any",
        "The coalition now has more than 80 members.",
        [("80", "members")],
    ),
    (
        "end-cue-not-begin",
        "The transition period in Iraq begins now and will end in September 2025.",
        [("2025-09", "mission-end")],
    ),
    (
        "begin-cue-stem",
        "The withdrawal from Iraq is set to commence in September 2025.",
        [("2025-09", "withdrawal-start")],
    ),
    (
        "end-cue-stem-concluding",
        "The coalition mission in Iraq is concluding by September 2026.",
        [("2026-09", "mission-end")],
    ),
    (
        "cue-outside-verbless-clause",
        "Forces will withdraw from Baghdad and other areas of Iraq by September 2025.",
        [("2025-09", None)],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in TRACKER_CASES], ids=[c[0] for c in TRACKER_CASES]
)
def test_assign_trackers(text: str, expected: list[tuple[str, str | None]]) -> None:
    facts = extract_facts(text, datetime.date(2024, 9, 1))
    assigned = assign_trackers(facts, text, TRACKERS)
    assert [(f.value, f.tracker) for f in assigned] == expected
    assert [dataclass_without_tracker(f) for f in assigned] == [
        dataclass_without_tracker(f) for f in facts
    ]


def dataclass_without_tracker(f: Fact) -> tuple[Any, ...]:
    return (f.kind, f.value, f.start, f.end, f.raw)


def test_timeline_tracker_needs_a_cue_word() -> None:
    text = "The coalition mission in Iraq will end in September 2025."
    (fact,) = extract_facts(text)
    start_only = Tracker(name="start", kind="timeline", cues=("begin", "start"))
    no_cues = Tracker(name="any", kind="timeline")
    assert assign_trackers([fact], text, [start_only])[0].tracker is None
    assert assign_trackers([fact], text, [start_only, no_cues])[0].tracker == "any"


# --- Hypothesis properties ------------------------------------------------------------

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def to_words(n: int) -> str:
    """English words for 1 <= n < 1,000,000 ("two thousand five hundred")."""

    def below_thousand(k: int) -> list[str]:
        out: list[str] = []
        if k >= 100:
            out += [_ONES[k // 100], "hundred"]
            k %= 100
        if k >= 20:
            out.append(_TENS[k // 10] + (f"-{_ONES[k % 10]}" if k % 10 else ""))
        elif k:
            out.append(_ONES[k])
        return out

    thousands, rest = divmod(n, 1000)
    words = (below_thousand(thousands) + ["thousand"]) if thousands else []
    return " ".join(words + below_thousand(rest))


def number_forms(n: int) -> list[str]:
    forms = [str(n), f"{n:,}", f"{n:,}".replace(",", " "), to_words(n)]
    if n >= 1000 and n % 100 == 0:
        forms.append(f"{n / 1000:g}k")
    return forms


counts = st.integers(min_value=1, max_value=999_999)


@given(counts)
def test_number_forms_round_trip(n: int) -> None:
    for form in number_forms(n):
        assert parse_number(form) == n, form


@given(counts, st.sampled_from(["troops", "U.S. soldiers", "coalition personnel"]))
@settings(max_examples=60)
def test_number_forms_extract_as_troops(n: int, noun: str) -> None:
    for form in number_forms(n):
        text = f"Officials say the US has {form} {noun} in the country."
        facts = extract_facts(text)
        assert [(f.kind, f.value) for f in facts] == [("troops", str(n))], form
        _check_invariants(text, facts)


def test_parse_number_rejects_malformed() -> None:
    for bad in ("2,50", "two three", "twenty twenty", "1,0000", "troops", ""):
        assert parse_number(bad) is None, bad


_TOKENS = st.sampled_from(
    "2,500|2500|2 500|2.5k|two thousand|four|250|to|-|–|between|and|about|fewer than|"
    "more than|troops|U.S.|personnel|members|countries|coalition|by|until|the end of|mid-2025|"
    "September|2026|Sept.|15,|next|year|withdrawal|mission|will end in|from|killed|$|percent|"
    "%|.|,|\n|\n\n|Gen.|Dr.|“|”|(|)|Iraq".split("|")
)


@given(st.lists(_TOKENS, max_size=40), st.none() | st.dates())
@example(["troops", "will end in", "September"], datetime.date(999, 1, 1))  # 3-digit year
@settings(max_examples=300)
def test_token_soup_never_crashes_and_offsets_hold(tokens: list[str], date: Any) -> None:
    text = " ".join(tokens)
    facts = extract_facts(text, date)
    _check_invariants(text, facts)
    assigned = assign_trackers(facts, text, TRACKERS)
    assert len(assigned) == len(facts)


@given(st.text(max_size=300), st.none() | st.dates())
@settings(max_examples=200)
def test_arbitrary_text_never_crashes(text: str, date: Any) -> None:
    facts = extract_facts(text, date)
    _check_invariants(text, facts)
    assign_trackers(facts, text, TRACKERS)
