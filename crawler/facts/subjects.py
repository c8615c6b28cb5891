"""Decide what an extracted figure is *about*, from the grammar of its own sentence.

A change alert is only right when the old and the new value describe the same thing. News
reports mix the current level with planned ones, one base with the whole country, Syria or
the region with Iraq, and phase 1 with phase 2. :func:`annotate` reads the clause a figure
sits in and returns a :class:`Subject` (role, actor, place, event, tense, phase) so the
caller compares like with like.

The rules are general vocabulary and clause grammar; no outlet, URL or quoted phrase of any
report is named. Places are paths in a hierarchy (:data:`PLACES`); :func:`place_matches`
says which paths a tracker accepts.

Speed: patterns are compiled once and run on a lower-cased copy of the sentence
(``re.IGNORECASE`` costs ~4x); the few case-sensitive words ("US" vs "us", "May" vs "may")
are checked on the original. Places and actors are found in one pass per sentence, shared
by the sentence's facts. Python's ``re`` costs tens of ns per character scanned while ``in``
costs about one, so each cue list runs only when one of its literal heads occurs (:class:`_Cue`).

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
# Vocabularies (named data): regex alternatives, matched on lower-cased text
# ---------------------------------------------------------------------------------------

#: words pointing back to a place named earlier (in the sentence, else in the context)
ANAPHORS: dict[str, str] = {
    "country": r"the country",
    "base": r"the base|the air ?base",
    "there": r"there(?! (?:is|are|was|were|will|would|have|has|had|may|might|could|remain"
    r"|seem|appear)\b)",  # "there were 2,000" is not a place
}
#: actors; a nationality counts only with a force noun ("Iraqi forces", not "Iraqi officials")
NATIONALITIES = """iraqi kurdish british uk french german italian turkish iranian russian
    australian canadian spanish dutch danish syrian jordanian""".split()
ACTORS: dict[str, str] = {
    "coalition": r"u\.s\.-led (?:\w+ ){0,3}?coalition|us-led (?:\w+ ){0,3}?coalition"
    r"|american-led (?:\w+ ){0,3}?coalition|coalition|allied|nato|multinational"
    r"|international (?:forces|troops)|foreign (?:forces|troops)",
    "other": "|".join(
        rf"{n}\s+(?:security\s+|armed\s+|special\s+)?(?:forces|troops|soldiers|army|personnel|fighters)"
        for n in NATIONALITIES
    ) + "|peshmerga",
    "us": r"u\.s\.(?!\w)|us|usa|united states|americans?|pentagon|washington",
    "militants": r"isis|isil|daesh|islamic state|militants?|jihadists?|insurgents?",
}
NUMWORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozen|several|hundreds|thousands"
    r"|dozens)"
)
NUMBER = rf"(?:\d[\d,.]*|{NUMWORD})(?:(?:\s*(?:-|–|to|or)\s*|\s+)(?:\d[\d,.]*|{NUMWORD})\b)*"
PERSONNEL = (
    r"troops?|soldiers?|personnel|forces?|advis[eo]rs?|service ?members?|servicemen|marines"
    r"|airmen|trainers|contractors|staff|boots|fighters"
)
#: hedges between a cue word and its number ("withdraw *about* 600", "to *fewer than* 500")
HEDGES = frozenset(p.replace("_", " ") for p in """about around approximately roughly nearly almost
    some over just only estimated an a under below between remaining more_than fewer_than
    less_than up_to close_to at_least at_most as_many_as a_total_of a_contingent_of a_force_of
    an_estimated""".split())
DEFINITE_WORDS = frozenset("the its their those these all".split())  # an existing force
ADDITION_WORDS = frozenset("another additional extra further".split())
CONTRIBUTOR_WORDS = frozenset("representing from of".split())  # "personnel from 7 countries"
#: modal and plan verbs: a level they govern is a planned level
PLANNED_CUES = (
    r"\b(?:will|would|shall|plan(?:s|ned)? to|set to|expected to|scheduled to|is to|are to"
    r"|aim(?:s|ed)? to|intend(?:s|ed)? to|going to)\b"
)
#: past-time adverbials; a dated "as of" / "at the start of" is judged against the report date
HISTORICAL_CUES = (
    r"\bat the time\b|\bago\b|\bbefore the (?:drawdown|withdrawal|reduction|pullout|cuts?)\b"
    r"|\bpreviously\b|\bformerly\b|\bused to\b|\bat (?:its|the) (?:peak|height)\b"
    r"|\bin the past\b|\bat one point\b"
)
DATED_PAST_CUES = r"\b(?:as of|as at|back in|at the start of|at the beginning of|at the end of)\s+"
#: a verb whose object is a moved number ("withdraw 600"), and what a moving count does
MOVED_CUES = (
    r"withdr[ae]w\w*|send\w*|sent|deploy\w*|redeploy\w*|dispatch\w*|relocat\w*|evacuat\w*"
    r"|add|adds|added|adding|move|moves|moved|moving|pull\w*|bring|brings|bringing|brought"
)
MOVING_SUBJECT_CUES = (
    r"leave|leaves|leaving|left(?! (?:in|at|behind|there|over|on)\b)|depart\w*|withdr[ae]w\w*"
    r"|arriv\w*|pull(?:ed|ing)? out|head\w* home|return\w* home|redeploy\w*|deployed to"
    r"|mov(?:e|es|ed|ing) (?:to|into|out)\b|relocat\w* to"
    r"|(?:be|been|were|was|are|is) (?:withdrawn|sent|redeployed|relocated|moved|pulled out"
    r"|evacuated)"
)
FLOW_NOUN_CUES = (  # "1,000 more troops", "two new members"
    r"(?:additional|more|extra|new|fresh)\s+(?:\S+\s+)?(?:"
    + PERSONNEL
    + r"|members?|partners?|countries|nations)\b"
)
#: right after the number: "20 percent", "500 more troops than"
RELATIVE_CUES = r"\s*(?:%|per ?cent|percentage)|\s+(?:more|fewer|less)\b[^,;]{0,40}?\bthan\b"
CHANGE_VERBS = (
    r"\b(?:reduc|cut|increas|boost|rais|lower|decreas|shr[iu]nk|grow|grew|drop|fall|fell|trim"
    r"|slash|down)\w*"
)
MEMBER_WORDS = r"\b(?:members?|partners?|coalition)\b"
#: timelines
START_CUES = (
    r"(?:\bfrom|\b(?:start|begin|began|begun|commenc)\w*(?:(?:\s+[\w-]+){0,3}?\s+(?:in|on|from))?"
    r"|\bas of|\beffective)\s+(?:early |mid-?|late |the start of |the beginning of )?$"
)
PHASE2_CUES = r"\b(?:second|2nd|final|last|next) (?:phase|stage)\b|\bphase (?:two|2|ii)\b"
PHASE1_CUES = r"\b(?:first|1st|opening) (?:phase|stage|step)\b|\bphase (?:one|1|i)\b|\binitial\b"
FINAL_CUES = (
    r"\b(?:final|full|fully|complete|completely|total|entire|entirely|all|remainder|remaining"
    r"|closes?|closure)\b|\btask force\b"
)
PARTIAL_CUES = r"\b(?:hundreds|dozens|some|partial|partially|several|a number of|bases|sites)\b"
PHASE_NOUNS = r"\b(?:phase|period|stage|transition)\b"
CONTINUATION_CUES = (
    r"\bcontinu\w*|\bremain(?:der|ing)?\b|\bstay\w*\b[^,.;]*\blonger\b|\bfollowed by\b"
    r"|\bafter which\b|\bthereafter\b|\btransition\w* (?:in)?to\b"
)
ELSEWHERE_CUES = r"\bcontinu\w*|\bsupport\w*"
DATE = (
    r"(?:(?P<q>early|mid|late|the start of|the beginning of|the middle of|the end of)[- ]?)?"
    r"(?:(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
    r"(?:\s+\d{1,2}\b(?:st|nd|rd|th)?)?(?:,?\s+(?P<year>(?:19|20)\d\d))?"
    r"|(?P<y2>(?:19|20)\d\d))\b"
)
_Q_MONTH = {"early": 2, "mid": 6, "late": 11, "the start of": 1, "the beginning of": 1,
            "the middle of": 6, "the end of": 12}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()


# ---------------------------------------------------------------------------------------
# Compiled forms
# ---------------------------------------------------------------------------------------

def _split_top(p: str) -> list[str]:
    """Top-level alternatives of a regex (not inside groups or classes)."""
    out: list[str] = []
    cur: list[str] = []
    depth, in_class, i = 0, False, 0
    while i < len(p):
        c = p[i]
        step = 2 if c == "\\" else 1
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif not in_class and c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0 and not in_class:
            out.append("".join(cur))
            cur, i = [], i + 1
            continue
        cur.append(p[i:i + step])
        i += step
    return out + ["".join(cur)]


def _group_end(p: str) -> int:
    """Index of the parenthesis closing the group that ``p`` opens with."""
    depth = 0
    for j, c in enumerate(p):
        depth += (c == "(") - (c == ")")
        if depth == 0:
            return j
    raise ValueError(p)


def _heads(p: str) -> list[str]:
    """Literal text every match of ``p`` starts with, one per alternative; [] if unknown."""
    out = []
    for alt in _split_top(p):
        while alt.startswith("\\b"):
            alt = alt[2:]
        if alt.startswith("(?:"):  # a leading group: the heads of its alternatives
            j = _group_end(alt)
            inner = [] if alt[j + 1:j + 2] in ("?", "*", "{") else _heads(alt[3:j])
        else:
            head = re.match(r"(?:[^\\\[\](){}?*+|^$.]|\\[.\-])*", alt)
            lit = head.group().replace("\\", "") if head else ""
            inner = [lit[:-1] if alt[len(lit):len(lit) + 1] in ("?", "*", "{") else lit]
        if not inner or not all(inner):
            return []
        out += inner
    return out


class _Cue:
    """A compiled pattern that runs only when one of its literal heads occurs in the text."""

    __slots__ = ("rx", "heads")

    def __init__(self, pattern: str, heads: str | None = None) -> None:
        self.rx = re.compile(pattern)
        self.heads = tuple(_heads(pattern if heads is None else heads))  # () = always run

    def search(self, text: str) -> re.Match[str] | None:
        for h in self.heads:  # a plain loop: any() over a generator costs 40% more here
            if h in text:
                return self.rx.search(text)
        return None if self.heads else self.rx.search(text)

    def match(self, text: str) -> re.Match[str] | None:
        for h in self.heads:
            if h in text:
                return self.rx.match(text)
        return None if self.heads else self.rx.match(text)


_PLACE_KEYS = list(PLACES)
# One pass finds every place, anaphor and actor of a sentence. Opening with
# "\b(?=[first letters])" lets most positions fail at once (3x faster than a bare alternation).
_FIRSTS = "".join(sorted({alt[0] for v in (*PLACES.values(), *ANAPHORS.values(), *ACTORS.values())
                          for alt in _split_top(v)}))
assert _FIRSTS.isalnum(), _FIRSTS  # every alternative must open with a plain letter
_SCAN_RE = re.compile(rf"\b(?=[{_FIRSTS}])(?:" + "|".join(
    [rf"(?P<p{i}>(?:{PLACES[k]})\b)" for i, k in enumerate(_PLACE_KEYS)]
    + [rf"(?P<{k}>(?:{v})\b)" for k, v in ANAPHORS.items()]
    + [rf"(?P<{k}>(?:{v})(?!\w))" for k, v in ACTORS.items()]) + ")")
_DATE_RE = re.compile(r"\b(?=[emltjfasond12])" + DATE)  # timelines only
_ACTOR_KINDS = frozenset(ACTORS)
_NUM_START_RE = re.compile(rf"\d|\b{NUMWORD}\b")
_MOVED_WORD_RE = re.compile(MOVED_CUES)
_SOME = r"(?:about|around|some|nearly|roughly|approximately|another|only|just|under|below)"
_AND_FIGURE_RE = re.compile(rf" and (?:{_SOME} )*(?:\d|{NUMWORD}\b)")  # "... and 900 in Syria"
_MOVED_TAIL = _Cue(  # the counted troops move: "hundreds of troops (will) leave"
    rf"{NUMBER}\s+(?:{FLOW_NOUN_CUES}|(?:[^\s,;]+\s+){{0,5}}?(?:(?:will|would|to|are|were|have"
    rf"|had|began to|could|may|must)\s+)*(?:{MOVING_SUBJECT_CUES})\b)",
                   heads="additional|more|extra|new|fresh|leav|left|depart|withdr|arriv|pull|head|return|redeploy|"
                         "deployed|sent|relocat|mov|evacuated")
_RELATIVE_TAIL = _Cue(rf"{NUMBER}(?:{RELATIVE_CUES})", heads="%|per|more|fewer|less")
_FROM_TO = re.compile(  # "2,500 to fewer than 2,000"
    rf"{NUMBER}\s+to\s+(?:(?:{_SOME}|fewer than|less than|more than)\s+)*(?:\d|{NUMWORD}\b)")
_NUMBER_RE = re.compile(NUMBER)
_PERSONNEL_RE = re.compile(rf"\b(?=[tspfamb])(?:{PERSONNEL})\b")
#: verbs of troops leaving a country
_LEAVING_RE = re.compile(r"\b(?:leav(?:e|es|ing)|left|withdr[ae]w\w*|depart\w*|exit\w*|"
                         r"pull(?:s|ed|ing)?(?:\s+\w+){0,3}?\s+out|go(?:es|ing)? home)\b")
_SUBJ_FUTURE = _Cue(  # the figure is the subject of "will/would"
    rf"{NUMBER}[^,;]{{0,60}}?\b(?:will|would|shall)\b(?P<rest>[^,;]*)", heads="will|would|shall")
_TIME_AFTER = _Cue(rf"\b(?:by|until|through|after|beyond|in)\s+(?:{DATE}|next year|the end of)")
_BY_DATE = _Cue(rf"\b(?:by|until|through)\s+{DATE}")
_DATED_PAST = _Cue(DATED_PAST_CUES + DATE)
_FRONT_DATE = re.compile(rf"\W*(?:in|during|by|until)\s+{DATE}")
_PAST = _Cue(r"\b(?:was|were|had|did|last (?:year|month|week))\b")
(_PLANNED, _HISTORICAL, _CHANGE, _MEMBER, _START, _PHASE2, _PHASE1, _FINAL, _PARTIAL, _PHASE_NOUN,
 _CONTINUE, _ELSEWHERE) = map(_Cue, (
    PLANNED_CUES, HISTORICAL_CUES, CHANGE_VERBS, MEMBER_WORDS, START_CUES, PHASE2_CUES, PHASE1_CUES,
    FINAL_CUES, PARTIAL_CUES, PHASE_NOUNS, CONTINUATION_CUES, ELSEWHERE_CUES))
_ELABORATION_RE = re.compile(r",\s+(?:with|including|as well as)\b")
_COMBINED_RE = re.compile(r"\s*(?:,|and|or|&)\s*(?:neighbou?ring\s+)?$")
_BREAKS = (", ", ";", ": ", " - ", " – ", " — ", "—", "(", ")",
           " but ", " while ", " whereas ", " although ")
_FEDERAL = {("iraq", "federal"), ("iraq", "baghdad"), ("iraq", "ain-al-asad")}

Mention = tuple[int, int, tuple[str, ...]]  # start, end, place path


# ---------------------------------------------------------------------------------------
# One pass over a sentence
# ---------------------------------------------------------------------------------------

def _lower(s: str) -> str:
    low = s.lower()  # offsets must survive: a few characters ("İ") grow when lower-cased
    if len(low) == len(s):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in s)


class _Scan:
    """A sentence read once: places (anaphors resolved), actors and clause breaks."""

    __slots__ = ("s", "low", "places", "actors", "breaks", "_dates")

    def __init__(self, s: str, context: str | None) -> None:
        self.s = s
        self.low = low = _lower(s)
        self.places: list[Mention] = []
        self.actors: list[tuple[int, str]] = []  # (position, kind)
        for m in _SCAN_RE.finditer(low):
            kind = m.lastgroup or ""
            if kind in _ACTOR_KINDS:
                if not low.startswith("us", m.start()) or s.startswith("US", m.start()):  # not "us"
                    self.actors.append((m.start(), kind))
            else:
                path = (_PLACE_KEYS[int(kind[1:])] if kind[0] == "p"
                        else self._resolve(kind, context))
                if path:
                    self.places.append((m.start(), m.end(), path))
        self.breaks = _breaks(low)
        self._dates: list[re.Match[str]] | None = None

    @property
    def dates(self) -> list[re.Match[str]]:
        """Its dates (timelines only, so read on demand); a month must be capitalised: "May"."""
        if self._dates is None:
            self._dates = [m for m in _DATE_RE.finditer(self.low)
                           if not m.group("mon") or self.s[m.start("mon")].isupper()]
        return self._dates

    def _resolve(self, kind: str, context: str | None) -> tuple[str, ...]:
        """What an anaphor points back to: the sentence so far, else the context."""
        out = self.places
        if kind == "there" and out:
            return out[-1][2]  # the place named last
        if kind == "country" and out:
            return out[-1][2][:1]  # the country named last
        bases = [p for _, _, p in out if len(p) > 1]
        if kind == "base" and bases:
            return bases[-1]
        ctx = _context(context) if context is not None else None
        if kind == "base":  # a base of the context, else an unnamed base of the country
            return ctx.base if ctx and ctx.base else (out[-1][2][:1] + ("base",) if out else ())
        return (ctx.last if kind == "there" else ctx.country) if ctx else ()

    def actor(self, lo: int, hi: int, *, np: bool = False) -> Actor | None:
        """The actor named in ``[lo, hi)``: of a noun phrase (US + allies: coalition), else last."""
        kinds = [k for a, k in self.actors if lo <= a < hi]
        if np:
            if "us" in kinds and ("coalition" in kinds or "other" in kinds):
                return Actor.COALITION  # "American and coalition personnel"
            order = ("coalition", "us", "other", "militants")
            return next((Actor(a) for a in order if a in kinds), None)
        kinds = [a for a in kinds if a != "militants"]  # "counter-ISIS" names a target, not actor
        return Actor(kinds[-1]) if kinds else None


_last_scan: tuple[str, str, _Scan] | None = None  # one tuple, read once: safe across threads


def _scan(s: str, context: str) -> _Scan:
    """The sentence's scan; the facts of one sentence come together, so keep the last one."""
    global _last_scan
    last = _last_scan
    if last is None or last[0] != s or last[1] != context:
        last = _last_scan = (s, context, _Scan(s, context))
    return last[2]


def _breaks(low: str, marks: tuple[str, ...] = _BREAKS) -> list[tuple[int, int]]:
    """Clause breaks (commas, semicolons, dashes, brackets, contrastive conjunctions)."""
    out = []
    for b in marks:
        i = low.find(b)
        while i >= 0:
            out.append((i, i + len(b)))
            i = low.find(b, i + 1)
    return sorted(out)


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
    """How many months before the report a date lies (negative: after it)."""
    when = _when(m, published)
    if when is None or published is None:
        return None
    return published.year * 12 + published.month - (when[0] * 12 + when[1])


def _head_words(low: str, pos: int) -> list[str]:
    """The words just before a number, hedges ("about", "fewer than") stripped."""
    words = low[max(0, pos - 80):pos].replace("“", " ").replace('"', " ").split()[-8:]
    while words:
        if len(words) > 2 and " ".join(words[-3:]) in HEDGES:
            del words[-3:]
        elif len(words) > 1 and words[-2] + " " + words[-1] in HEDGES:
            del words[-2:]
        elif words[-1] in HEDGES:
            words.pop()
        else:
            break
    return words


class _Ctx:
    """Places and actor of the preceding text: only a fallback for the sentence."""

    __slots__ = ("country", "base", "last", "actor")

    def __init__(self, text: str) -> None:
        if len(text) > 600:  # the title and the nearest sentences are what a reader recalls
            text = text[:200] + " … " + text[-400:]
        sc = _Scan(text, None)
        self.last = sc.places[-1][2] if sc.places else ()
        self.country = self.last[:1]
        self.base = next((p for _, _, p in reversed(sc.places) if len(p) > 1), ())
        self.actor = sc.actor(0, len(text)) or Actor.UNKNOWN


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

def _count_subject(sc: _Scan, start: int, end: int, kind: str, context: str,
                   published: datetime.date | None) -> Subject:
    """Troop and member counts: role from the words around the number, place from its clause."""
    low, brk = sc.low, sc.breaks
    nm = _NUM_START_RE.search(low, start, end)
    num = nm.start() if nm else start
    cstart = max((b for _, b in brk if b <= num), default=0)  # start of the figure's clause
    wstop = min((a for a, _ in brk if a >= end), default=len(low))
    af = _AND_FIGURE_RE.search(low, end, wstop)  # "2,500 in Iraq and 900 in Syria"
    wend = af.start() if af else wstop
    near, window, tail = low[cstart:num], low[num:wend], low[num:num + 100]
    head = _head_words(low, num)
    last = head[-1] if head else ""

    # place: the figure's own phrase, else its clause, else the sentence, else the context
    right = [m for m in sc.places if num <= m[0] < wend]
    if (len(right) > 1 and right[0][2][0] != right[1][2][0]
            and _COMBINED_RE.match(low, right[0][1], right[1][0])):
        place: tuple[str, ...] = ("centcom",)  # "in Iraq and Syria": several countries
    elif right:
        place = right[0][2]
    else:
        near_ps = [p for a, _, p in sc.places if cstart <= a < num]
        far_ps = [p for a, _, p in sc.places if a < cstart]
        rest = [p for a, _, p in sc.places if a >= wend]
        place = (near_ps[-1] if near_ps else far_ps[-1][:1] if far_ps else rest[0][:1] if rest
                 else _context(context).country)

    definite = last in DEFINITE_WORDS  # "the 2,500 troops ... leaving": an existing force
    modal = bool(_PLANNED.search(near))
    by_date = _BY_DATE.search(window)
    diff = _months_before(by_date, published)
    future_by = bool(by_date) and (diff < 0 if diff is not None else not _PAST.search(near))
    subj_future = _SUBJ_FUTURE.match(tail)  # the figure is the subject of "will/would"

    by_change = last == "by" and _CHANGE.search(near)  # "cut ... by 500"
    if "%" in low[start:end] or _RELATIVE_TAIL.match(tail) or by_change:
        role = Role.RELATIVE
    elif (last == "from" and (_FROM_TO.match(low, num) or _CHANGE.search(near))) or _historical(
            low, cstart, num, brk, window, published):
        role = Role.HISTORICAL  # "from 2,500 to ...", "down from 2,500": where a change starts
    elif not definite and (last in ADDITION_WORDS or _MOVED_WORD_RE.fullmatch(last)
                           or _MOVED_TAIL.match(tail)):
        role = Role.MOVED
    elif not definite and (modal or future_by or (  # "500 will remain until 2026"; not "... remain"
            subj_future is not None and _TIME_AFTER.search(subj_future.group("rest")))):
        role = Role.PLANNED
    else:
        role = Role.CURRENT

    if kind == "members":  # coalition membership vs countries contributing personnel somewhere
        actor = (Actor.OTHER if last in CONTRIBUTOR_WORDS
                 else Actor.COALITION if _MEMBER.search(near + " " + window) else Actor.OTHER)
    else:
        # the figure's noun phrase: "2,500 U.S. troops", "1,500 American and coalition personnel"
        nm2 = _NUMBER_RE.match(low, num)  # no number in the span ("a few troops"): the span's end
        nend = nm2.end() if nm2 else end
        stops = [i for i in (low.find(",", nend), low.find(";", nend), low.find(". ", nend))
                 if i >= 0]
        np = _PERSONNEL_RE.search(low, nend, min(stops + [nend + 60]))
        actor = ((sc.actor(start, np.end(), np=True) if np else None) or sc.actor(cstart, num)
                 or sc.actor(0, cstart) or sc.actor(num, wend) or _context(context).actor)

    if role is Role.HISTORICAL:
        tense = Tense.PAST
    elif role is Role.PLANNED or modal or subj_future:
        tense = Tense.FUTURE
    else:
        tense = Tense.PAST if _PAST.search(near) else Tense.PRESENT
    return Subject(role, actor, place, Event.NONE, tense)


def _historical(low: str, cstart: int, num: int, brk: list[tuple[int, int]], window: str,
                published: datetime.date | None) -> bool:
    """Past-time adverbials ("at the time", "a decade ago"), or a dated "as of" long past."""
    # a fronted adverbial ("At its peak, ...") sits before a comma: look back to a stronger break
    wide = max((b for a, b in brk if b <= num and low[a] in ";(—"), default=0)
    left = low[wide:num]
    if _HISTORICAL.search(left) or _HISTORICAL.search(window):
        return True
    if published is None:
        return False
    dated = (_DATED_PAST.search(left), _DATED_PAST.search(window), _FRONT_DATE.match(left))
    # two months' slack: "as of last month" in a report is still the current level
    return any((_months_before(m, published) or 0) >= 2 for m in dated if m)


# ---------------------------------------------------------------------------------------
# Timelines
# ---------------------------------------------------------------------------------------

def _timeline_subject(sc: _Scan, start: int, end: int, context: str,
                      published: datetime.date | None) -> Subject:
    """Dates: which end (or start) they are, from the date's own clause, then the sentence."""
    low, dates = sc.low, sc.dates
    own = next((m for m in dates if start <= m.start() < end), None)
    dpos = own.start() if own else start
    brk = sorted(sc.breaks + _breaks(low, (" and ",)))
    # The date's clause: back to the previous date or clause break, forward to the next one
    # (there "and" starts a new clause too), plus a following ", with/including ..."
    # elaboration that states no date of its own.
    nxt = min((m.start() for m in dates if m.start() >= end), default=len(low))
    lo = max([m.end() for m in dates if m.end() <= start]
             + [b for a, b in brk if b <= start and low[a:b] != " and "] + [0])
    after = [a for a, _ in brk if end <= a < nxt]
    hi = after[0] if after else nxt
    if after and _ELABORATION_RE.match(low, hi):
        hi = after[1] if len(after) > 1 else (len(low) if nxt == len(low) else hi)
    region = low[lo:hi]

    ments = sc.places
    here = [(a, p) for a, _, p in ments if lo <= a < hi]
    sub = sorted((abs(a - dpos), p) for a, p in here if len(p) > 1 and p[-1] != "base")
    place = (sub[0][1] if sub else here[0][1] if here else ments[0][2][:1] if ments
             else _context(context).country)

    p2, p1 = _PHASE2.search(region), _PHASE1.search(region)
    if p1 and p2:  # both named around the date: the nearer one is its phase
        phase = 2 if abs(lo + p2.start() - dpos) < abs(lo + p1.start() - dpos) else 1
    elif p1 or p2:
        phase = 2 if p2 else 1
    else:  # one phase named in the sentence covers all its dates
        p2, p1 = _PHASE2.search(low), _PHASE1.search(low)
        phase = 0 if (p1 and p2) else 2 if p2 else 1 if p1 else 0

    mine = _when(own, published)
    if _START.search(low[max(lo, dpos - 60):dpos]):
        event = Event.START  # "from September 2025", "begins in" ("start by" is a deadline)
    elif any(p[0] == "syria" for _, p in here) and _ELSEWHERE.search(region):
        event = Event.ELSEWHERE
    elif phase:
        event = Event.FINAL if phase == 2 else Event.PHASE_END
    elif sub:  # federal Iraq's bases close in phase 1, the Kurdistan Region in phase 2
        event = Event.PHASE_END if sub[0][1] in _FEDERAL else Event.FINAL
    elif _FINAL.search(region):
        event = Event.FINAL
    elif _PARTIAL.search(region) or _PHASE_NOUN.search(region):
        event = Event.PHASE_END  # some troops/bases leave, or a period ends: not the end
    elif _CONTINUE.search(low[:lo]) or _CONTINUE.search(low[hi:]) or any(
            w > mine for w in (_when(m, published) for m in dates if m is not own) if w and mine):
        event = Event.PHASE_END  # something goes on after this date, or ends at a later one
    elif _LEAVING_RE.search(region) and _PERSONNEL_RE.search(region):
        event = Event.FINAL  # the troops leave the country, and no part is named: all of them
    else:
        # the mission or presence ends, and nothing says which phase: in a phased
        # withdrawal that is the end of whichever phase the writer had in mind, so it is
        # an end of its own kind, which phase trackers leave alone
        event = Event.END

    diff = _months_before(own, published)
    if diff is not None:  # "called for ... by September" in an October report is past
        tense = Tense.PAST if diff > 0 else Tense.PRESENT if diff == 0 else Tense.FUTURE
    else:
        tense = (Tense.FUTURE if _PLANNED.search(region)
                 else Tense.PAST if _PAST.search(region) else Tense.PRESENT)
    actor = sc.actor(lo, hi) or sc.actor(0, len(low)) or _context(context).actor
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
    sc = _scan(sentence, context)  # the context itself is read only if a fallback needs it
    if kind == "timeline":
        return _timeline_subject(sc, start, end, context, published)
    return _count_subject(sc, start, end, kind, context, published)
