"""util.table.text_table: the one text-table helper (demo, sweep trials, kernels report)."""

import pytest

from tinygrad_lc.util.table import text_table


def test_columns_line_up_floats_show_four_digits_and_no_line_ends_in_a_space():
    out = text_table(["name", "x"], [["a", 1.23456789], ["longer", ""]], indent="  ")
    lines = out.split("\n")
    assert lines == ["  name    x", "  ------  -----", "  a       1.235", "  longer"]
    assert all(line == line.rstrip() for line in lines)


def test_a_row_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match=r"text_table: row 1 has 1 cells, expected 2"):
        text_table(["a", "b"], [[1, 2], [3]])


def test_no_rows_is_the_header_and_its_rule():
    assert text_table(["ab", "c"], []) == "ab  c\n--  -"
