import inspect

import pandas as pd
import pytest

import analytics.core.instruments as instruments_module
from analytics.core.contract import MAX_ITEMS
from analytics.core.instruments import (
    INSTRUMENTS,
    UnknownInstrumentError,
    canonical_instrument,
    detect_instruments,
    get_instrument,
    item_column_map,
    severity_label,
)


# Item counts and ranges from clinical.md: PCL-5 (Blevins 2015), PHQ-9 (Kroenke 2001),
# GAD-7 (Spitzer 2006), BDI-II (Beck 1996), MADRS (Montgomery & Asberg 1979).
@pytest.mark.parametrize(
    "name, n_items, item_max, total_max, response_pct, remission_below",
    [
        ("PCL-5", 20, 4, 80, 30.0, 33.0),
        ("PHQ-9", 9, 3, 27, 50.0, 5.0),
        ("GAD-7", 7, 3, 21, 50.0, 5.0),
        # "<= 13" stored as the strict bound 14
        ("BDI-II", 21, 3, 63, 50.0, 14.0),
        # "<= 12" (SUSTAIN-3) stored as the strict bound 13
        ("MADRS", 10, 6, 60, 50.0, 13.0),
    ],
)
def test_registry_numbers(name, n_items, item_max, total_max, response_pct, remission_below):
    inst = INSTRUMENTS[name]
    assert (inst.n_items, inst.item_min, inst.item_max) == (n_items, 0, item_max)
    assert (inst.total_min, inst.total_max) == (0, total_max)
    assert inst.total_max == inst.n_items * inst.item_max
    assert (inst.response_pct, inst.remission_below) == (response_pct, remission_below)
    assert inst.name == name and inst.label and inst.reference
    assert inst.n_items <= MAX_ITEMS


def test_pcl5_clusters_cover_every_item_once():
    # DSM-5 clusters: B 1-5, C 6-7, D 8-14, E 15-20 (clinical.md)
    clusters = INSTRUMENTS["PCL-5"].clusters
    assert clusters == {
        "B": (1, 2, 3, 4, 5),
        "C": (6, 7),
        "D": (8, 9, 10, 11, 12, 13, 14),
        "E": (15, 16, 17, 18, 19, 20),
    }
    assert INSTRUMENTS["PCL-5"].dx_cluster_min == {"B": 1, "C": 1, "D": 2, "E": 2}
    # no validated severity bands for the PCL-5
    assert INSTRUMENTS["PCL-5"].severity_bands == ()


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("PCL-5", "PCL-5"),
        ("PCL5", "PCL-5"),
        ("pcl-5", "PCL-5"),
        ("PCL 5", "PCL-5"),
        ("PTSD Checklist", "PCL-5"),
        (" ptsd checklist for dsm-5 ", "PCL-5"),
        ("PHQ9", "PHQ-9"),
        ("phq_9", "PHQ-9"),
        ("GAD7", "GAD-7"),
        ("BDI", "BDI-II"),
        ("BDI-2", "BDI-II"),
        ("BDI II", "BDI-II"),
        ("bdi-ii", "BDI-II"),
        ("Montgomery-Asberg", "MADRS"),
        ("madrs", "MADRS"),
        ("HAM-D", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_instrument(spelling, expected):
    assert canonical_instrument(spelling) == expected


def test_get_instrument_lists_valid_names():
    assert get_instrument("pcl 5").name == "PCL-5"
    message = "unknown instrument 'HAMD'; valid instruments: PCL-5, PHQ-9, GAD-7, BDI-II, MADRS"
    for error in (KeyError, ValueError, UnknownInstrumentError):
        with pytest.raises(error, match=message):
            get_instrument("HAMD")


@pytest.mark.parametrize(
    "columns, instrument, expected",
    [
        # canonical and compact names
        (["patient_id", "day", "item_1", "item_2"], "PHQ-9", {"item_1": 1, "item_2": 2}),
        (["item1", "item02"], "GAD-7", {"item1": 1, "item02": 2}),
        # the contract CSV carries item_1..item_21 for every instrument: extras are left out
        ([f"item_{k}" for k in range(1, 22)], "PHQ-9", {f"item_{k}": k for k in range(1, 10)}),
        # REDCap prefixes, zero padding, worded suffixes
        (["pcl5_1", "pcl5_02", "pcl_3", "pcl4"], "PCL-5",
         {"pcl5_1": 1, "pcl5_02": 2, "pcl_3": 3, "pcl4": 4}),
        (["bdi_1_sadness", "bdi_21_interestinsex", "bdi2_3"], "BDI-II",
         {"bdi_1_sadness": 1, "bdi2_3": 3, "bdi_21_interestinsex": 21}),
        (["bdi20", "bdi21"], "BDI-II", {"bdi20": 20, "bdi21": 21}),
        (["madrs_10_suicidal_thoughts"], "MADRS", {"madrs_10_suicidal_thoughts": 10}),
        (["phq9_9", "phq_1"], "phq9", {"phq_1": 1, "phq9_9": 9}),
        # never items: status, totals, timestamps, other instruments, checkbox codes
        (
            ["pcl5_complete", "pcl_total", "pcl5_score", "pcl5_timestamp", "pcl5_1_timestamp"],
            "PCL-5",
            {},
        ),
        (["phq15_1", "gad7_1", "phq9_1___1", "record_id"], "PHQ-9", {}),
    ],
)  # fmt: skip
def test_item_column_map(columns, instrument, expected):
    mapping = item_column_map(columns, instrument)
    assert mapping == {c: f"item_{k}" for c, k in expected.items()}
    # in item order
    assert list(mapping.values()) == sorted(mapping.values(), key=lambda s: int(s[5:]))


@pytest.mark.parametrize(
    "columns, instrument, message",
    [
        (["pcl5_1", "pcl5_21"], "PCL-5", "PCL-5 has items 1-20; column 'pcl5_21' would be item 21"),
        (["phq9_0"], "PHQ-9", "PHQ-9 has items 1-9; column 'phq9_0' would be item 0"),
        (["pcl5_1", "pcl_1"], "PCL-5", "PCL-5 item 1 appears twice: columns 'pcl5_1' and 'pcl_1'"),
        (["item_1", "item1"], "GAD-7", "GAD-7 item 1 appears twice: columns 'item_1' and 'item1'"),
    ],
)
def test_item_column_map_errors(columns, instrument, message):
    with pytest.raises(ValueError, match=message):
        item_column_map(columns, instrument)


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["record_id", "redcap_event_name", "pcl5_1", "pcl5_total"], ["PCL-5"]),
        (["scr_id", "pcl5_1", "bdi_1_sadness", "bdi_complete"], ["PCL-5", "BDI-II"]),
        (["phq_1", "gad7_2", "madrs_3"], ["PHQ-9", "GAD-7", "MADRS"]),
        # out-of-range items still detect, so the map can report them
        (["pcl5_21"], ["PCL-5"]),
        # canonical item columns and totals alone identify nothing
        (["item_1", "item_2", "pcl_total", "phq9_complete"], []),
    ],
)
def test_detect_instruments(columns, expected):
    assert detect_instruments(columns) == expected


@pytest.mark.parametrize(
    "instrument, totals, labels",
    [
        # PHQ-9 bands 5/10/15/20 (Kroenke 2001)
        ("PHQ-9", [0, 4, 5, 9, 10, 14, 15, 19, 20, 27], ["minimal"] * 2 + ["mild"] * 2
         + ["moderate"] * 2 + ["moderately severe"] * 2 + ["severe"] * 2),
        # GAD-7 5/10/15 (Spitzer 2006)
        ("GAD-7", [4, 5, 10, 15], ["minimal", "mild", "moderate", "severe"]),
        # BDI-II 0-13 / 14-19 / 20-28 / 29-63 (Beck 1996)
        ("BDI-II", [13, 14, 19, 20, 28, 29], ["minimal", "mild", "mild", "moderate", "moderate",
                                              "severe"]),
        ("PCL-5", [10, 50], [None, None]),
    ],
)  # fmt: skip
def test_severity_label(instrument, totals, labels):
    got = [None if pd.isna(v) else v for v in severity_label(totals, instrument=instrument)]
    assert got == labels


def test_public_functions_are_documented():
    for name in instruments_module.__all__:
        obj = getattr(instruments_module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__, name


@pytest.mark.parametrize(
    ("number", "label"),
    [
        # The first symptom of each DSM-5 cluster sits where the clusters start (B1, C1, D1, E1).
        (1, "1. Intrusive memories"),
        (6, "6. Avoiding thoughts and feelings"),
        (8, "8. Trouble remembering the event"),
        (15, "15. Irritable or aggressive"),
        (20, "20. Trouble sleeping"),
    ],
)
def test_pcl5_items_are_named_on_screen(number, label):
    pcl5 = INSTRUMENTS["PCL-5"]
    assert len(pcl5.item_labels) == pcl5.n_items == 20
    assert pcl5.item_label(number) == label


def test_items_without_labels_are_named_by_number():
    assert INSTRUMENTS["GAD-7"].item_label(3) == "item 3"
