"""Patient ids made comparable (NFKC, invisible characters removed) and ids that differ by case."""

import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.core import spreadsheet
from analytics.ingest import text
from analytics.ingest.text import INVISIBLE_CHARACTERS, normalise_ids, strip_invisible


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        # already normal: unchanged
        ("P001", "P001"),
        ("p 001", "p 001"),
        ("007", "007"),
        # invisible format characters (category Cf) anywhere
        ("P001\u200b", "P001"),  # zero-width space
        ("\ufeffP001", "P001"),  # byte-order mark
        ("P\u200c0\u200d01", "P001"),  # zero-width non-joiner and joiner
        ("P001\u2060", "P001"),  # word joiner
        ("\u200eP001\u200f", "P001"),  # left-to-right and right-to-left marks
        ("P\u00ad001", "P001"),  # soft hyphen
        # spaces that are not spaces, and control characters
        ("P001\u00a0", "P001"),
        ("P\u00a0001", "P001"),
        ("P\u202f001", "P001"),
        ("P\u3164001", "P001"),
        ("P\x01001", "P001"),
        # NFKC: full-width, ligatures, circled and superscript digits
        ("Ｐ００１", "P001"),
        ("ﬁ7", "fi7"),
        ("P①", "P1"),
        ("P²", "P2"),
        # composed and decomposed accents are one id
        ("Jose\u0301", "José"),
        # whitespace trimmed, inner spaces kept
        ("  P001\t", "P001"),
        ("\u2003P001\u3000", "P001"),
        # nothing visible left: missing
        ("\u200b", None),
        (" \u00a0 ", None),
        ("", None),
    ],
)
def test_normalise_ids_one_id(raw, normal):
    ids, pairs = normalise_ids(pd.Series([raw]))
    assert ids.dtype == "string"
    assert ids.tolist() == [pd.NA if normal is None else normal]
    assert pairs == []


@pytest.mark.parametrize(
    ("raw", "ids", "pairs"),
    [
        # ids that look the same are one id
        (["P001", "P001\u200b", "Ｐ００１", "P001 "], ["P001"] * 4, []),
        # ids that differ by case are kept apart and named, sorted, each pair once
        (["p001", "P001"], ["p001", "P001"], [("P001", "p001")]),
        (
            ["ab", "AB", "Ab", "ab"],
            ["ab", "AB", "Ab", "ab"],
            [("AB", "Ab"), ("AB", "ab"), ("Ab", "ab")],
        ),
        # case after normalisation: a zero-width space does not hide a case twin
        (["p001\u200b", "P001"], ["p001", "P001"], [("P001", "p001")]),
        # casefold: the German sharp s
        (["STRASSE1", "straße1"], ["STRASSE1", "straße1"], [("STRASSE1", "straße1")]),
        # missing values stay missing
        ([None, "A", np.nan, pd.NA], [pd.NA, "A", pd.NA, pd.NA], []),
        # numbers are taken as text
        ([7, "7"], ["7", "7"], []),
        ([], [], []),
    ],
)
def test_normalise_ids_many(raw, ids, pairs):
    got, got_pairs = normalise_ids(pd.Series(raw, dtype=object))
    assert got.tolist() == ids
    assert got_pairs == pairs


def test_normalise_ids_keeps_index_and_name():
    raw = pd.Series(["a\u200b", "b"], index=[10, 20], name="patient_id", dtype="string")
    ids, _ = normalise_ids(raw)
    assert ids.index.tolist() == [10, 20]
    assert ids.name == "patient_id"
    assert raw.tolist() == ["a\u200b", "b"]


def test_normalise_ids_needs_a_series():
    with pytest.raises(TypeError, match="raw must be a pandas Series, got list"):
        normalise_ids(["a"])


def test_formula_cells_is_the_one_definition():
    assert text.formula_cells is spreadsheet.formula_cells


def naive_normalise(value: str) -> str | None:
    """Character by character, the plain way, for comparison."""
    kept = "".join(
        c
        for c in value
        if unicodedata.category(c) != "Cf"
        and c not in INVISIBLE_CHARACTERS
        and not (unicodedata.category(c) == "Cc" and not c.isspace())
    )
    kept = unicodedata.normalize("NFKC", kept)
    kept = "".join(
        c
        for c in kept
        if unicodedata.category(c) != "Cf"
        and c not in INVISIBLE_CHARACTERS
        and not (unicodedata.category(c) == "Cc" and not c.isspace())
    ).strip()
    return kept or None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="Pp01 \u200b\ufeff\u00a0Ｐ１\t", max_size=6),
            st.text(max_size=6),
            st.none(),
        ),
        max_size=30,
    )
)
def test_normalise_ids_equals_the_plain_loop(values):
    ids, pairs = normalise_ids(pd.Series(values, dtype=object))
    expected = [None if v is None else naive_normalise(v) for v in values]
    assert [None if v is pd.NA else v for v in ids.tolist()] == expected
    distinct = sorted({v for v in expected if v})
    assert pairs == [
        (a, b)
        for i, a in enumerate(distinct)
        for b in distinct[i + 1 :]
        if a.casefold() == b.casefold()
    ]
    assert all(strip_invisible(v) == v for v in distinct)
