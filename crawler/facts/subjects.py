"""Decide what an extracted figure is *about*, from the grammar of its own sentence.

A change alert is only right when the old and the new value describe the same thing. News
reports mix the current level with planned ones, one base with the whole country, Syria or
the region with Iraq, and phase 1 with phase 2. :func:`annotate` reads the clause a figure
sits in and returns a :class:`Subject` (role, actor, place, event, tense, phase) so the
caller compares like with like.

The rules are general vocabulary and clause grammar: no outlet, URL or quoted phrase of
any report is named. Places are paths in a hierarchy (:data:`PLACES`); :func:`place_matches`
says which paths a tracker accepts. Every pattern is compiled once and run on a lower-cased
copy of the sentence (``re.IGNORECASE`` is ~4x slower); the few case-sensitive words ("US"
against "us", "May" against "may") are checked on the original text.

Public API: :class:`Role`, :class:`Actor`, :class:`Event`, :class:`Tense`, :class:`Subject`,
:data:`PLACES` and the ``*_CUES`` vocabularies, :func:`annotate`, :func:`place_matches`.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from crawler.facts.model import Actor, Event, Role, Tense
from crawler.facts.places import PLACES


@dataclass(frozen=True)
class Subject:
    """What a figure is about. ``phase`` (timelines): 1 or 2 when the sentence names it."""

    role: Role
    actor: Actor
    place: tuple[str, ...]
    event: Event
    tense: Tense
    phase: int = 0


# ---------------------------------------------------------------------------------------
# Vocabularies (named data; regex fragments, matched on lower-cased text)
# ---------------------------------------------------------------------------------------

#: words pointing back to a place named earlier (sentence first, then context)
ANAPHORS = (r"(?P<country>the country)|(?P<base>the (?:air ?)?base)"
            r"|(?P<there>there)(?! (?:is|are|was|were|will|would|have|has|had|may|might|could|remain|seem|appear)\b)")
#: hedges between a cue word and its number ("withdraw *about* 600", "to *fewer than* 500")
HEDGES = frozenset("""about around approximately roughly nearly almost some over just only estimated
    an a under below between remaining more~than fewer~than less~than up~to close~to at~least
    at~most as~many~as a~total~of a~contingent~of a~force~of an~estimated""".replace("~", " ").split())
DEFINITE_WORDS = frozenset("the its their those these all".split())  # an existing force
ADDITION_WORDS = frozenset("another additional extra further".split())
NUMWORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
           r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozen|several|hundreds|thousands|dozens)")
NUMBER = rf"(?:\d[\d,.]*|{NUMWORD})(?:(?:\s*(?:-|–|to|or)\s*|\s+)(?:\d[\d,.]*|{NUMWORD})\b)*"
PERSONNEL = (r"(?:troops?|soldiers?|personnel|forces?|advis[eo]rs?|service ?members?|servicemen|marines|"
             r"airmen|trainers|contractors|staff|boots)")
#: modal and plan verbs: a level they govern is a planned level
PLANNED_CUES = r"\b(?:will|would|shall|plan(?:s|ned)? to|set to|expected to|scheduled to|is to|are to|aim(?:s|ed)? to|intend(?:s|ed)? to|going to)\b"
#: past-time adverbials; a dated "as of"/"at the start of" is judged against the report date
HISTORICAL_CUES = (r"\bat the time\b|\bago\b|\bbefore the (?:drawdown|withdrawal|reduction|pullout|cuts?)\b|"
                   r"\bpreviously\b|\bformerly\b|\bused to\b|\bat (?:its|the) (?:peak|height)\b|\bin the past\b|\bat one point\b")
DATED_PAST_CUES = r"\b(?:as of|as at|back in|at the (?:start|beginning|end) of)\s+"
#: verbs whose object is a moved number ("withdraw 600"), and verbs a moving count does
MOVED_CUES = (r"withdr[ae]w\w*|send\w*|sent|deploy\w*|redeploy\w*|dispatch\w*|relocat\w*|evacuat\w*|"
              r"add(?:s|ed|ing)?|mov(?:e|es|ed|ing)|pull\w* out|bring\w* home|brought home")
MOVING_SUBJECT_CUES = (r"leave|leaves|leaving|left(?! (?:in|at|behind|there|over|on)\b)|depart\w*|withdr[ae]w\w*|"
                       r"arriv\w*|pull(?:ed|ing)? out|head\w* home|return\w* home|redeploy\w*|deployed to|"
                       r"(?:be|been|were|was|are|is) (?:withdrawn|sent|redeployed|relocated|moved|pulled out|evacuated)")
RELATIVE_CUES = r"%|per ?cent|percentage|(?:(?!to\b)\S+\s+)?(?:more|fewer|less) than"  # right after the number
CHANGE_VERBS = r"\b(?:reduc|cut|increas|boost|rais|lower|decreas|shr[iu]nk|grow|grew|drop|fall|fell|trim|slash)\w*"
MEMBER_WORDS = r"\b(?:members?|partners?|coalition)\b"
CONTRIBUTOR_WORDS = frozenset("representing from of".split())  # "personnel from 7 countries"
#: timelines
START_CUES = (r"(?:\bfrom|\b(?:start|begin|began|begun|commenc)\w*(?:(?:\s+[\w-]+){0,3}?\s+(?:in|on|from))?"
              r"|\bas of|\beffective)\s+(?:early |mid-?|late |the (?:start|beginning) of )?$")
PHASE2_CUES = r"\b(?:second|2nd|final|last|next) (?:phase|stage)\b|\bphase (?:two|2|ii)\b"
PHASE1_CUES = r"\b(?:first|1st|opening) (?:phase|stage|step)\b|\bphase (?:one|1|i)\b|\binitial\b"
FINAL_CUES = r"\b(?:final|full|fully|complete|completely|total|entire|entirely|all|remainder|remaining|closes?|closure)\b|\btask force\b"
PARTIAL_CUES = r"\b(?:hundreds|dozens|some|partial|partially|several|a number of|bases|sites)\b"
PHASE_NOUNS = r"\b(?:phase|period|stage|transition)\b"
CONTINUATION_CUES = r"\bcontinu\w*|\bremain(?:der|ing)?\b|\bstay\w*\b[^,.;]*\blonger\b|\bfollowed by\b|\btransition\w* (?:in)?to\b"
ELSEWHERE_CUES = r"\bcontinu\w*|\bsupport\w*"

_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DATE = (r"(?:(?P<q>early|mid|late|the (?:start|beginning|middle|end) of)[- ]?)?"
        r"(?:(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
        r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?(?:\s+\d{1,2}\b(?:st|nd|rd|th)?)?(?:,?\s+(?P<year>(?:19|20)\d\d))?"
        r"|(?P<y2>(?:19|20)\d\d))\b")
_Q_MONTH = {"early": 2, "mid": 6, "late": 11, "the start of": 1, "the beginning of": 1, "the middle of": 6,
            "the end of": 12}

_C = re.compile
# Whole-sentence scanners open with "\b(?=[first letters])" so most positions fail at once.
_PLACE_KEYS = list(PLACES)
_PLACE_RE = _C(r"\b(?=[abcefghiksuvt])(?:" + "|".join(
    rf"(?P<p{i}>(?:{PLACES[k]})\b)" for i, k in enumerate(_PLACE_KEYS)) + "|" + ANAPHORS + ")")
_ACTOR_RE = _C(
    r"\b(?=[abcdfgijkmnprstuw])(?:(?P<coalition>(?:u\.s\.|us|american)-led (?:\w+ ){0,3}?coalition|coalition|"
    r"allied\b|nato\b|multinational\b|(?:international|foreign) (?:forces|troops|personnel))"
    r"|(?P<other>(?:iraqi|kurdish|british|uk|french|german|italian|turkish|iranian|russian|australian|canadian|"
    r"spanish|dutch|danish|syrian|jordanian)\s+(?:security\s+|armed\s+|special\s+)?(?:forces|troops|soldiers|army|"
    r"personnel|fighters)\b|peshmerga\b)"
    r"|(?P<us>u\.s\.(?!\w)|usa?\b|united states\b|americans?\b|pentagon\b|washington\b)"
    r"|(?P<militants>isis\b|isil\b|daesh\b|islamic state\b|militants?\b|jihadists?\b|insurgents?\b))")
_DATE_RE = _C(r"\b(?=[emltjfmasond12])" + DATE)
_BREAKS = (", ", ";", ": ", " - ", " – ", " — ", "—", "(", ")", " but ", " while ", " whereas ", " although ")
_AND_FIGURE_RE = _C(rf" and (?:(?:about|around|some|nearly|roughly|approximately|another|only) )*(?:\d|{NUMWORD}\b)")
_NUM_START_RE = _C(rf"\d|\b{NUMWORD}\b")
_MOVED_WORD_RE = _C(rf"(?:{MOVED_CUES})")
_MOVED_TAIL_RE = _C(rf"{NUMBER}\s+(?:(?:additional|more|extra|new|fresh)\s+(?:\S+\s+)?(?:{PERSONNEL}|members?|"
                    rf"partners?|countries|nations)\b|(?:[^\s,;]+\s+){{0,5}}?(?:(?:will|would|to|are|were|have|had|"
                    rf"began to|could|may|must)\s+)*(?:{MOVING_SUBJECT_CUES})\b)")
_RELATIVE_TAIL_RE = _C(rf"{NUMBER}\s*(?:{RELATIVE_CUES})")
_NP_RE = _C(rf"{NUMBER}[^,;.]{{0,50}}?\b{PERSONNEL}\b")
_SUBJ_FUTURE_RE = _C(rf"{NUMBER}[^,;]{{0,60}}?\b(?:will|would|shall)\b(?P<rest>[^,;]*)")
_TIME_AFTER_RE = _C(rf"\b(?:by|until|through|after|beyond|in)\s+(?:{DATE}|next year|the end of)")
_BY_DATE_RE = _C(rf"\b(?:by|until|through)\s+{DATE}")
_DATED_PAST_RE = _C(DATED_PAST_CUES + DATE)
_FRONT_DATE_RE = _C(rf"\W*(?:in|during|by|until)\s+{DATE}")
_PAST_RE = _C(r"\b(?:was|were|had|did|last (?:year|month|week))\b")
(_PLANNED_RE, _HISTORICAL_RE, _CHANGE_RE, _MEMBER_RE, _START_RE, _PHASE2_RE, _PHASE1_RE, _FINAL_RE,
 _PARTIAL_RE, _PHASE_NOUN_RE, _CONTINUE_RE, _ELSEWHERE_RE) = map(_C, (
    PLANNED_CUES, HISTORICAL_CUES, CHANGE_VERBS, MEMBER_WORDS, START_CUES, PHASE2_CUES, PHASE1_CUES,
    FINAL_CUES, PARTIAL_CUES, PHASE_NOUNS, CONTINUATION_CUES, ELSEWHERE_CUES))
_ELABORATION_RE = _C(r",\s+(?:with|including|as well as)\b")
_COMBINED_RE = _C(r"\s*(?:,|and|or|&)\s*(?:neighbou?ring\s+)?$")
_FEDERAL = {("iraq", "federal"), ("iraq", "baghdad"), ("iraq", "ain-al-asad")}

Mention = tuple[int, int, tuple[str, ...]]  # start, end, place path


# ---------------------------------------------------------------------------------------
# Sentence helpers
# ---------------------------------------------------------------------------------------

def _lower(s: str) -> str:
    low = s.lower()  # keep offsets: a few characters ("İ") grow when lower-cased
    return low if len(low) == len(s) else "".join(c if len(c.lower()) != 1 else c.lower() for c in s)


def _mentions(low: str, ctx: _Ctx | None, lo: int = 0, hi: int | None = None) -> tuple[list[Mention], bool]:
    """Place mentions in ``low[lo:hi]``, anaphors resolved to what they point back to.

    Also says whether an anaphor was met: resolved within a part of the sentence, it may
    have missed its antecedent, so callers rescan the whole sentence then.
    """
    out: list[Mention] = []
    anaphoric = False
    for m in _PLACE_RE.finditer(low, lo, len(low) if hi is None else hi):
        kind = m.lastgroup or ""
        if kind[0] == "p":
            path = _PLACE_KEYS[int(kind[1:])]
        else:
            anaphoric = True
            if kind == "country":  # the country named last (here, else in the context)
                path = out[-1][2][:1] if out else (ctx.country if ctx else ())
            elif kind == "base":  # the base named last, else an unnamed base of the country
                bases = [p for _, _, p in out if len(p) > 1]
                path = bases[-1] if bases else (ctx.base if ctx and ctx.base else
                                                (out[-1][2][:1] + ("base",) if out else ()))
            else:  # "there": the place named last
                path = out[-1][2] if out else (ctx.last if ctx else ())
        if path:
            out.append((m.start(), m.end(), path))
    return out, anaphoric


def _actors(s: str, low: str, lo: int, hi: int) -> list[str]:
    """Actor kinds named in ``low[lo:hi]``; "US"/"US-led" must be capitals in ``s``."""
    out = []
    for m in _ACTOR_RE.finditer(low, lo, hi):
        if low.startswith("us", m.start()) and not s.startswith("US", m.start()):
            continue  # the pronoun "us"
        out.append(m.lastgroup or "")
    return out


def _actor(kinds: list[str], *, np: bool = False) -> Actor | None:
    """The actor of a noun phrase (a US + allied mix is the coalition) or the last one named."""
    if np:
        if "us" in kinds and ("coalition" in kinds or "other" in kinds):
            return Actor.COALITION  # "American and coalition personnel"
        return next((Actor(a) for a in ("coalition", "us", "other", "militants") if a in kinds), None)
    kinds = [a for a in kinds if a != "militants"]  # "counter-ISIS" names a target, not an actor
    return Actor(kinds[-1]) if kinds else None


def _breaks(low: str, extra: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """Clause breaks (commas, semicolons, dashes, brackets, contrastive conjunctions)."""
    out = []
    for b in _BREAKS + extra:
        i = low.find(b)
        while i >= 0:
            out.append((i, i + len(b)))
            i = low.find(b, i + 1)
    out.sort()
    return out


def _dates(s: str, low: str, lo: int = 0, hi: int | None = None) -> list[re.Match[str]]:
    """Dates in ``low``; a month name must be capitalised in ``s`` ("May", not "may")."""
    return [m for m in _DATE_RE.finditer(low, lo, len(low) if hi is None else hi)
            if not m.group("mon") or s[m.start("mon")].isupper()]


def _when(m: re.Match[str] | None, published: datetime.date | None) -> tuple[int, int] | None:
    """(year, month) of a DATE match; a bare year counts as its last month (conservative)."""
    if m is None:
        return None
    if m.group("y2"):
        return int(m.group("y2")), _Q_MONTH.get(m.group("q") or "", 12)
    month = _MONTHS.index(m.group("mon")[:3]) + 1
    if m.group("year"):
        return int(m.group("year")), month
    return (published.year, month) if published else None  # "by September": the report's year


def _months_before(m: re.Match[str] | None, published: datetime.date | None) -> int | None:
    """How many months before the report the date lies (negative: after it)."""
    when = _when(m, published)
    if when is None or published is None:
        return None
    return published.year * 12 + published.month - (when[0] * 12 + when[1])


def _head_words(low: str, pos: int) -> list[str]:
    """The words just before a number, hedges ("about", "fewer than") stripped."""
    words = low[max(0, pos - 80):pos].replace("“", " ").replace('"', " ").split()[-8:]
    while words:
        for k in (3, 2, 1):
            if len(words) >= k and " ".join(words[-k:]) in _HEDGE_PHRASES:
                del words[-k:]
                break
        else:
            return words
    return words


_HEDGE_PHRASES = frozenset(p.replace("~", " ") for p in """about around approximately roughly nearly
    almost some over just only estimated an a under below between remaining more~than fewer~than
    less~than up~to close~to at~least at~most as~many~as a~total~of a~contingent~of a~force~of
    an~estimated""".split())


class _Ctx:
    """Places and actor of the preceding text: only a fallback for the sentence."""

    __slots__ = ("country", "base", "last", "actor")

    def __init__(self, text: str) -> None:
        if len(text) > 600:  # the title and the nearest sentences are what a reader recalls
            text = text[:200] + " … " + text[-400:]
        low = _lower(text)
        ms = _mentions(low, None)[0]
        self.last = ms[-1][2] if ms else ()
        self.country = self.last[:1]
        bases = [p for _, _, p in ms if len(p) > 1]
        self.base = bases[-1] if bases else ()
        self.actor = _actor(_actors(text, low, 0, len(low))) or Actor.UNKNOWN


_CTX_CACHE: dict[str, _Ctx] = {}


def _context(text: str) -> _Ctx:
    ctx = _CTX_CACHE.get(text)
    if ctx is None:
        if len(_CTX_CACHE) > 256:  # bounded: one entry per document (or per sentence of it)
            _CTX_CACHE.clear()
        ctx = _CTX_CACHE[text] = _Ctx(text)
    return ctx


# ---------------------------------------------------------------------------------------
# Counts: troops and members
# ---------------------------------------------------------------------------------------

def _count_subject(s: str, low: str, start: int, end: int, kind: str, ctx: _Ctx,
                   published: datetime.date | None) -> Subject:
    nm = _NUM_START_RE.search(low, start, end)
    num = nm.start() if nm else start
    brk = _breaks(low)
    cstart = max((b for _, b in brk if b <= num), default=0)  # the figure's clause, left part
    wstop = min((a for a, _ in brk if a >= end), default=len(low))
    af = _AND_FIGURE_RE.search(low, end, wstop)  # "2,500 in Iraq and 900 in Syria"
    wend = af.start() if af else wstop
    near, window, tail = low[cstart:num], low[num:wend], low[num:num + 200]
    head = _head_words(low, num)
    last = head[-1] if head else ""

    # place: the figure's own phrase, else its clause, else the sentence, else the context
    # place: the figure's own phrase, else its clause, else the sentence, else the context.
    # The phrase alone usually settles it; the whole sentence is scanned only when it does not.
    right, anaphoric = _mentions(low, ctx, num, wend)
    if not right or anaphoric:
        ments = _mentions(low, ctx)[0]
        right = [m for m in ments if num <= m[0] < wend]
    if len(right) > 1 and right[0][2][0] != right[1][2][0] and _COMBINED_RE.match(low, right[0][1], right[1][0]):
        place: tuple[str, ...] = ("centcom",)  # "in Iraq and Syria": a figure of several countries
    elif right:
        place = right[0][2]
    else:
        left_near = [m[2] for m in ments if cstart <= m[0] < num]
        left_far = [m[2] for m in ments if m[0] < cstart]
        rest = [m[2] for m in ments if m[0] >= wend]
        place = (left_near[-1] if left_near else left_far[-1][:1] if left_far
                 else rest[0][:1] if rest else ctx.country)

    definite = last in DEFINITE_WORDS  # "the 2,500 troops": an existing force, not a flow
    modal = bool(_PLANNED_RE.search(near))
    by_date = _BY_DATE_RE.search(window)
    if by_date:
        diff = _months_before(by_date, published)
        future_by = diff < 0 if diff is not None else not _PAST_RE.search(near)
    else:
        future_by = False

    if "%" in low[start:end] or _RELATIVE_TAIL_RE.match(tail) or (last == "by" and _CHANGE_RE.search(near)):
        role = Role.RELATIVE
    elif last == "from" or _historical(s, low, cstart, num, brk, window, published):
        role = Role.HISTORICAL  # "from 2,500 (to ...)": the level a change starts from
    elif not definite and (last in ADDITION_WORDS or _MOVED_WORD_RE.fullmatch(last)
                           or " ".join(head[-2:]) in ("pull out", "bring home", "pulled out", "brought home")
                           or _MOVED_TAIL_RE.match(tail)):
        role = Role.MOVED
    elif not definite and (modal or future_by or _subject_planned(tail)):
        role = Role.PLANNED
    else:
        role = Role.CURRENT

    if kind == "members":
        actor = (Actor.OTHER if last in CONTRIBUTOR_WORDS
                 else Actor.COALITION if _MEMBER_RE.search(near + " " + window) else Actor.OTHER)
    else:
        np = _NP_RE.match(tail)
        actor = ((_actor(_actors(s, low, start, num + np.end()), np=True) if np else None)
                 or _actor(_actors(s, low, cstart, num)) or _actor(_actors(s, low, 0, cstart))
                 or _actor(_actors(s, low, num, wend)) or ctx.actor)

    if role is Role.HISTORICAL:
        tense = Tense.PAST
    elif role is Role.PLANNED or modal or _SUBJ_FUTURE_RE.match(tail):
        tense = Tense.FUTURE
    else:
        tense = Tense.PAST if _PAST_RE.search(near) else Tense.PRESENT
    return Subject(role, actor, place, Event.NONE, tense)


def _historical(s: str, low: str, cstart: int, num: int, brk: list[tuple[int, int]], window: str,
                published: datetime.date | None) -> bool:
    """Past-time adverbials ("at the time", "a decade ago") or a dated "as of" long past."""
    # fronted adverbials ("At its peak, ...") sit before a comma: look back to a stronger break
    wide = max((b for a, b in brk if b <= num and low[a] in ";(—"), default=0)
    if _HISTORICAL_RE.search(low, wide, num) or _HISTORICAL_RE.search(window):
        return True
    if published is None:
        return False
    dated = [_DATED_PAST_RE.search(low, wide, num), _DATED_PAST_RE.search(window),
             _FRONT_DATE_RE.match(low, wide)]
    # two months' slack: "as of last month" in a report is still the current level
    return any((_months_before(m, published) or 0) >= 2 for m in dated if m)


def _subject_planned(tail: str) -> bool:
    """"500 troops will remain until 2026" is a planned level; "... will remain" alone is not."""
    m = _SUBJ_FUTURE_RE.match(tail)
    return bool(m and _TIME_AFTER_RE.search(m.group("rest")))


# ---------------------------------------------------------------------------------------
# Timelines
# ---------------------------------------------------------------------------------------

def _timeline_subject(s: str, low: str, start: int, end: int, ctx: _Ctx,
                      published: datetime.date | None) -> Subject:
    dates = _dates(s, low)
    own = next((m for m in dates if start <= m.start() < end), None)
    dpos = own.start() if own else start
    brk = _breaks(low, (" and ",))
    # the date's clause: back to the previous date or clause break, forward to the next one,
    # plus a following ", with/including ..." elaboration that states no date of its own
    nxt = min((m.start() for m in dates if m.start() >= end), default=len(low))
    lo = max([m.end() for m in dates if m.end() <= start]
             + [b for a, b in brk if b <= start and low[a:b] != " and "] + [0])
    after = [a for a, _ in brk if end <= a < nxt]  # on the right, "and" starts a new clause too
    hi = after[0] if after else nxt
    if after and _ELABORATION_RE.match(low, hi):
        hi = after[1] if len(after) > 1 else (len(low) if nxt == len(low) else hi)
    region = low[lo:hi]

    found, anaphoric = _mentions(low, ctx, lo, hi)
    ments = _mentions(low, ctx)[0] if anaphoric or not found else found
    here = [(a, p) for a, _, p in ments if lo <= a < hi]
    sub = sorted((abs(a - dpos), p) for a, p in here if len(p) > 1 and p[-1] != "base")
    place = sub[0][1] if sub else here[0][1] if here else ments[0][2][:1] if ments else ctx.country

    p2, p1 = _PHASE2_RE.search(region), _PHASE1_RE.search(region)
    if p1 and p2:  # both named around the date: the nearer one is its phase
        phase = 2 if abs(lo + p2.start() - dpos) < abs(lo + p1.start() - dpos) else 1
    elif p1 or p2:
        phase = 2 if p2 else 1
    else:  # one phase named in the sentence covers all its dates
        p2, p1 = _PHASE2_RE.search(low), _PHASE1_RE.search(low)
        phase = 0 if (p1 and p2) else 2 if p2 else 1 if p1 else 0

    if _START_RE.search(low[max(lo, dpos - 60):dpos]):
        event = Event.START  # "from September 2025", "begins in" ("start by" is a deadline)
    elif any(p[0] == "syria" for _, p in here) and _ELSEWHERE_RE.search(region):
        event = Event.ELSEWHERE
    elif phase:
        event = Event.FINAL if phase == 2 else Event.PHASE_END
    elif sub:  # federal Iraq's bases close in phase 1, the Kurdistan Region in phase 2
        event = Event.PHASE_END if sub[0][1] in _FEDERAL else Event.FINAL
    elif _FINAL_RE.search(region):
        event = Event.FINAL
    elif _PARTIAL_RE.search(region) or _PHASE_NOUN_RE.search(region):
        event = Event.PHASE_END  # some troops/bases leave, or a period ends: not the end
    elif _CONTINUE_RE.search(low, 0, lo) or _CONTINUE_RE.search(low, hi):
        event = Event.PHASE_END  # something else in the sentence goes on after this date
    else:
        event = Event.FINAL  # the mission or presence ends, and nothing is said to go on

    diff = _months_before(own, published)
    if diff is not None:
        tense = Tense.PAST if diff > 0 else Tense.PRESENT if diff == 0 else Tense.FUTURE
    else:
        tense = (Tense.FUTURE if _PLANNED_RE.search(region) else
                 Tense.PAST if _PAST_RE.search(region) else Tense.PRESENT)
    actor = _actor(_actors(s, low, lo, hi)) or _actor(_actors(s, low, 0, len(low))) or ctx.actor
    role = Role.PLANNED if tense is Tense.FUTURE else Role.CURRENT
    return Subject(role, actor, place, event, tense, phase)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

def annotate(sentence: str, start: int, end: int, kind: str, *, context: str = "",
             published: datetime.date | None = None) -> Subject:
    """The subject of the figure at ``sentence[start:end]`` (kind "troops"|"members"|"timeline").

    ``context`` (title and earlier sentences) is only a fallback: its country when the
    sentence names no place, the base "the base" points back to, its actor when the sentence
    names none. ``published`` dates the report: "as of mid-2025" in a later report is
    historical, and "by September" is past or future.
    """
    ctx = _context(context)
    low = _lower(sentence)
    if kind == "timeline":
        return _timeline_subject(sentence, low, start, end, ctx, published)
    return _count_subject(sentence, low, start, end, kind, ctx, published)
