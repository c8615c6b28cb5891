"""Does a sentence attribute what it states to officials?

A figure "a senior defense official said", "according to the Pentagon", or "in a joint
statement" carries an official voice, even when an outlet reports it; "sources said",
"analysts say" or "reports suggest" do not. Change confirmation weighs the two
differently (see :func:`crawler.changes.rules.confirmed`).
"""

from __future__ import annotations

import re

#: who speaks for a government or a military
OFFICIAL_SPEAKERS = (
    r"officials?|spokes(?:person|man|woman)|press\s+secretary|secretary|minister|ministry|"
    r"department|pentagon|white\s+house|state\s+department|embassy|command|centcom|"
    r"government|governments|administration|military|commander|general|ambassador|envoy|"
    r"prime\s+minister|president|communiqu[eé]|statement|briefing|task\s+force"
)
#: verbs of saying
SAYING = (r"said|says|say|told|tells|announced|announces|confirmed|confirms|stated|states|"
          r"declared|declares|revealed|reveals|noted|notes|added|adds|briefed|according")

_SPEAKER_SAYS_RE = re.compile(
    rf"(?i)\b(?:{OFFICIAL_SPEAKERS})\b(?:\s+[\w.’'-]+){{0,4}}?\s+(?:has\s+|have\s+|had\s+)?"
    rf"(?:publicly\s+)?(?:{SAYING})\b"
)
_SAYS_SPEAKER_RE = re.compile(
    rf"(?i)\b(?:{SAYING})\s+(?:to\s+)?(?:(?:a|an|the|two|several|U\.S\.|US|Iraqi|American|"
    rf"senior|top|defense|defence|military|government|administration|Pentagon)\s+)*"
    rf"(?:{OFFICIAL_SPEAKERS})\b"
)
_STATEMENT_RE = re.compile(
    r"(?i)\b(?:in|via|through)\s+(?:a|an|the|their|its)\s+(?:\w+\s+){0,2}"
    r"(?:statement|communiqu[eé]|announcement|briefing|press\s+release|fact\s+sheet)\b"
    r"|\b(?:joint|official)\s+(?:statement|communiqu[eé]|announcement)\b"
)
#: a source that is not an official voice, even next to a saying verb
_UNOFFICIAL_RE = re.compile(
    r"(?i)\b(?:sources?|analysts?|experts?|observers?|reports?|media|diplomats?\s+said\s+privately|"
    r"anonymous|rumou?rs?|residents?|witnesses?)\s+(?:\w+\s+){0,2}(?:said|say|says|told|suggest\w*)"
)


def attributed(sentence: str) -> bool:
    """Whether the sentence attributes its statement to officials."""
    if _UNOFFICIAL_RE.search(sentence) and not _STATEMENT_RE.search(sentence):
        return bool(_SAYS_SPEAKER_RE.search(sentence))
    return bool(_SPEAKER_SAYS_RE.search(sentence) or _SAYS_SPEAKER_RE.search(sentence)
                or _STATEMENT_RE.search(sentence))
