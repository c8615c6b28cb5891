"""Table-driven tests for crawler.facts.subjects.annotate and places.place_matches.

Every sentence here was written for these tests (none is copied from the development set).
Each case states the fields it expects exactly, so a wrong role, place, actor, event, tense
or phase fails it.
"""

from __future__ import annotations

import datetime

import pytest

from crawler.facts.model import Actor, Event, Role, Tense
from crawler.facts.places import place_matches
from crawler.facts.subjects import Subject, annotate

D = datetime.date
IRAQ, SYRIA, CENTCOM = ("iraq",), ("syria",), ("centcom",)
ERBIL, KRI = ("iraq", "kurdistan", "erbil"), ("iraq", "kurdistan")
ASAD, BAGHDAD, FEDERAL = ("iraq", "ain-al-asad"), ("iraq", "baghdad"), ("iraq", "federal")
CUR, PLAN, HIST, MOVED, REL = Role.CURRENT, Role.PLANNED, Role.HISTORICAL, Role.MOVED, Role.RELATIVE
US, COAL, OTHER, UNK = Actor.US, Actor.COALITION, Actor.OTHER, Actor.UNKNOWN
PAST, PRESENT, FUTURE = Tense.PAST, Tense.PRESENT, Tense.FUTURE

# (id, kind, sentence, raw, context, published, expected fields)
CASES = [
    # --- a base or region is not the country ------------------------------------------
    ("base-erbil", "troops", "Roughly 1,200 American troops are based at the Erbil air base.",
     "1,200 American troops", "", None, dict(role=CUR, actor=US, place=ERBIL)),
    ("country", "troops", "About 3,000 U.S. service members are deployed in Iraq.",
     "About 3,000 U.S. service members", "", None,
     dict(role=CUR, actor=US, place=IRAQ, tense=PRESENT)),
    ("country-of-total", "troops",
     "Of the roughly 2,500 U.S. troops in Iraq, about 1,000 are in Erbil.",
     "roughly 2,500 U.S. troops", "", None, dict(role=CUR, place=IRAQ)),
    ("base-of-total", "troops",
     "Of the roughly 2,500 U.S. troops in Iraq, about 1,000 are in Erbil.",
     "about 1,000", "", None, dict(role=CUR, actor=US, place=ERBIL)),
    ("the-base-from-context", "troops", "About 900 U.S. troops remain at the base, officials said.",
     "About 900 U.S. troops", "Troops leave Al Asad air base", None, dict(role=CUR, place=ASAD)),
    ("region-kri", "troops", "Some 2,000 American soldiers are stationed in the Kurdistan Region.",
     "Some 2,000 American soldiers", "", None, dict(role=CUR, actor=US, place=KRI)),
    ("green-zone", "troops",
     "Fewer than 50 U.S. personnel stay inside the Green Zone to guard diplomats.",
     "Fewer than 50 U.S. personnel", "", None, dict(role=CUR, place=BAGHDAD)),
    ("the-country-from-context", "troops",
     "There are still about 2,000 U.S. troops in the country.",
     "about 2,000 U.S. troops", "Drawdown in Iraq slows", None, dict(role=CUR, place=IRAQ)),
    # --- Syria or the whole region is not Iraq ------------------------------------------
    ("iraq-then-syria-1", "troops",
     "Washington keeps 2,000 soldiers in Iraq and about 1,000 in Syria.",
     "2,000 soldiers", "", None, dict(role=CUR, actor=US, place=IRAQ)),
    ("iraq-then-syria-2", "troops",
     "Washington keeps 2,000 soldiers in Iraq and about 1,000 in Syria.",
     "about 1,000", "", None, dict(role=CUR, actor=US, place=SYRIA)),
    ("syria-there", "troops",
     "The Pentagon will pull 400 troops out of Syria, leaving about 1,100 there.",
     "about 1,100", "", None, dict(place=SYRIA)),
    ("syria-flow", "troops",
     "The Pentagon will pull 400 troops out of Syria, leaving about 1,100 there.",
     "400 troops", "", None, dict(role=MOVED, place=SYRIA)),
    ("two-countries", "troops", "The Pentagon has 3,400 troops in Iraq and Syria combined.",
     "3,400 troops", "", None, dict(role=CUR, place=CENTCOM)),
    ("middle-east", "troops", "There are some 40,000 U.S. troops across the Middle East.",
     "some 40,000 U.S. troops", "", None, dict(role=CUR, actor=US, place=CENTCOM)),
    ("the-region", "troops",
     "Central Command oversees roughly 45,000 American personnel in the region.",
     "roughly 45,000 American personnel", "", None, dict(actor=US, place=CENTCOM)),
    # --- planned vs current -------------------------------------------------------------
    ("plans-to-keep", "troops",
     "The United States plans to keep about 2,000 troops in Iraq through 2026.",
     "about 2,000 troops", "", D(2025, 3, 1), dict(role=PLAN, actor=US, place=IRAQ, tense=FUTURE)),
    ("currently-has", "troops", "The U.S. currently has 2,500 troops in Iraq.",
     "2,500 troops", "", None, dict(role=CUR, actor=US, place=IRAQ, tense=PRESENT)),
    ("will-shrink-to", "troops",
     "Under the deal, the force will shrink to fewer than 1,000 by the end of next year.",
     "fewer than 1,000", "US troops in Iraq", D(2025, 3, 1),
     dict(role=PLAN, actor=US, place=IRAQ)),
    ("to-x-by-future-date", "troops",
     "Officials described a reduction to fewer than 800 by March 2027.",
     "fewer than 800", "U.S. forces in Iraq", D(2026, 1, 10), dict(role=PLAN, place=IRAQ)),
    ("have-fallen-to", "troops",
     "U.S. troop numbers in Iraq have fallen to about 2,000, officials said.",
     "about 2,000", "", None, dict(role=CUR, actor=US, place=IRAQ)),
    ("planned-at-base", "troops",
     "The garrison in Erbil is expected to shrink to fewer than 300 by 2027.",
     "fewer than 300", "U.S. troops", D(2025, 12, 1), dict(role=PLAN, place=ERBIL)),
    ("will-remain-no-date", "troops",
     "Some 1,500 U.S. troops will remain in Iraq, the minister said.",
     "Some 1,500 U.S. troops", "", None, dict(role=CUR, place=IRAQ, tense=FUTURE)),
    ("will-remain-until", "troops",
     "Some 1,500 U.S. troops will remain in Iraq until September 2026.",
     "Some 1,500 U.S. troops", "", D(2025, 1, 5), dict(role=PLAN, place=IRAQ)),
    # --- historical ---------------------------------------------------------------------
    ("at-the-time", "troops", "At the time, the U.S. had about 5,200 troops in Iraq.",
     "about 5,200 troops", "", D(2025, 3, 1), dict(role=HIST, actor=US, place=IRAQ, tense=PAST)),
    ("years-ago", "troops", "Washington had 170,000 troops in the country a decade and a half ago.",
     "170,000 troops", "US forces in Iraq", None, dict(role=HIST, place=IRAQ)),
    ("from-x", "troops",
     "The American presence in Iraq fell from 5,000 to 2,500 over the past year.",
     "5,000", "", None, dict(role=HIST, place=IRAQ)),
    ("to-y", "troops", "The American presence in Iraq fell from 5,000 to 2,500 over the past year.",
     "2,500", "", None, dict(role=CUR, place=IRAQ)),
    ("down-from", "troops", "The U.S. troop level in Iraq is down from 5,200 in 2020.",
     "5,200", "", D(2024, 1, 1), dict(role=HIST)),
    ("dated-long-past", "troops", "In early 2024, the United States had some 2,500 troops in Iraq.",
     "some 2,500 troops", "", D(2025, 11, 1), dict(role=HIST, place=IRAQ)),
    ("as-of-last-month", "troops",
     "As of October 2025, the United States had some 2,500 troops in Iraq.",
     "some 2,500 troops", "", D(2025, 11, 1), dict(role=CUR, place=IRAQ)),
    ("from-countries-not-a-change", "members",
     "Troops from 12 countries are stationed at the base.",
     "12 countries", "Erbil air base", None, dict(role=CUR, actor=OTHER)),
    # --- flows: numbers moved are not levels --------------------------------------------
    ("withdraw-n", "troops", "The Pentagon will withdraw 600 troops from Iraq.",
     "600 troops", "", None, dict(role=MOVED, place=IRAQ)),
    ("n-leave", "troops", "Hundreds of soldiers left Ain al-Asad last week.",
     "Hundreds of soldiers", "", None, dict(role=MOVED, place=ASAD)),
    ("send-more", "troops", "The U.S. will send 1,000 more troops to Iraq.",
     "1,000 more troops", "", None, dict(role=MOVED)),
    ("moved-to", "troops", "About 500 U.S. troops moved to Erbil from Baghdad last month.",
     "About 500 U.S. troops", "", None, dict(role=MOVED)),
    ("the-n-leaving-is-a-level", "troops",
     "Officials expect the 2,500 U.S. troops in Iraq to leave by 2026.",
     "the 2,500 U.S. troops", "", D(2024, 10, 1), dict(role=CUR, actor=US, place=IRAQ)),
    # --- relative changes ---------------------------------------------------------------
    ("percent", "troops", "The plan would cut the number of American troops in Iraq by 20 percent.",
     "20 percent", "", None, dict(role=REL)),
    ("n-more-than", "troops", "There are now 500 more U.S. troops in Iraq than a year ago.",
     "500 more U.S. troops", "", None, dict(role=REL)),
    ("by-n", "troops", "The Pentagon will reduce its Iraq force by 500 over the summer.",
     "500", "", None, dict(role=REL)),
    # --- actors -------------------------------------------------------------------------
    ("other-nation", "troops", "Turkey keeps about 2,000 Turkish soldiers in northern Iraq.",
     "about 2,000 Turkish soldiers", "", None, dict(actor=OTHER, place=IRAQ)),
    ("us-and-allies", "troops", "Nearly 1,000 American and allied personnel are based in Erbil.",
     "Nearly 1,000 American and allied personnel", "", None,
     dict(role=CUR, actor=COAL, place=ERBIL)),
    ("pronoun-us", "troops", "Officials told us that 2,000 troops remain in the capital.",
     "2,000 troops", "", None, dict(actor=UNK)),
    ("militants", "troops", "An estimated 2,500 ISIS fighters remain in Syria.",
     "2,500 ISIS fighters", "", None, dict(actor=Actor.MILITANTS, place=SYRIA)),
    # --- members ------------------------------------------------------------------------
    ("members", "members", "The coalition now has 87 members.",
     "87 members", "", None, dict(role=CUR, actor=COAL)),
    ("new-members", "members", "Two new members joined the coalition this year.",
     "Two new members", "", None, dict(role=MOVED, actor=COAL)),
    # --- timelines ----------------------------------------------------------------------
    ("phase1-by-place", "timeline",
     "Coalition forces will leave Baghdad and Ain al-Asad by September 2025 and the "
     "Kurdistan Region by September 2026.",
     "by September 2025", "", D(2024, 10, 1),
     dict(event=Event.PHASE_END, place=ASAD, tense=FUTURE)),
    ("phase2-by-place", "timeline",
     "Coalition forces will leave Baghdad and Ain al-Asad by September 2025 and the "
     "Kurdistan Region by September 2026.",
     "by September 2026", "", D(2024, 10, 1), dict(event=Event.FINAL, place=KRI)),
    ("elsewhere", "timeline",
     "Coalition troops will keep supporting operations in Syria from Erbil until September "
     "2026.",
     "until September 2026", "", D(2024, 10, 1), dict(event=Event.ELSEWHERE)),
    ("start", "timeline", "The drawdown will begin in September 2025.",
     "in September 2025", "US troops in Iraq", D(2025, 3, 1),
     dict(event=Event.START, phase=0, tense=FUTURE)),
    ("start-phase2", "timeline",
     "The second phase starts in October 2025 and ends in September 2026.",
     "in October 2025", "US troops in Iraq", D(2025, 3, 1), dict(event=Event.START, phase=2)),
    ("end-phase2", "timeline",
     "The second phase starts in October 2025 and ends in September 2026.",
     "in September 2026", "US troops in Iraq", D(2025, 3, 1), dict(event=Event.FINAL, phase=2)),
    ("first-phase", "timeline", "The first phase of the transition runs until September 2025.",
     "until September 2025", "Iraq", D(2024, 10, 1), dict(event=Event.PHASE_END, phase=1)),
    ("nearer-phase-wins", "timeline",
     "Once the first phase is over the second phase will run until September 2026.",
     "until September 2026", "Iraq", D(2025, 3, 1), dict(event=Event.FINAL, phase=2)),
    ("called-for-past", "timeline",
     "The plan called for the coalition mission to end by September.",
     "by September", "Iraq", D(2025, 10, 10), dict(tense=PAST, role=CUR)),
    ("called-for-future", "timeline",
     "The plan called for the coalition mission to end by September.",
     "by September", "Iraq", D(2025, 6, 10), dict(tense=FUTURE, role=PLAN)),
    ("final", "timeline", "All remaining U.S. forces are to depart Iraq by the end of 2026.",
     "by the end of 2026", "", D(2025, 10, 10), dict(event=Event.FINAL, place=IRAQ)),
    # troops leaving the country with no part named: all of them
    ("final-troops-leave", "timeline",
     "Washington agreed to pull its soldiers out of Iraq by March 2028.",
     "by March 2028", "", D(2026, 1, 10), dict(event=Event.FINAL, place=IRAQ)),
    # a mission that "ends" with no phase named: which phase is the writer's guess
    ("bare-mission-end", "timeline",
     "Both governments discussed the expected conclusion of the coalition mission by June 2028.",
     "by June 2028", "", D(2026, 1, 10), dict(event=Event.END)),
    ("continues-after", "timeline",
     "The coalition mission in Iraq will end in September 2025, after which a smaller force "
     "will stay until September 2026.",
     "in September 2025", "", D(2024, 10, 1), dict(event=Event.PHASE_END)),
    ("federal-iraq", "timeline",
     "The withdrawal from federal Iraq is to be completed by September 2025.",
     "by September 2025", "", D(2024, 10, 1), dict(event=Event.PHASE_END, place=FEDERAL)),
    ("began-leaving", "timeline", "U.S. troops began leaving Ain al-Asad in August 2025.",
     "in August 2025", "", D(2025, 9, 1), dict(event=Event.START, tense=PAST, place=ASAD)),
    ("may-is-not-a-month", "timeline", "Some troops may stay at the airport until the end of 2026.",
     "until the end of 2026", "Iraq", D(2025, 10, 1), dict(event=Event.PHASE_END)),
]


@pytest.mark.parametrize(
    "kind,sentence,raw,context,published,expected",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_annotate(
    kind: str,
    sentence: str,
    raw: str,
    context: str,
    published: datetime.date | None,
    expected: dict,
) -> None:
    start = sentence.index(raw)
    subject = annotate(
        sentence, start, start + len(raw), kind, context=context, published=published
    )
    got = {field: getattr(subject, field) for field in expected}
    assert got == expected, subject


def test_counts_have_no_event() -> None:
    s = "The U.S. has 2,500 troops in Iraq."
    assert annotate(s, 13, 18, "troops").event is Event.NONE


def test_subject_is_hashable_and_frozen() -> None:
    s = "The U.S. has 2,500 troops in Iraq."
    a, b = annotate(s, 13, 18, "troops"), annotate(s, 13, 18, "troops")
    assert a == b and len({a, b}) == 1 and isinstance(a, Subject)
    with pytest.raises(AttributeError):
        a.role = Role.PLANNED  # type: ignore[misc]


@pytest.mark.parametrize(
    "tracker,fact,exact,ok",
    [
        (IRAQ, IRAQ, True, True),
        (IRAQ, ERBIL, True, False),  # a base figure does not move the country's level
        (ERBIL, IRAQ, True, False),  # nor the reverse
        (IRAQ, SYRIA, True, False),
        (IRAQ, CENTCOM, False, False),  # the region is not inside Iraq
        (IRAQ, ERBIL, False, True),  # a timeline may take a sub-place's date
        (KRI, ERBIL, False, True),
        (KRI, IRAQ, False, False),  # a country date is not the region's
        (IRAQ, (), False, False),  # unknown place: never matches a tracker that names one
        ((), IRAQ, True, True),  # a tracker that names no place takes any
    ],
)
def test_place_matches(
    tracker: tuple[str, ...], fact: tuple[str, ...], exact: bool, ok: bool
) -> None:
    assert place_matches(tracker, fact, within=not exact) is ok


def test_span_without_a_number() -> None:
    s = "A few U.S. troops remain at the base in Erbil."
    subj = annotate(s, 0, len("A few U.S. troops"), "troops")
    assert (subj.actor, subj.place) == (Actor.US, ERBIL)
