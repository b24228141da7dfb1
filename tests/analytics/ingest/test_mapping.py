"""Header synonyms, presets and wide sheets."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analytics.ingest.importer import ImportOptions, import_files
from analytics.ingest.mapping import (
    ColumnMapping,
    file_key,
    guess_column_days,
    guess_mapping,
    header_key,
    list_presets,
    load_preset,
    save_preset,
    wide_to_long,
)

OPTIONS = ImportOptions(raise_unexpected=True)

EHR_SESSIONS = """Patient ID,Date of Service,Route of Administration,Systolic (pre),CADSS total
X1,2025-01-06,IV Ketamine,130,12
X1,2025-01-08,IV Ketamine,128,9
X2,2025-02-03,Spravato,135,20
"""
EHR_SCORES = """Patient ID,Date of Service,PCL-5 Total
X1,2025-01-06,55
X1,2025-02-03,30
X2,2025-02-03,48
"""


@pytest.mark.parametrize(
    ("header", "key"),
    [("PCL-5 Total", "pcl5total"), (" Patient ID ", "patientid"), ("dose (mg/kg)", "dosemgkg")],
)
def test_header_key(header, key):
    assert header_key(header) == key


def test_guess_mapping_on_an_ehr_export():
    mapping = guess_mapping(
        {
            "sessions": EHR_SESSIONS.splitlines()[0].split(","),
            "assessments": EHR_SCORES.splitlines()[0].split(","),
        }
    )
    assert mapping.columns["sessions"] == {
        "Patient ID": "patient_id",
        "Date of Service": "session_date",
        "Route of Administration": "route",
        "Systolic (pre)": "bp_systolic_pre",
        "CADSS total": "dissociation_cadss",
    }
    assert mapping.columns["assessments"] == {
        "Patient ID": "patient_id",
        "Date of Service": "assessment_date",
    }
    assert mapping.totals == {"assessments": {"PCL-5 Total": "PCL-5"}}


def test_ehr_export_imports_through_the_guessed_mapping():
    files = {"visits.csv": EHR_SESSIONS.encode(), "pcl_scores.csv": EHR_SCORES.encode()}
    mapping = guess_mapping(
        {
            "sessions": EHR_SESSIONS.splitlines()[0].split(","),
            "assessments": EHR_SCORES.splitlines()[0].split(","),
        }
    )
    result = import_files(files, options=OPTIONS, mapping=mapping)
    assert result.ok, [str(p) for p in result.problems]
    assert result.table_of_files == {"visits.csv": "sessions", "pcl_scores.csv": "assessments"}
    a = result.data.assessments
    # X1: first session 2025-01-06 -> day 0; 2025-02-03 is 28 days later.
    assert list(zip(a["patient_id"], a["day"], a["instrument"], a["total"])) == [
        ("X1", 0, "PCL-5", 55.0),
        ("X1", 28, "PCL-5", 30.0),
        ("X2", 0, "PCL-5", 48.0),
    ]
    assert result.data.sessions["route"].tolist() == [
        "iv_ketamine",
        "iv_ketamine",
        "esketamine_nasal",
    ]
    assert result.data.sessions["dissociation_cadss"].tolist() == [12.0, 9.0, 20.0]


def test_wide_by_instrument_totals_become_one_row_per_instrument():
    text = "patient_id,day,PCL-5 Total,PHQ-9 Total\nA,0,50,20\nA,28,30,\n"
    result = import_files({"scores.csv": text.encode()}, options=OPTIONS)
    assert result.ok, [str(p) for p in result.problems]
    a = result.data.assessments.sort_values(["day", "instrument"])
    assert list(zip(a["day"], a["instrument"], a["total"])) == [
        (0, "PCL-5", 50.0),
        (0, "PHQ-9", 20.0),
        (28, "PCL-5", 30.0),
    ]


def test_value_mapping_adds_route_spellings():
    text = "patient_id,day,route\nA,0,Ket Inf\n"
    mapping = ColumnMapping(values={"route": {"Ket Inf": "iv_ketamine"}})
    result = import_files({"sessions.csv": text.encode()}, options=OPTIONS, mapping=mapping)
    assert result.ok, [str(p) for p in result.problems]
    assert result.data.sessions["route"].tolist() == ["iv_ketamine"]


def test_explicit_mapping_wins_over_synonyms():
    text = "Subject,Visit,Tx\nA,0,IV\n"
    mapping = ColumnMapping(columns={"sessions": {"Visit": "day", "Tx": "route"}})
    result = import_files({"sessions.csv": text.encode()}, options=OPTIONS, mapping=mapping)
    assert result.ok, [str(p) for p in result.problems]
    assert result.data.sessions["patient_id"].tolist() == ["A"]


def test_preset_round_trip_and_listing(tmp_path):
    mapping = ColumnMapping(
        columns={"sessions": {"Patient ID": "patient_id"}},
        values={"route": {"Ket Inf": "iv_ketamine"}},
        totals={"assessments": {"PCL-5 Total": "PCL-5"}},
        name="Clinic EHR",
    )
    assert list_presets(tmp_path / "none") == []
    path = save_preset(mapping, tmp_path / "presets" / "clinic_ehr.json")
    save_preset(ColumnMapping(name="other"), tmp_path / "presets" / "a_other.json")
    assert load_preset(path) == mapping
    assert list_presets(tmp_path / "presets") == ["a_other", "clinic_ehr"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("[1, 2]", "a column mapping must be a JSON object"),
        ('{"columns": {}, "colour": 1}', "unknown keys in column mapping: colour"),
        ('{"columns": {"sessions": ["x"]}}', "'columns' must map names to objects of strings"),
        ("{not json", "bad.json is not valid JSON: "),
    ],
)
def test_load_preset_errors(tmp_path, payload, message):
    path = tmp_path / "bad.json"
    path.write_text(payload)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_preset(path)


def test_saved_preset_is_plain_json(tmp_path):
    path = save_preset(ColumnMapping(name="x"), tmp_path / "x.json")
    assert json.loads(path.read_text()) == {
        "columns": {},
        "date_order": None,
        "name": "x",
        "tables": {},
        "totals": {},
        "values": {},
    }


def test_preset_keeps_tables_values_and_date_order(tmp_path):
    mapping = ColumnMapping(
        columns={"sessions": {"Medication": "route"}},
        values={"route": {"Spravato 56mg": "esketamine_nasal"}, "yes_no": {"oui": "yes"}},
        name="clinic",
        tables={"visitsexport": "sessions", "pclscores": "assessments"},
        date_order="mdy",
    )
    loaded = load_preset(save_preset(mapping, tmp_path / "clinic.json"))
    assert loaded == mapping
    assert loaded.table_for("Visits_Export_2026.csv") == "sessions"


def test_a_preset_saved_before_tables_and_date_order_still_loads(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "columns": {"sessions": {"Pt": "patient_id"}},
                "name": "old",
                "totals": {},
                "values": {"route": {"Ket Inf": "iv_ketamine"}},
            }
        )
    )
    loaded = load_preset(path)
    assert loaded.tables == {} and loaded.date_order is None
    assert loaded.columns == {"sessions": {"Pt": "patient_id"}}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"date_order": "ymd"}, "date_order must be one of dmy, mdy or None, got 'ymd'"),
        ({"tables": {"visits": "visits"}}, "tables maps 'visits' to 'visits'; expected one of"),
    ],
)
def test_mapping_refuses_unknown_tables_and_date_orders(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        ColumnMapping(**kwargs)


@pytest.mark.parametrize(
    ("file", "key"),
    [
        ("Visits_Export_2025.csv", "visitsexport"),
        ("Visits_Export_2026.csv", "visitsexport"),
        ("visits-export 2025-03-01.CSV", "visitsexport"),
        ("Visits Export March 2025.csv", "visitsexport"),
        ("PCL5_Scores.csv", "pclscores"),
        ("sessions", "sessions"),
    ],
)
def test_file_key(file, key):
    assert file_key(file) == key


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("BP", "bp_pre"),
        ("Blood pressure", "bp_pre"),
        ("BP pre", "bp_pre"),
        ("Pre BP", "bp_pre"),
        ("Baseline BP", "bp_pre"),
        ("BP (pre)", "bp_pre"),
        ("Peak BP", "bp_peak"),
        ("BP peak", "bp_peak"),
        ("Max BP", "bp_peak"),
        ("BP (40 min)", "bp_peak"),
        ("Medication", "route"),
        # post is not peak: the discharge reading is lower than the peak (mapping docstring)
        ("Post BP", None),
        ("Systolic (post)", None),
    ],
)
def test_session_header_synonyms(header, canonical):
    guessed = guess_mapping({"sessions": ["Patient ID", header]}).columns["sessions"]
    assert guessed.get(header) == canonical


def test_every_canonical_column_has_a_label():
    from analytics.ingest.mapping import COLUMN_LABELS, SYNONYMS

    canonical = {c for table in SYNONYMS.values() for c in table}
    assert canonical <= set(COLUMN_LABELS)


@pytest.mark.parametrize(
    ("columns", "days"),
    [
        (["baseline", "pre", "24h"], {"baseline": 0, "pre": 0, "24h": 1}),
        (["week_1", "Week 4", "wk12"], {"week_1": 7, "Week 4": 28, "wk12": 84}),
        (
            ["day_30", "d90", "month_3", "pcl_week_2"],
            {"day_30": 30, "d90": 90, "month_3": 90, "pcl_week_2": 14},
        ),
        (["patient_id", "age", "arm"], {}),
    ],
)
def test_guess_column_days(columns, days):
    assert guess_column_days(columns) == days


def test_wide_to_long():
    wide = pd.DataFrame(
        {
            "id": ["A", "B"],
            "baseline": ["50", "44"],
            "week_1": ["40", None],
            "day_30": ["28", "30"],
            "_row": [2, 3],
        }
    )
    long, problems = wide_to_long(
        wide,
        id_column="id",
        column_days=guess_column_days(["baseline", "week_1", "day_30"]),
        file="wide.csv",
    )
    assert problems == []
    assert long[["patient_id", "day", "total", "_row"]].values.tolist() == [
        ["A", 0, "50", 2],
        ["A", 7, "40", 2],
        ["A", 30, "28", 2],
        ["B", 0, "44", 3],
        ["B", 30, "30", 3],
    ]
    assert set(long["instrument"]) == {"PCL-5"}


def test_wide_to_long_unmapped_timepoint_is_an_error():
    wide = pd.DataFrame({"id": ["A"], "baseline": ["50"], "followup": ["30"], "age": ["40"]})
    long, problems = wide_to_long(
        wide, id_column="id", column_days={"baseline": 0}, file="wide.csv", ignore=["age"]
    )
    assert long.empty
    assert [str(p) for p in problems] == [
        "error: wide.csv: these columns have no day: followup (give each timepoint column a "
        "day, or mark it as not a timepoint)"
    ]
