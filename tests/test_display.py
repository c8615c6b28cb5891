"""Terminal output never passes web text's control characters through."""

from __future__ import annotations

import pytest

from crawler.cli.output import table


def test_piped_table_is_tsv_without_control_characters(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    table(["title", "n"], [["Evil\x1b[2J title\twith\ttabs\nand lines", 3], [None, 4]])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["title\tn", "Evil [2J title with tabs and lines\t3", "\t4"]
