"""Trackers follow subjects: the shipped config's trackers on sentences of each kind.

Base vs country, Syria or the region vs Iraq, planned vs current, phase 1 vs phase 2,
flows and shares vs levels. (Sentences written for these tests, not taken from reports.)
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from crawler.config.model import ConfigError, load_config, parse_config
from crawler.facts.extract import extract_facts
from crawler.facts.trackers import assign_trackers

SHIPPED = Path(__file__).resolve().parent.parent / "config.yaml"
TRACKERS = load_config(SHIPPED, environ={}).stories[0].trackers

CASES = [
    # (sentence, raw figure, tracker or None)
    ("The Pentagon says about 2,500 US troops are deployed in Iraq.", "2,500",
     "us-troops-iraq"),
    ("Roughly 1,800 American soldiers remain stationed at Ain al-Asad air base.", "1,800",
     None),  # one base is not the country
    ("Washington keeps about 1,200 troops in neighbouring Syria.", "1,200", None),
    ("Some 40,000 US personnel serve across the Middle East under CENTCOM.", "40,000", None),
    ("American forces will shrink their footprint in Erbil to fewer than 400 personnel by "
     "March 2027.", "400", "us-troops-iraq-planned"),
    ("The Pentagon will withdraw about 700 troops from Iraq this winter.", "700", None),
    ("The United States has reduced its troops in Iraq by about 15 percent.", "15", None),
    ("At the height of the surge, the United States had 160,000 troops in Iraq.", "160,000",
     None),  # a historical level
    ("The international coalition's mission in federal Iraq will conclude in September 2027, "
     "ending the first phase.", "September 2027", "mission-end-federal-iraq"),
    ("In the second phase, coalition forces will leave the Kurdistan Region by June 2028.",
     "June 2028", "presence-end"),
    ("The coalition will keep supporting operations in Syria from Iraq until March 2028.",
     "March 2028", "presence-end"),
    ("The Global Coalition to Defeat ISIS grew to 91 members this year.", "91",
     "coalition-members"),
]


@pytest.mark.parametrize("sentence,raw,tracker", CASES, ids=[c[1] for c in CASES])
def test_shipped_trackers_follow_subjects(sentence: str, raw: str, tracker: str | None) -> None:
    facts = assign_trackers(extract_facts(sentence, datetime.date(2026, 1, 15)), sentence,
                            TRACKERS)
    found = [f for f in facts if raw in f.raw]
    assert found, f"{raw!r} not extracted"  # every case states its figure
    assert {f.tracker for f in found} == {tracker}, \
        [(f.raw, f.role, f.actor, f.place, f.event) for f in facts]


def test_round_one_tracker_keys_keep_working() -> None:
    """A tracker written for round 1 (kind, about, not_about, cues) gets documented defaults:
    the current level, the place its `about` names."""
    config = parse_config(
        "sources: [{name: s, type: feed, url: 'http://example.org/f'}]\n"
        "stories:\n  - name: st\n    match: {all: [Iraq]}\n    trackers:\n"
        "      - {name: old, kind: troops, about: [Iraq, Iraqi, Erbil], not_about: [Syria]}\n"
        "      - {name: end, kind: timeline, about: [coalition], cues: [end]}\n",
        Path("config.yaml"), environ={})
    old, end = config.stories[0].trackers
    assert (old.role, old.place, old.within) == ("current", "iraq", False)
    assert (end.role, end.place, end.events) == (None, None, ())
    text = "The US has 2,500 troops in Iraq. Another 300 US troops are based in Erbil."
    facts = assign_trackers(extract_facts(text), text, [old])
    assert [(f.raw, f.tracker) for f in facts if f.kind == "troops"] == [
        ("2,500 troops", "old"), ("300 US troops", None)]


@pytest.mark.parametrize("line,message", [
    ("{name: t, kind: troops, role: target}", "role: expected one of current, planned"),
    ("{name: t, kind: troops, place: Atlantis}", "place: expected a place the extractor knows"),
    ("{name: t, kind: timeline, event: finish}", "event: expected one or more of start"),
    ("{name: t, kind: timeline, role: current}", "role: expected no role"),
    ("{name: t, kind: members, actor: [aliens]}", "actor: expected one or more of us"),
])
def test_bad_subject_keys_are_config_errors(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config("sources: [{name: s, type: feed, url: 'http://example.org/f'}]\n"
                     f"stories: [{{name: st, trackers: [{line}]}}]\n", Path("c.yaml"), environ={})
