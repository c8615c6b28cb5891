"""Extract troop figures, coalition member counts and mission dates from article text.

The extractor is rule based (regular expressions plus a little arithmetic) so it is fast,
deterministic and has no model to download. Precision matters more than recall here: a
false fact becomes a false alert, so every rule demands positive evidence (a personnel noun,
a coalition noun, an end/start cue next to a date) and a set of filters rejects the usual
look-alikes (casualties, money, ages, years of history, past meeting dates).

Public API: :func:`extract_facts`. The fact record is :class:`crawler.facts.model.Fact`;
trackers are assigned by :mod:`crawler.facts.trackers`.
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, replace

from crawler.facts.attribution import attributed
from crawler.facts.model import _MONTH_ABBR, KINDS, Fact, _norm
from crawler.facts.numbers import NUM_RE, VAGUE_RANGE, VAGUE_RE, parse_number
from crawler.facts.places import place_key
from crawler.facts.sentences import split_sentences
from crawler.facts.subjects import annotate
from crawler.facts.vocabulary import APPROX as _APPROX
from crawler.facts.vocabulary import EXACT as _EXACT
from crawler.facts.vocabulary import LOWER as _LOWER
from crawler.facts.vocabulary import UPPER as _UPPER

log = logging.getLogger(__name__)


__all__ = ["KINDS", "Fact", "extract_facts"]

_QUALS = sorted([*_APPROX, *_UPPER, *_LOWER, *_EXACT, "between"], key=len, reverse=True)
_QUAL_RE = re.compile(
    r"(?i)(?:^|(?<=[\s(“\"]))("
    + "|".join(re.escape(q).replace(r"\ ", r"\s+") for q in _QUALS)
    + r")\s*$"
)

_TROOP_NOUN = (
    r"(?:troops?|soldiers?|service\s*(?:wo)?m[ae]n|service\s*members?|personnel|advis[eo]rs?|"
    r"trainers?|instructors?|marines|forces|paratroopers|commandos|boots\s+on\s+the\s+ground)"
)
_MEMBER_NOUN = (
    r"(?:members?|member\s+(?:states|nations|countries)|nations|countries|partners|states|allies)"
)
_MOD_WORD = (
    r"(?:U\.S\.|U\.K\.|[A-Z][a-zA-Z]+(?:-[A-Za-z]+)?|(?i:and|military|coalition|combat|foreign|"
    r"international|additional|more|other|remaining|active[- ]duty|ground|special|operations|"
    r"support|allied|partner|western|regular|reserve|troop|non-?combat|armed|member|contributing|"
    r"troop-contributing|participating|us|american|uniformed))"
)
_NOUN_AFTER_RE = re.compile(
    rf"(?:-strong\s+(?P<strong>\w+)"
    rf"|-(?:member|nation|country|state)\s+(?P<compound>(?i:coalition|alliance|grouping|bloc))"
    rf"|\s+(?:{_MOD_WORD}\s+){{0,4}}"
    rf"(?:(?P<troop>(?i:{_TROOP_NOUN}))|(?P<member>(?i:{_MEMBER_NOUN}))))(?![\w-])"
)
_PERCENT_RE = re.compile(r"\s*(?:%|(?i:percent|per\s+cent)\b)")
_CASUALTY_RE = re.compile(
    r"(?i)\b(?:kill\w*|wound\w*|injur\w*|dead|deaths?|died|die|casualt\w*|lives|fatalit\w*|"
    r"martyr\w*|hurt|missing|captured|hostages?|abduct\w*|attack(?:s|ed)?|strikes?)\b"
)
# Figures track foreign (US/coalition) deployments; the host's or the enemy's own forces
# ("30,000 Iraqi soldiers", "Peshmerga forces") are a different subject and never a troop fact.
_LOCAL_FORCES_RE = re.compile(
    r"\b(?:Iraqi|Syrian|Kurdish|Peshmerga|ISIS|Daesh|militia|militiamen|police|rebel|local)\b"
)
# "Iraq has some 300,000 soldiers": the host country's own forces, unless the figure is
# marked foreign ("Iraq has 2,500 US troops").
_HOST_OWNS_RE = re.compile(
    r"(?i)\b(?:Iraq|Syria|Iran|Turkey|Kurdistan(?:\s+Region)?|Baghdad|Damascus)(?:'s|’s)?"
    r"\s+(?:\w+\s+){0,3}(?:has|have|had|fields?|maintains?|counts?|numbers?|includes?)"
    r"\s+(?:\w+\s+){0,2}$"
)
_FOREIGN_RE = re.compile(r"(?i)\b(?:U\.?S\.?|US|American|coalition|foreign|NATO|allied)\b")
_MONEY_AFTER_RE = re.compile(
    r"(?i)\s*(?:million|billion|trillion|dollars?|euros?|usd|iqd|dinars?)\b"
)
_TROOP_CTX_RE = re.compile(
    rf"(?i)\b(?:{_TROOP_NOUN}|troop|force|contingent|garrison|presence|deployment)\b"
)
_MEMBER_CTX_RE = re.compile(r"(?i)\b(?:members?|member\s+states|contributing\s+nations)\b")
_COALITION_RE = re.compile(r"(?i)\b(?:coalition|alliance|nato|contribut\w*|partners?)\b")
_LINK_RE = re.compile(
    r"(?i)\b(?:to|from|of|was|is|were|are|at|and|leaving|leave|keeping|keep|with|totall?ing|"
    r"numbering|remain|stood\s+at|stands\s+at|stand\s+at)\s+$"
)
_BARE_NEXT_RE = re.compile(
    r"(?i)(?:\s*(?:$|[,.;:)—–]|\s-\s)|\s+(?:in|at|to|from|remain|remaining|will|would|are|were|"
    r"is|was|stationed|deployed|based|there|now|currently|still|as|under|across|inside|who|that|"
    r"by|last|this|next|earlier|of\s+them|(?:a|one|two|three|\d+)\s+(?:decades?|years?|months?)\s+ago)\b)"
)
_REDUCE_RE = re.compile(
    r"(?i)\b(?:reduc\w*|cut\w*|drawdown|draw\w*\s+down|decreas\w*|shr[iu]nk\w*|trim\w*|"
    r"withdraw\w*|lower\w*|slash\w*|pull\w*\s+out)\b"
)
_ANAPHOR_RE = re.compile(
    r"(?i)\b(?:reduc\w*|cut\w*|lower\w*|rais\w*|increas\w*|bring\w*|brought|trim\w*|shr[iu]nk\w*|"
    r"drop\w*|f[ae]ll\w*|decreas\w*)\b.{0,40}\b(?:that|this|it|them|the\s+(?:number|figure|total|"
    r"force|contingent))\b"
)


@dataclass
class _Num:
    start: int
    end: int
    value: float | None  # None for vague counts
    high: float | None = None  # range upper bound
    vague: str = ""


def _numbers(s: str, masked: list[tuple[int, int]]) -> list[_Num]:
    """All number mentions in a sentence outside date spans, with ranges merged."""
    nums: list[_Num] = []
    for m in VAGUE_RE.finditer(s):
        key = (m.group("tens") or m.group("pl") or (m.group("sg") + "s")).lower()
        key = "tens of thousands" if key.startswith("tens") else key
        nums.append(_Num(m.start(), m.end(), None, vague=key))
    for m in NUM_RE.finditer(s):
        if any(a <= m.start() < b for a, b in masked) or any(
            n.start <= m.start() < n.end for n in nums
        ):
            continue
        value = parse_number(m.group())
        if value is not None:
            nums.append(_Num(m.start(), m.end(), value))
    nums.sort(key=lambda n: n.start)
    merged: list[_Num] = []
    i = 0
    while i < len(nums):
        n = nums[i]
        if i + 1 < len(nums) and n.value is not None and nums[i + 1].value is not None:
            gap = s[n.end : nums[i + 1].start]
            between = (_qualifier(s, n.start) or "").lower() == "between"
            nxt = nums[i + 1].value or 0.0
            if re.fullmatch(r"\s*[-–—]\s*", gap) or (
                re.fullmatch(r"\s+(?:to|and)\s+", gap)
                and (
                    between
                    or (" to " in gap and nxt > n.value and not _ends_with(s, n.start, "from"))
                )
            ):
                merged.append(_Num(n.start, nums[i + 1].end, n.value, high=nxt))
                i += 2
                continue
        merged.append(n)
        i += 1
    return merged


def _ends_with(s: str, pos: int, word: str) -> bool:
    before = s[:pos]
    q = _QUAL_RE.search(before)
    if q:
        before = before[: q.start()]
    return re.search(rf"(?i)\b{word}\s*$", before) is not None


def _qualifier(s: str, pos: int) -> str | None:
    m = _QUAL_RE.search(s, max(0, pos - 30), pos)
    return re.sub(r"\s+", " ", m.group(1)) if m else None


def _clause_before(s: str, pos: int) -> str:
    return re.split(r"[,;:—(]", s[:pos])[-1]


def _clause_after(s: str, pos: int) -> str:
    return re.split(r"[,;:—)]", s[pos:])[0]


def _count_facts(s: str, base: int, masked: list[tuple[int, int]], prev_troops: bool) -> list[Fact]:
    nums = _numbers(s, masked)
    kinds: list[tuple[str, int] | None] = []  # (kind, end of noun) per number
    for n in nums:
        m = _NOUN_AFTER_RE.match(s, n.end)
        if m is None:
            kinds.append(None)
        elif m.group("strong") or m.group("troop"):
            local = _LOCAL_FORCES_RE.search(s, n.end, m.end()) or (
                _HOST_OWNS_RE.search(_clause_before(s, n.start))
                and not _FOREIGN_RE.search(s, n.end, m.end())
            )
            kinds.append(None if local else ("troops", m.end()))
        elif m.group("compound") or (m.group("member") and _member_count(s, n, m)):
            kinds.append(("members", m.end()))
        else:
            kinds.append(None)
    facts: list[Fact] = []
    for i, n in enumerate(nums):
        q = _QUAL_RE.search(s, max(0, n.start - 30), n.start)
        qual = re.sub(r"\s+", " ", q.group(1)) if q else None
        start = q.start(1) if q else n.start
        before = s[max(0, start - 2) : start]
        if "$" in before or "€" in before or "£" in before or _MONEY_AFTER_RE.match(s, n.end):
            continue
        if re.search(r"(?i)\b(?:aged?|ages|no\.)\s*$", s[:start]):
            continue
        pct = _PERCENT_RE.match(s, n.end)
        if pct:
            fact = _percent_fact(s, base, n, qual, start, pct.end())
            if fact:
                facts.append(fact)
            continue
        kind_end = kinds[i]
        if kind_end is None:
            kind_end = _bare_kind(s, nums, kinds, i, start, prev_troops)
        if kind_end is None:
            continue
        kind, end = kind_end
        if _CASUALTY_RE.search(_clause_before(s, start)[-60:]) or _CASUALTY_RE.search(
            _clause_after(s, end)[:40]
        ):
            continue
        facts.append(_make_count(s, base, kind, n, qual, start, end))
    return facts


_BODY_MEMBERS_RE = re.compile(
    r"(?i)\b(?:House|Senate|parliament\w*|congress\w*|council|board|staff|crew|family|club|"
    r"party|caucus|union|team|committee|cabinet|assembly|faculty|church)\b"
)


def _member_count(s: str, n: _Num, noun: re.Match[str]) -> bool:
    """Is "N members/countries" a coalition count (not "the two countries", "members of X")?"""
    if not _COALITION_RE.search(s) or re.match(r"\s+of\s+(?!the\s+coalition)", s[noun.end() :]):
        return False
    if _BODY_MEMBERS_RE.search(s, n.end, noun.end()):
        return False  # "95 House members", "12 board members": a legislature or a board
    if _MEMBER_CTX_RE.fullmatch(noun.group("member")):
        return True
    if n.value is None or n.value < 3:
        return False
    return not re.search(r"(?i)\b(?:the|these|those|both|its|their|our|all)\s+$", s[: n.start])


def _bare_kind(
    s: str,
    nums: list[_Num],
    kinds: list[tuple[str, int] | None],
    i: int,
    start: int,
    prev_troops: bool,
) -> tuple[str, int] | None:
    """Kind of a number written without its noun ("to 2,500", "900 in Syria"), if any."""
    n = nums[i]
    if s[n.start : n.end].lower() == "one":
        return None  # without a noun, "one" is a pronoun ("when there is one to make")
    if (
        n.value is not None
        and n.high is None
        and 1500 <= n.value <= 2100
        and "," not in s[n.start : n.end]
    ):
        return None  # a year ("in about 1868")
    if re.search(r"[A-Z][a-z]*\.?\s*$", s[:start]) and not _QUAL_RE.search(
        s, max(0, n.start - 30), n.start
    ):
        return None  # "Resolution 2254", "Camp 5"
    # "from about 2,500 to fewer than 2,000 troops": the noun comes once, after the second figure
    if i + 1 < len(nums) and kinds[i + 1] is not None:
        gap = s[n.end : nums[i + 1].start]
        if re.fullmatch(r"(?i)\s+to\s+(?:(?:" + "|".join(map(re.escape, _QUALS)) + r")\s+)?", gap):
            return (kinds[i + 1][0], n.end)  # type: ignore[index]
    qual = _qualifier(s, n.start)
    listed = any(k is not None and k[0] == "troops" for k in kinds[:i]) and re.search(
        r",\s*$", s[:start]
    )  # "2,500 troops in Iraq, 900 in Syria"
    if not qual and not listed and not _LINK_RE.search(s, max(0, start - 20), start):
        return None
    if not _BARE_NEXT_RE.match(s, n.end):
        return None
    left = s[:start]
    troop = [m.end() for m in _TROOP_CTX_RE.finditer(left)]
    member = [m.end() for m in _MEMBER_CTX_RE.finditer(left)] if _COALITION_RE.search(s) else []
    if not troop and not member and prev_troops and _ANAPHOR_RE.search(left):
        troop = [0]
    if not troop and not member:
        return None
    kind = "troops" if max(troop, default=-1) >= max(member, default=-1) else "members"
    return (kind, n.end)


# fmt: off
def _span_fact(kind: str, value: str, bounds: tuple[float | None, float | None],
               number: float | None, gran: str, qual: str, s: str, base: int, start: int,
               end: int) -> Fact:
    """Build a Fact whose raw text is ``s[start:end]`` (``s`` starts at ``base`` in the text)."""
    return Fact(kind, value, bounds[0], bounds[1], number, gran, qual, s[start:end],
                base + start, base + end, s)
# fmt: on


def _percent_fact(
    s: str, base: int, n: _Num, qual: str | None, start: int, end: int
) -> Fact | None:
    """A troop reduction stated as a share ("by about 20 percent"), else None."""
    by = re.search(r"(?i)\bby\s*$", s[:start])
    noun = re.match(r"\s+(?:reduction|cut|drawdown|decrease)\b", s[end:])
    if n.value is None or not (by or noun):
        return None
    if not (_REDUCE_RE.search(s) and _TROOP_CTX_RE.search(s)):
        return None
    qualifier = qual.lower() if qual else "exact"
    bounds = _interval(n.value, qualifier)
    start = by.start() if by else start
    value = f"{_norm(n.value)}%"
    return _span_fact("troops", value, bounds, n.value, "relative", qualifier, s, base, start, end)


def _interval(value: float, qual: str) -> tuple[float | None, float | None]:
    """Interval of a stated figure: "approximately" is +-5%, "fewer than" is [0, n)."""
    if qual in ("nearly", "almost", "just under"):
        return value * 0.95, value
    if qual == "just over":
        return value, value * 1.05
    if qual in _APPROX:
        return value * 0.95, value * 1.05
    if qual in _UPPER:
        return 0.0, value
    if qual in _LOWER:
        return value, None
    return value, value


def _make_count(
    s: str, base: int, kind: str, n: _Num, qual: str | None, start: int, end: int
) -> Fact:
    qualifier = qual.lower() if qual else "exact"
    if n.vague:
        bounds = VAGUE_RANGE[n.vague]
        return _span_fact(kind, n.vague, bounds, None, "vague", "vague", s, base, start, end)
    assert n.value is not None
    if n.high is not None:
        low, high = sorted((n.value, n.high))
        value = f"{_norm(low)}-{_norm(high)}"
        qualifier = qualifier if qual else "range"
        return _span_fact(
            kind, value, (low, high), (low + high) / 2, "range", qualifier, s, base, start, end
        )
    gran = "exact"
    for name, group in (("approx", _APPROX), ("upper", _UPPER), ("lower", _LOWER)):
        if qualifier in group:
            gran = name
    return _span_fact(
        kind, _norm(n.value), _interval(n.value, qualifier), n.value, gran, qualifier, s, base,
        start, end,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# Dates: timeline
# ---------------------------------------------------------------------------------------

_MONTHS = {m.lower(): i for i, m in enumerate(_MONTH_ABBR, 1)}
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Sept|Oct\.|Nov\.|Dec\.)"
)
_YEAR = r"(?:19|20)\d{2}"
_DATE_RE = re.compile(
    rf"""
    \b(?=[A-Za-z0-9])
    (?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?
    (?P<pre>(?i:(?:the\s+)?(?:very\s+)?(?:end|close|middle|beginning|start|first\s+half|second\s+half)
        \s+of\s+(?:the\s+)?|early[\s-]|late[\s-]|mid[\s-]|end-))?
    (?:
        (?P<rel>(?i:next|this|the\s+coming))\s+(?P<rel_unit>(?i:year|month)|{_MONTH}(?!\s+\d))
      | (?P<the_year>(?<=the\s)(?i:year|month))(?!\w)
      | (?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH})(?:,?\s+(?P<y1>{_YEAR}))?
      | (?P<m2>{_MONTH})(?:\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}})?(?!\d))?
        (?:,?\s+(?P<y2>{_YEAR})(?!\d))?
      | (?P<season>(?i:spring|summer|autumn|fall|winter))(?:\s+of)?\s+(?P<y4>{_YEAR})(?!\d)
      | (?P<y3>{_YEAR})(?!\d|,\d)
    )
    """,
    re.VERBOSE,
)
_CUE_RE = re.compile(
    r"(?i)(?:\b(?P<prep>(?:no|not)\s+later\s+than|by|until|till|through(?:out)?|thru|before|from|"
    r"starting(?:\s+(?:in|from|on))?|beginning(?:\s+(?:in|on))?|"
    r"(?:set|scheduled|slated|due|planned|timed|targeted)\s+for)"

    r"|\b(?P<verb>end(?:s|ed|ing)?|conclud(?:e|es|ed|ing)|commenc(?:e|es|ed|ing)|begin|begins|began|"
    r"start(?:s|ed)?|clos(?:e|es|ed|ing)|shut(?:s|ting)?\s+down|expir(?:e|es|ed|ing)|"
    r"complet(?:e|es|ed|ing)|finish(?:es|ed|ing)?|wrap(?:s|ped|ping)?\s+up)(?:\s+\w+ly)?(?:\s+(?:in|on|at))?)"
    r"(?:\s+(?:at\s+least|as\s+late\s+as|as\s+early\s+as|at\s+the\s+latest))?\s+$"
)
_CONTEXT_RE = re.compile(
    r"(?i)\b(?:withdr[ae]w\w*|pull\w*\s+out|pullout|drawdown|draw\w*\s+down|wind\w*\s+down|mission|"
    r"presence|transition|operations?|phase|troops?|forces|personnel|soldiers|coalition|evacuat\w*|"
    r"vacat\w*|bases?|task\s+force|reduc\w*|depart\w*|leav\w*|exit|mandate|deploy\w*|redeploy\w*|"
    r"relocat\w*|hand\w*\s+over|handover)\b"
)
# "brief Congress by September", "vote by December on the withdrawal": the date is the
# deadline of an act about the mission, not a date of the mission itself.
_ACT_BEFORE_CUE_RE = re.compile(
    r"(?i)\b(?:brief|report|decid|announc|submit|present|testif|respond|publish|releas|repl|"
    r"inform|notif|review|vote|approv|sign|negotiat|discuss|meet|hold|talk)\w*\b(?P<gap>[^,;.]{0,40})$"
)
_FROM_END_RE = re.compile(r"(?i)\s+(?:until|till|through|thru|to)\b")
# "the first stage of the withdrawal in June 2025": a phase or a move named with its date
_NOUN_CUE_RE = re.compile(
    r"(?i)\b(?:phase|stage|step|withdrawal|drawdown|pull-?out|departure|exit|handover|"
    r"transition)(?:\s+[\w-]+){0,3}?\s+(?:in|during)\s+$")
# "an Oct. 1 deadline", "the September 2026 target date": the date names its own event
_DEADLINE_AFTER_RE = re.compile(
    r"(?i)\s+(?:deadline|target\s+date|cut-?off(?:\s+date)?|end\s+date)\b")
# "2024-01-26", "1/26/2024": dates written in digits are never counts
_NUMERIC_DATE_RE = re.compile(r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))\b")
_PAST_RE = re.compile(
    r"(?i)\b(?:had|was|were|did|last\s+year|began|started|commenced|ended|concluded|closed)\b"
)


_PART_MONTH = ((r"\b(?:end|close)\b", 12), (r"\bmid|middle", 6), (r"beginning|start", 1))
_SEASON_MONTH = {"winter": 1, "spring": 4, "summer": 7, "autumn": 10, "fall": 10}


def _month_of(m: re.Match[str]) -> int | None:
    """The month a date match names, if any."""
    if m.group("season"):
        return _SEASON_MONTH[m.group("season").lower()]
    text = m.group("m1") or m.group("m2")
    return _MONTHS[text[:3].lower()] if text else None


def _date_value(
    m: re.Match[str], s: str, published: datetime.date | None, anchor_year: int | None
) -> tuple[str, str] | None:
    """Normalize a date match to ``(value, granularity)``; None when it cannot be resolved."""
    pre = re.sub(r"\s+", " ", (m.group("pre") or "").lower())
    month_end = next((mo for rx, mo in _PART_MONTH if re.search(rx, pre)), None)
    if m.group("season"):  # the season's middle month: "by spring 2027" is 2027-04
        return f"{int(m.group('y4')):04d}-{_SEASON_MONTH[m.group('season').lower()]:02d}", "month"
    if m.group("y3"):
        year = int(m.group("y3"))
        return (f"{year:04d}-{month_end:02d}", "month") if month_end else (f"{year:04d}", "year")
    unit = (m.group("the_year") or m.group("rel_unit") or "").lower()
    if unit in ("year", "month") and published is None:
        return None
    if unit == "month":
        assert published is not None
        ahead = published.month + (1 if (m.group("rel") or "").lower() == "next" else 0)
        year, month = published.year + (ahead - 1) // 12, (ahead - 1) % 12 + 1
        return f"{year:04d}-{month:02d}", "month"
    if unit == "year":
        assert published is not None
        year = published.year + (1 if (m.group("rel") or "").lower() == "next" else 0)
        return (f"{year:04d}-{month_end:02d}", "month") if month_end else (f"{year:04d}", "year")
    mon_text = m.group("m1") or m.group("m2") or m.group("rel_unit")
    month = _MONTHS[mon_text[:3].lower()]
    day = m.group("d1") or m.group("d2")
    year_text = m.group("y1") or m.group("y2")
    if year_text:
        year = int(year_text)
    elif m.group("rel"):
        if published is None:
            return None
        nxt = m.group("rel").lower() != "this"
        year = published.year + (
            1 if month < published.month or (nxt and month == published.month) else 0
        )
    elif anchor_year is not None:
        year = anchor_year
    elif published is not None:
        year = published.year
        if _PAST_RE.search(s[: m.start()]):
            # past tense: the nearest occurrence, usually the one just gone
            if month > published.month + 2:
                year -= 1
        elif month < published.month:
            year += 1
    else:
        return None
    if day and not pre:
        if not 1 <= int(day) <= 31:
            return None
        return f"{year:04d}-{month:02d}-{int(day):02d}", "day"
    return f"{year:04d}-{month:02d}", "month"


def _timeline_facts(
    s: str, base: int, published: datetime.date | None
) -> tuple[list[Fact], list[tuple[int, int]]]:
    """Mission dates in a sentence, plus the spans of every date (to keep counts out)."""
    matches = [
        m
        for m in _DATE_RE.finditer(s)  # "2000 troops" is a count, not a year
        if not (m.group("y3") and not m.group("pre") and _NOUN_AFTER_RE.match(s, m.end()))
    ]
    spans = [(m.start(), m.end()) for m in matches]
    spans += [(m.start(), m.end()) for m in _NUMERIC_DATE_RE.finditer(s)]
    explicit = [
        (m.start(), int(m.group("y1") or m.group("y2") or m.group("y3") or m.group("y4")),
         _month_of(m))
        for m in matches
        if m.group("y1") or m.group("y2") or m.group("y3") or m.group("y4")
    ]
    facts: list[Fact] = []
    for m in matches:
        if m.group("the_year") and not m.group("pre"):
            continue  # a bare "year"/"month"
        cue = _CUE_RE.search(s, max(0, m.start() - 60), m.start()) or _NOUN_CUE_RE.search(
            s, max(0, m.start() - 60), m.start())
        if cue is not None:
            cue_start, prep = cue.start(), (cue.groupdict().get("prep") or "").lower()
        elif _DEADLINE_AFTER_RE.match(s, m.end()):
            cue_start, prep = m.start(), ""  # "an Oct. 1 deadline"
        else:
            continue
        if prep == "from" and not _FROM_END_RE.match(s, m.end()):
            continue  # "from September 2025" is a start only when an end follows
        act = _ACT_BEFORE_CUE_RE.search(s, max(0, cue_start - 60), cue_start)
        if act and prep and not _CONTEXT_RE.search(act.group("gap")):
            continue
        window = s[max(0, cue_start - 160) : m.end() + 40]
        if not _CONTEXT_RE.search(window):
            continue
        # A bare month takes the year of another date in the sentence, unless it is a
        # month alone naming the same month as that date: "commence in September ...
        # concluding by September 2025" speaks of two Septembers, while "by September
        # 2025 ... on September 15" refines one.
        month = None if (m.group("d1") or m.group("d2")) else _month_of(m)
        others = [(pos, y) for pos, y, mon in explicit if month is None or mon != month]
        earlier = [y for pos, y in others if pos < m.start()]
        later = [y for pos, y in others if pos > m.start()]
        anchor = earlier[-1] if earlier else (later[0] if later else None)
        resolved = _date_value(m, s, published, anchor)
        if resolved is None or not 1900 <= int(resolved[0][:4]) <= 2100:
            continue  # unresolvable, or resolved against an implausible report date
        value, gran = resolved
        if published is not None and int(value[:4]) < published.year - 1:
            continue  # history, not a schedule
        qualifier = re.sub(r"\s+", " ", s[cue_start : m.start()] + (m.group("pre") or "")).strip()
        if cue is None:
            qualifier = "deadline"
        qualifier = re.sub(r"\s+the$", "", qualifier)
        qualifier = qualifier.rstrip("-") + ("-" if (m.group("pre") or "").endswith("-") else "")
        span = (cue_start, m.end())
        facts.append(
            _span_fact("timeline", value, (None, None), None, gran, qualifier, s, base, *span)
        )
    return facts, spans


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------


def extract_facts(text: str, published: datetime.date | None = None, *, title: str = ""
                  ) -> list[Fact]:
    """Every troops/members/timeline statement in ``text`` (an article or one sentence).

    ``published`` is the report date; relative dates ("next September", "by the end of the
    year") resolve against it and are skipped when it is None. ``title`` is context for
    the facts' subjects.
    """
    facts: list[Fact] = []
    prev_para = -1
    prev_troops = False
    sentences = split_sentences(text)
    lede = " ".join(text[a:b] for a, b, _ in sentences[:2])
    for i, (start, end, para) in enumerate(sentences):
        if para != prev_para:
            prev_para, prev_troops = para, False
        s = text[start:end]
        dates, spans = _timeline_facts(s, start, published)
        counts = _count_facts(s, start, spans, prev_troops)
        prev_troops = any(f.kind == "troops" for f in counts)
        found = sorted(counts + dates, key=lambda f: f.start)
        if found:
            official = attributed(s)
            # what the fact is about: its own sentence first; the title, the lede and the
            # paragraph's previous sentences only as a fallback
            earlier = [text[a:b] for a, b, p in sentences[max(0, i - 3):i] if p == para]
            context = "\n".join([title, lede, *earlier])
            for f in found:
                subject = annotate(s, f.start - start, f.end - start, f.kind,
                                   context=context, published=published)
                facts.append(replace(
                    f, attributed=official, role=subject.role.value if f.kind != "timeline"
                    else "", actor=subject.actor.value, place=place_key(subject.place),
                    event=subject.event.value, tense=subject.tense.value))
    log.debug("extracted %d facts from %d characters", len(facts), len(text))
    return facts


