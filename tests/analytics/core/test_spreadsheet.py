"""Formula cells: one definition, escaped with an apostrophe in every file written for a user."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.core.spreadsheet import FORMULA_STARTS, csv_bytes, escape_formulas, formula_cells


@pytest.mark.parametrize(
    ("cell", "formula"),
    [
        # OWASP "CSV Injection" payloads
        ("=cmd|' /C calc'!A0", True),
        ('=HYPERLINK("http://x.example","click")', True),
        ("@SUM(1)", True),
        ("+A1", True),
        ("-A1", True),
        ("-2+3+cmd|' /C calc'!A0", True),
        ("\t=1+1", True),
        ("\r=1+1", True),
        ("\t5", True),
        ("+1 555 CALL NOW", True),
        ("=", True),
        ("@", True),
        # plain numbers, placeholders and signed phone numbers: arithmetic at worst
        ("-3", False),
        ("+2.5", False),
        ("-1e-3", False),
        ("-0,5", False),
        ("-", False),
        ("--", False),
        ("+1 555 123 4567", False),
        ("+44 (0)20 7946 0958", False),
        # not at the start, or after a space: a spreadsheet shows it as text
        (" =1", False),
        ("a=b", False),
        ("ann@clinic.org", False),
        ("", False),
        ("mild", False),
    ],
)
def test_formula_cells_of_text(cell, formula):
    assert formula_cells(pd.Series([cell], dtype=object)).tolist() == [formula]
    assert formula_cells(pd.Series([cell], dtype="string")).tolist() == [formula]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        # numbers, dates and missing values are never formulas
        (pd.Series([-1, 2, -3]), [False, False, False]),
        (pd.Series([-1.5, np.nan]), [False, False]),
        (pd.Series(pd.to_datetime(["2025-01-01", None])), [False, False]),
        (pd.Series([None, pd.NA, np.nan], dtype=object), [False, False, False]),
        (pd.Series(["=1", None], dtype="string"), [True, False]),
        # a mixed column: only its text cells are checked
        (pd.Series([-1, "=1", "-1", 3.5], dtype=object), [False, True, False, False]),
        (pd.Series(["=a", "b", "=a"], dtype="category"), [True, False, True]),
        (pd.Series([], dtype=object), []),
    ],
)
def test_formula_cells_of_any_dtype(column, expected):
    flags = formula_cells(column)
    assert flags.dtype == bool
    assert flags.tolist() == expected


def test_formula_cells_needs_a_series():
    with pytest.raises(TypeError, match="raw must be a pandas Series, got list"):
        formula_cells(["=1"])


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            pd.DataFrame({"who": ["=HYPERLINK(1)", "ann", None], "n": [-1, 2, 3]}),
            pd.DataFrame({"who": ["'=HYPERLINK(1)", "ann", None], "n": [-1, 2, 3]}),
        ),
        (
            pd.DataFrame({"site": pd.Series(["+A1", "-", "@x"], dtype="string")}),
            pd.DataFrame({"site": pd.Series(["'+A1", "-", "'@x"], dtype="string")}),
        ),
        (
            pd.DataFrame({"route": pd.Categorical(["=x", "iv", "=x"])}),
            pd.DataFrame({"route": pd.Categorical(["'=x", "iv", "'=x"], categories=["'=x", "iv"])}),
        ),
        # headers too
        (pd.DataFrame({"=bad": [1], "ok": ["\tx"]}), pd.DataFrame({"'=bad": [1], "ok": ["'\tx"]})),
        # nothing to escape: the same table
        (pd.DataFrame({"a": [1.5], "b": ["-2"]}), pd.DataFrame({"a": [1.5], "b": ["-2"]})),
        (pd.DataFrame(), pd.DataFrame()),
    ],
)
def test_escape_formulas(frame, expected):
    before = frame.copy()
    pd.testing.assert_frame_equal(escape_formulas(frame), expected)
    pd.testing.assert_frame_equal(frame, before)


def test_escape_formulas_needs_a_frame():
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame, got Series"):
        escape_formulas(pd.Series(["=1"]))


def test_csv_bytes_writes_escaped_cells():
    frame = pd.DataFrame({"user": ["@admin", "ann"], "detail": ['=HYPERLINK("x")', "{}"]})
    assert csv_bytes(frame) == (b'user,detail\n\'@admin,"\'=HYPERLINK(""x"")"\nann,{}\n')


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from([*FORMULA_STARTS, "a", "1", " ", "(", ".", "e"]))))
def test_an_escaped_cell_is_the_cell_after_an_apostrophe_and_never_a_formula(cells):
    column = pd.Series(cells, dtype=object)
    escaped = escape_formulas(pd.DataFrame({"text": column}))["text"]
    assert not formula_cells(escaped).any()
    flagged = formula_cells(column)
    assert escaped.tolist() == ["'" + c if f else c for c, f in zip(cells, flagged, strict=True)]
