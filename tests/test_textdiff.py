"""Word diffs: exact reconstruction (Hypothesis), readable ops, trimmed passages."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.changes.textdiff import apply_ops, changed_passage, render_plain, word_diff

# Few distinct words and odd whitespace, so texts share runs and differ in spacing.
WORDS = st.sampled_from(["troops", "2,500", "Iraq", "the", "U.S.", "fewer", "than", "é", ""])
SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \n "])
TEXT = st.lists(st.tuples(WORDS, SPACE), max_size=30).map(
    lambda pairs: "".join(w + s for w, s in pairs)
) | st.text(max_size=60)


@given(TEXT, TEXT)
@settings(max_examples=300)
def test_ops_rebuild_both_texts(old: str, new: str) -> None:
    ops = word_diff(old, new)
    assert "".join(t for op, t in ops if op != "delete") == new
    assert "".join(t for op, t in ops if op != "insert") == old
    assert apply_ops(ops, "new") == new and apply_ops(ops, "old") == old
    assert all(op in ("equal", "insert", "delete") and text for op, text in ops)
    assert all(a[0] != b[0] for a, b in zip(ops, ops[1:], strict=False))  # merged runs


@given(TEXT)
def test_identical_texts_are_one_equal_op(text: str) -> None:
    assert word_diff(text, text) == ([("equal", text)] if text else [])
    assert changed_passage(word_diff(text, text)) == []


def test_changed_figure_is_a_word_replacement() -> None:
    ops = word_diff("about 2,500 troops in Iraq", "about 2,000 troops in Iraq")
    assert ops == [("equal", "about "), ("delete", "2,500"), ("insert", "2,000"),
                   ("equal", " troops in Iraq")]
    assert render_plain(ops) == "about [-2,500-]{+2,000+} troops in Iraq"


def test_spaces_between_changed_words_join_the_change() -> None:
    assert word_diff("a b c", "x y z") == [("delete", "a b c"), ("insert", "x y z")]


def test_changed_passage_keeps_context_around_changes() -> None:
    head = " ".join(f"w{i}" for i in range(40))
    tail = " ".join(f"t{i}" for i in range(40))
    ops = word_diff(f"{head} old {tail}", f"{head} new {tail}")
    passage = changed_passage(ops, context_words=3)
    assert render_plain(passage) == "… w37 w38 w39 [-old-]{+new+} t0 t1 t2 …"
    middle = word_diff(f"a {head} b", f"x {head} y")
    assert render_plain(changed_passage(middle, 2)) == "[-a-]{+x+} w0 w1 … w38 w39 [-b-]{+y+}"
    short = word_diff("keep this old", "keep this new")
    assert changed_passage(short, 12) == short  # nothing long enough to cut
