import numpy as np
import pandas as pd
import pytest

from analytics.core.problems import ERROR, WARNING
from analytics.ingest.scoring import score_forms

NAN = np.nan


def forms_frame(rows: list[list[float]], totals=None, n_items: int | None = None) -> pd.DataFrame:
    """Forms with items as given (NaN = blank), spreadsheet rows from 2, an optional total."""
    n = n_items or len(rows[0])
    data = {"patient_id": [f"p{i}" for i in range(len(rows))], "_row": range(2, len(rows) + 2)}
    for k in range(1, n + 1):
        data[f"item_{k}"] = [float(r[k - 1]) for r in rows]
    frame = pd.DataFrame(data)
    if totals is not None:
        frame["total"] = pd.Series(totals, dtype="float64")
    return frame


def pcl(**items: float) -> list[float]:
    """A PCL-5 form with every item 0 except those given as i<k>=value."""
    form = [0.0] * 20
    for key, value in items.items():
        form[int(key[1:]) - 1] = value
    return form


# PCL-5 scoring (Blevins et al. 2015, J Trauma Stress 28:489; NCPTSD "Using the PCL-5"):
# total = sum of 20 items 0-4; clusters B 1-5, C 6-7, D 8-14, E 15-20; provisional diagnosis
# needs an item >= 2 in at least 1 B, 1 C, 2 D and 2 E items. Expected values worked by hand.
@pytest.mark.parametrize(
    "form, total, clusters, dx",
    [
        # all zeros
        (pcl(), 0.0, (0, 0, 0, 0), False),
        # all fours: 20 x 4 = 80; clusters 5x4, 2x4, 7x4, 6x4
        ([4.0] * 20, 80.0, (20, 8, 28, 24), True),
        # exactly 1 B, 1 C, 2 D, 2 E at 2: meets the rule
        (pcl(i1=2, i6=2, i8=2, i9=2, i15=2, i16=2), 12.0, (2, 2, 4, 4), True),
        # one D short
        (pcl(i1=2, i6=2, i8=2, i15=2, i16=2), 10.0, (2, 2, 2, 4), False),
        # the second D item rated 1 ("A little bit") is not a symptom
        (pcl(i1=2, i6=2, i8=2, i9=1, i15=2, i16=2), 11.0, (2, 2, 3, 4), False),
        # C missing entirely, everything else high
        (pcl(i1=4, i2=4, i8=3, i9=3, i15=3, i16=3), 20.0, (8, 0, 6, 6), False),
        # one D and one E short although the total, 8 x 4 + 4 + 1 = 37, is above the cut-point
        (pcl(i1=4, i2=4, i3=4, i4=4, i5=4, i6=4, i7=4, i8=4, i15=4, i16=1), 37.0, None, False),
    ],
)
def test_pcl5_total_clusters_and_diagnosis(form, total, clusters, dx):
    scored, problems = score_forms(forms_frame([form]), instrument="PCL-5", file="a.csv")
    row = scored.iloc[0]
    assert problems == []
    assert row["total"] == total
    assert not row["prorated"]
    assert bool(row["provisional_dx"]) is dx
    if clusters is not None:
        got = tuple(row[f"cluster_{c}"] for c in "bcde")
        assert got == clusters


@pytest.mark.parametrize(
    "instrument, items, total",
    [
        # PHQ-9: 9 items 0-3, total 0-27 (Kroenke 2001)
        ("PHQ-9", [3, 3, 3, 2, 2, 1, 1, 0, 0], 15.0),
        ("phq9", [3] * 9, 27.0),
        # GAD-7: 7 items 0-3, total 0-21 (Spitzer 2006)
        ("GAD-7", [1, 2, 3, 0, 1, 2, 3], 12.0),
        # BDI-II: 21 items 0-3, total 0-63 (Beck 1996)
        ("BDI-II", [0, 1, 2, 3] * 5 + [3], 33.0),
        ("BDI II", [3] * 21, 63.0),
        # MADRS: 10 items 0-6, total 0-60 (Montgomery & Asberg 1979)
        ("MADRS", [6, 5, 4, 3, 2, 1, 0, 0, 1, 2], 24.0),
        ("MADRS", [6] * 10, 60.0),
    ],
)
def test_other_instrument_totals(instrument, items, total):
    scored, problems = score_forms(forms_frame([items]), instrument=instrument, file="a.csv")
    assert problems == []
    assert scored["total"].tolist() == [total]
    assert scored["cluster_b"].isna().all()
    assert scored["provisional_dx"].isna().all()
    assert str(scored["provisional_dx"].dtype) == "boolean"


# Proration (our default, clinical.md "Missing items"): mean of answered x N for at most 2
# missing items; flagged; never used for clusters or the diagnosis.
@pytest.mark.parametrize(
    "form, prorate, total, prorated, rule",
    [
        # 19 items at 2, item 20 blank: 38 / 19 x 20 = 40
        ([2.0] * 19 + [NAN], True, 40.0, True, "total prorated from 19 of 20 items"),
        # 18 answered summing 27: 27 / 18 x 20 = 30
        ([1.0, 2.0] * 9 + [NAN, NAN], True, 30.0, True, "total prorated from 18 of 20 items"),
        # 17 answered summing 34: 34 / 17 x 20 = 40 (unrounded)
        ([2.0] * 17 + [NAN] * 3, True, NAN, False, "incomplete form: 17 of 20 items answered"),
        # 19 answered summing 20: 20 / 19 x 20 = 21.0526... kept unrounded
        ([1.0] * 18 + [2.0, NAN], True, 400 / 19, True, "total prorated from 19 of 20"),
        # without the option nothing is prorated
        ([2.0] * 19 + [NAN], False, NAN, False, "incomplete form: 19 of 20 items answered"),
    ],
)
def test_proration(form, prorate, total, prorated, rule):
    scored, problems = score_forms(
        forms_frame([form]), instrument="PCL-5", file="a.csv", prorate=prorate
    )
    row = scored.iloc[0]
    np.testing.assert_allclose(row["total"], total)
    assert row["prorated"] == prorated
    assert pd.isna(row["provisional_dx"])
    assert pd.isna(row["cluster_e"])  # item 20 (an E item) is blank in every case
    assert row["cluster_b"] == sum(form[:5])  # B is complete: scored from its own items
    assert [(p.severity, p.row) for p in problems] == [(WARNING, 2)]
    assert problems[0].rule.startswith(rule)


def test_blank_forms_are_missing_not_zero():
    blank = [NAN] * 20
    frame = forms_frame([pcl(i1=1), blank, blank, blank], totals=[1, NAN, 0, 45])
    scored, problems = score_forms(frame, instrument="PCL-5", file="x.csv")
    # row 3 (blank, no total) and row 4 (blank, REDCap's 0) are dropped; row 5 is total-only
    assert scored["_row"].tolist() == [2, 5]
    assert scored["total"].tolist() == [1.0, 45.0]
    assert scored.index.tolist() == [0, 3]
    assert [(p.severity, p.row, p.column, p.value) for p in problems] == [
        (WARNING, 4, "total", "0")
    ]
    assert problems[0].rule == (
        "every item is blank; the stored total 0 is ignored and the form is treated as missing"
    )


def test_total_only_upload_keeps_zero_and_checks_range():
    frame = forms_frame([[NAN] * 9] * 4, totals=[0, 12, NAN, 28])
    scored, problems = score_forms(frame, instrument="PHQ-9", file="t.csv")
    np.testing.assert_array_equal(scored["total"], [0.0, 12.0, NAN])
    assert scored["_row"].tolist() == [2, 3, 5]
    assert [(p.severity, p.row, p.value) for p in problems] == [(ERROR, 5, "28")]
    assert problems[0].rule == "PHQ-9 totals are from 0 to 27"


def test_stored_total_is_checked_against_and_overruled_by_items():
    frame = forms_frame([[2.0] * 20, [2.0] * 20, [2.0] * 18 + [NAN, NAN]], totals=[38, 40, 36])
    scored, problems = score_forms(
        frame, instrument="PCL-5", file="r.csv", source_columns={"total": "pcl_total"}
    )
    assert scored["total"].tolist()[:2] == [40.0, 40.0]
    # a skip-blank sum of an incomplete form is not trusted
    assert np.isnan(scored["total"].iloc[2])
    assert [(p.row, p.column, p.rule) for p in problems] == [
        (2, "pcl_total", "stored total 38 differs from the sum of the items 40; the sum is used"),
        (4, None, "incomplete form: 18 of 20 items answered; not scored"),
    ]


@pytest.mark.parametrize(
    "instrument, n, bad_value, rule",
    [
        ("PCL-5", 20, 5.0, "PCL-5 items are whole numbers from 0 to 4"),
        ("PCL-5", 20, 2.5, "PCL-5 items are whole numbers from 0 to 4"),
        ("PCL-5", 20, -1.0, "PCL-5 items are whole numbers from 0 to 4"),
        ("PHQ-9", 9, 4.0, "PHQ-9 items are whole numbers from 0 to 3"),
        ("MADRS", 10, 7.0, "MADRS items are whole numbers from 0 to 6"),
    ],
)
def test_item_out_of_range_is_an_error_naming_the_column(instrument, n, bad_value, rule):
    form = [1.0] * n
    form[2] = bad_value
    scored, problems = score_forms(
        forms_frame([[1.0] * n, form]),
        instrument=instrument,
        file="f.csv",
        source_columns={"item_3": "q3"},
    )
    assert [(p.severity, p.row, p.column, p.value, p.rule) for p in problems] == [
        (ERROR, 3, "q3", f"{bad_value:g}", rule)
    ]
    assert scored["total"].iloc[0] == n
    assert np.isnan(scored["total"].iloc[1])


def test_answers_beyond_the_item_count_are_errors():
    frame = forms_frame([[1.0] * 9 + [NAN], [1.0] * 9 + [2.0]])
    scored, problems = score_forms(frame, instrument="PHQ-9", file="f.csv")
    assert [(p.row, p.column, p.rule) for p in problems] == [
        (3, "item_10", "PHQ-9 has 9 items; item_10 must be blank")
    ]
    assert scored["total"].tolist()[0] == 9.0
    assert np.isnan(scored["total"].iloc[1])


def test_missing_item_columns_and_no_stored_total():
    frame = pd.DataFrame({"_row": [2], "item_1": [1.0], "extra": ["kept"]})
    scored, problems = score_forms(frame, instrument="GAD-7", file="f.csv", stored_total_col=None)
    assert [f"item_{k}" in scored for k in range(1, 8)] == [True] * 7
    assert scored["extra"].tolist() == ["kept"]
    assert problems[0].rule == "incomplete form: 1 of 7 items answered; not scored"


def test_input_frame_is_not_mutated():
    frame = forms_frame([[1.0] * 9], totals=[3])
    before = frame.copy()
    score_forms(frame, instrument="PHQ-9", file="f.csv")
    pd.testing.assert_frame_equal(frame, before)


def naive_score(items: list[float], prorate: bool) -> tuple[float, bool, object]:
    """One PCL-5 form, written plainly, as a reference for the vectorised code."""
    answered = [v for v in items if not np.isnan(v)]
    if len(answered) == 20:
        symptom = [v >= 2 for v in items]
        dx = (
            sum(symptom[0:5]) >= 1
            and sum(symptom[5:7]) >= 1
            and sum(symptom[7:14]) >= 2
            and sum(symptom[14:20]) >= 2
        )
        return sum(items), False, dx
    if prorate and 18 <= len(answered) < 20:
        return sum(answered) / len(answered) * 20, True, pd.NA
    return NAN, False, pd.NA


def test_matches_naive_reference_on_random_forms():
    rng = np.random.default_rng(20240501)
    items = rng.integers(0, 5, size=(2000, 20)).astype(float)
    # 0-4 blanks per form, so every proration case occurs
    for i, n_blank in enumerate(rng.integers(0, 5, size=2000)):
        items[i, rng.choice(20, size=n_blank, replace=False)] = NAN
    scored, _ = score_forms(forms_frame(items.tolist()), instrument="PCL-5", file="r", prorate=True)
    expected = [naive_score(list(row), True) for row in items]
    np.testing.assert_allclose(scored["total"], [e[0] for e in expected])
    assert scored["prorated"].tolist() == [e[1] for e in expected]
    got_dx = [None if pd.isna(v) else bool(v) for v in scored["provisional_dx"]]
    assert got_dx == [None if e[2] is pd.NA else e[2] for e in expected]
