"""The integer-code paths of assembling and validating an import give what pandas gives.

The canonical tables are sorted, matched and validated on integer codes of the patient ids
rather than on the id strings; each helper is compared here with the pandas operation it
replaces, on hand-made edge cases (missing ids, ties, frames already in order, empty frames).
"""

import numpy as np
import pandas as pd
import pandera.errors as pandera_errors
import pytest

from analytics.ingest.assemble import session_numbers
from analytics.ingest.importer import import_folder
from analytics.ingest.schemas import SCHEMAS, surely_valid, validate_tables
from tests.conftest import SAMPLE


def _sessions(ids, days):
    return pd.DataFrame(
        {
            "patient_id": pd.array(ids, dtype="string"),
            "day": np.asarray(days, dtype=np.int64),
            "session_number": np.arange(1, len(ids) + 1, dtype=np.int64),
            "route": pd.array(["iv"] * len(ids), dtype="string"),
        }
    )


def _effects(ids, days, day_dtype="float64"):
    return pd.DataFrame(
        {
            "patient_id": pd.array(ids, dtype="string"),
            "_t": np.arange(len(ids), dtype=np.float64),
            "effect": pd.array(["nausea"] * len(ids), dtype="string"),
            "_row": np.arange(2, len(ids) + 2),
            "_file": "side_effects.csv",
            "day": pd.array(days, dtype=day_dtype),
        },
        index=np.arange(len(ids)) * 3,
    )


SESSIONS = _sessions(["a", "a", "b", "c"], [0, 7, 0, -3])
MATCH_CASES = [
    (SESSIONS, _effects([], [])),
    (SESSIONS, _effects(["a", "b", "a"], [7.0, 0.0, 0.0])),
    # unknown patient, unknown day, a day between sessions, beyond the range, a missing day
    (SESSIONS, _effects(["a", "z", "b", "a", "a", "c"], [7.0, 0.0, 4.0, 3.5, 99.0, np.nan])),
    (SESSIONS, _effects(["c", "a"], [-3, 7], day_dtype="int64")),
    (_sessions([], []), _effects(["a"], [0.0])),
    (_sessions([], []), _effects([], [])),
]


@pytest.mark.parametrize("sessions, effects", MATCH_CASES)
def test_session_numbers_equal_the_merge(sessions, effects):
    keys = sessions[["patient_id", "day", "session_number"]]
    expected = effects.merge(keys, on=["patient_id", "day"], how="left", validate="many_to_one")
    pd.testing.assert_frame_equal(session_numbers(effects, sessions), expected)


def test_session_numbers_refuse_repeated_sessions_like_the_merge():
    sessions = _sessions(["a", "a"], [0, 0])
    with pytest.raises(pd.errors.MergeError):
        session_numbers(_effects(["a"], [0.0]), sessions)


@pytest.fixture(scope="module")
def sample_tables():
    data = import_folder(SAMPLE).data
    tables = {}
    for name in ("sessions", "assessments", "side_effects", "patients"):
        frame = getattr(data, name).copy()
        frame["_file"] = pd.array([f"{name}.csv"] * len(frame), dtype="string")
        frame["_row"] = pd.array(np.arange(2, len(frame) + 2), dtype="Int64")
        tables[name] = frame
    return tables


def _pandera(table, frame):
    try:
        SCHEMAS[table]().validate(frame, lazy=True)
    except pandera_errors.SchemaErrors:
        return False
    return True


def test_precheck_passes_the_sample(sample_tables):
    for table, frame in sample_tables.items():
        assert surely_valid(table, frame)
        assert _pandera(table, frame)


def _set(column, value):
    def change(frame):
        frame = frame.copy()
        frame.loc[frame.index[3], column] = value
        return frame

    return change


BREAKS = [
    ("sessions", _set("dose_mg", 5000.0)),
    ("sessions", _set("bp_systolic_pre", 10.0)),
    ("sessions", _set("bp_diastolic_peak", np.inf)),
    ("sessions", _set("phase", "later")),
    ("sessions", _set("patient_id", "")),
    ("sessions", _set("patient_id", pd.NA)),
    ("sessions", _set("route", pd.NA)),
    ("sessions", _set("session_number", 0)),
    ("sessions", lambda f: pd.concat([f, f.iloc[[5]]], ignore_index=True)),
    ("sessions", lambda f: f.drop(columns=["route"])),
    ("sessions", lambda f: f.astype({"day": "float64"})),
    ("sessions", lambda f: f.astype({"dose_mg": "object"})),
    ("assessments", _set("instrument", "XYZ")),
    ("assessments", _set("total", 200.0)),
    ("assessments", _set("total", -1.0)),
    ("assessments", lambda f: pd.concat([f, f.iloc[[2]]], ignore_index=True)),
    ("assessments", lambda f: f.drop(columns=["total"])),
    ("side_effects", _set("severity", "awful")),
    ("side_effects", _set("effect", pd.NA)),
    ("patients", _set("first_session_year", 1900)),
    ("patients", _set("first_session_month", 13)),
    ("patients", lambda f: pd.concat([f, f.iloc[[1]]], ignore_index=True)),
    ("patients", _set("patient_id", pd.NA)),
]


@pytest.mark.parametrize("table, change", BREAKS)
def test_precheck_sends_every_broken_table_to_pandera(sample_tables, table, change):
    frame = change(sample_tables[table])
    assert not _pandera(table, frame)
    assert not surely_valid(table, frame)
    problems = validate_tables({table: frame})
    assert problems
