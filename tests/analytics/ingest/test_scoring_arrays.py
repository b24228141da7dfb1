"""Scoring on arrays: the forms are not copied, clusters and the diagnosis are built as arrays.

Each shortcut is compared with the pandas construction it replaces, on random PCL-5 forms (blank,
out-of-range and fractional items included) and on the sample clinic's assessments.
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.core.instruments import get_instrument
from analytics.ingest.importer import import_folder
from analytics.ingest.scoring import score_forms
from tests.conftest import SAMPLE

_ITEM = st.one_of(
    st.just(np.nan),
    st.integers(0, 4).map(float),
    st.sampled_from([5.0, 1.5, -1.0, 0.5, 2.5, -0.5, 3.999, -0.0, np.inf]),
)


def _clusters_pandas(out: pd.DataFrame, inst, x: np.ndarray, ok: np.ndarray, valid: np.ndarray):
    """The column-by-column construction the array version replaces."""
    for key in ("B", "C", "D", "E"):
        out[f"cluster_{key.lower()}"] = np.nan
    out["provisional_dx"] = pd.array([pd.NA] * len(out), dtype="boolean")
    if not inst.clusters:
        return
    present = ok.all(axis=1) & valid
    meets = np.ones(len(out), dtype=bool)
    for key, numbers in inst.clusters.items():
        cols = [i - 1 for i in numbers]
        cluster_ok = ok[:, cols].all(axis=1) & valid
        sums = np.where(cluster_ok, np.where(ok[:, cols], x[:, cols], 0.0).sum(axis=1), np.nan)
        out[f"cluster_{key.lower()}"] = sums
        if inst.dx_item_min is not None and key in inst.dx_cluster_min:
            symptoms = (np.where(ok[:, cols], x[:, cols], 0.0) >= inst.dx_item_min).sum(axis=1)
            meets &= symptoms >= inst.dx_cluster_min[key]
    if inst.dx_cluster_min:
        dx = pd.array(meets, dtype="boolean")
        dx[~present] = pd.NA
        out["provisional_dx"] = dx


def _forms(rows: list[list[float]], n_items: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        np.array(rows, dtype="float64").reshape(len(rows), n_items),
        columns=[f"item_{k}" for k in range(1, n_items + 1)],
        index=pd.RangeIndex(10, 10 + len(rows)),
    )
    frame.insert(0, "patient_id", pd.array([f"P{i}" for i in range(len(rows))], dtype="string"))
    frame["_row"] = np.arange(2, 2 + len(rows))
    return frame


def _same_scores(forms: pd.DataFrame, instrument: str, prorate: bool) -> None:
    before = forms.copy()
    scored, problems = score_forms(forms, instrument=instrument, file="a.csv", prorate=prorate)
    # The caller's frame is untouched.
    pd.testing.assert_frame_equal(forms, before)
    inst = get_instrument(instrument)
    x = scored[list(inst.items)].to_numpy(dtype="float64")
    ok = ~np.isnan(x) & (x == np.round(x)) & (x >= inst.item_min) & (x <= inst.item_max)
    valid = ~(~np.isnan(x) & ~ok).any(axis=1)
    expected = scored.drop(columns=["cluster_b", "cluster_c", "cluster_d", "cluster_e"])
    expected = expected.drop(columns="provisional_dx")
    _clusters_pandas(expected, inst, x, ok, valid)
    pd.testing.assert_frame_equal(scored, expected, check_exact=True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_ITEM, min_size=20, max_size=20), max_size=12), prorate=st.booleans())
def test_pcl5_clusters_on_arrays_equal_the_pandas_construction(rows, prorate):
    _same_scores(_forms(rows, 20), "PCL-5", prorate)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_ITEM, min_size=9, max_size=9), max_size=8))
def test_instruments_without_clusters_get_blank_clusters(rows):
    forms = _forms(rows, 9)
    scored, _ = score_forms(forms, instrument="PHQ-9", file="a.csv")
    assert list(scored.columns[-5:]) == [
        "cluster_b",
        "cluster_c",
        "cluster_d",
        "cluster_e",
        "provisional_dx",
    ]
    assert scored["cluster_b"].dtype == "float64" and scored["cluster_b"].isna().all()
    assert scored["provisional_dx"].dtype == "boolean" and scored["provisional_dx"].isna().all()
    _same_scores(forms, "PHQ-9", False)


def test_whole_number_check_equals_np_round():
    """Items are whole when they equal np.rint of themselves, as np.round with no decimals."""
    items = np.array([0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 3.999, 4.0, np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal(np.rint(items), np.round(items))
    forms = _forms([list(items) + [0.0] * 8], 20)
    scored, problems = score_forms(forms, instrument="PCL-5", file="a.csv")
    flagged = sorted(p.column for p in problems if "whole numbers" in p.rule)
    assert flagged == sorted(
        ["item_3", "item_4", "item_5", "item_6", "item_7", "item_8"] + ["item_10", "item_11"]
    )


def test_sample_assessments_score_as_the_pandas_construction():
    assessments = import_folder(SAMPLE).data.assessments
    pcl = assessments[assessments["instrument"] == "PCL-5"]
    items = [f"item_{k}" for k in range(1, 21)]
    forms = pcl[["patient_id"]].reset_index(drop=True)
    for item in items:
        forms[item] = pcl[item].to_numpy(dtype="float64", na_value=np.nan)
    forms["_row"] = np.arange(len(forms))
    _same_scores(forms, "PCL-5", False)
