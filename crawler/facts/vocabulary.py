"""Named vocabulary the fact rules share: hedges and bounds written before a figure."""

from __future__ import annotations

APPROX = frozenset(
    "approximately|approx.|about|around|roughly|some|an estimated|estimated|close to|"
    "nearly|almost|just under|just over|~".split("|")
)
UPPER = frozenset(
    "fewer than|less than|under|below|no more than|not more than|at most|up to|"
    "a maximum of|as many as".split("|")
)
LOWER = frozenset(
    "more than|over|at least|upwards of|in excess of|above|exceeding|a minimum of".split("|")
)
INCLUSIVE = frozenset(
    "at least|a minimum of|upwards of|no more than|not more than|at most|up to|"
    "a maximum of|as many as".split("|")
)
EXACT = {"only", "just", "exactly", "precisely", "a total of", "the total of"}
