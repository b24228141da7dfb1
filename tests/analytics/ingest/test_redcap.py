import numpy as np
import pandas as pd
import pytest

from analytics.core.problems import ERROR, WARNING
from analytics.ingest.redcap import convert_redcap, parse_events, stored_total_column
from analytics.ingest.scoring import score_forms

EVENTS = {"baseline_arm_1": 0, "week_4_arm_1": 28}


def export(rows: list[dict], items: dict[str, int]) -> pd.DataFrame:
    """A REDCap raw export as the reader gives it: strings, NA for blank, lower-case headers,
    a leading unnamed index column and the reader's ``_row``."""
    columns = ["", "scr_id", "scr_dem_age", "redcap_event_name"]
    columns += ["redcap_repeat_instrument", "redcap_repeat_instance"]
    for prefix, n in items.items():
        columns += [f"{prefix}{k}" for k in range(1, n + 1)]
        columns += [f"{prefix}total", f"{prefix}complete"]
    frame = pd.DataFrame(rows, columns=columns).astype("string")
    frame[""] = [str(i) for i in range(len(frame))]
    frame.insert(0, "_row", range(2, len(frame) + 2))
    return frame


def form(prefix: str, values, total=None) -> dict:
    """Answers written as REDCap-with-pandas writes them ("3.0"); None for blank."""
    cells = {f"{prefix}{k}": (None if v is None else f"{float(v):.1f}") for k, v in
             enumerate(values, start=1)}  # fmt: skip
    cells[f"{prefix}total"] = None if total is None else f"{float(total):.1f}"
    cells[f"{prefix}complete"] = "2"
    return cells


def record(rid: str, event: str, *forms: dict) -> dict:
    row = {"scr_id": rid, "scr_dem_age": "41", "redcap_event_name": event}
    for f in forms:
        row |= f
    return row


def synthetic() -> pd.DataFrame:
    blank_pcl, blank_phq = form("pcl5_", [None] * 20), form("phq9_", [None] * 9)
    return export(
        [
            # row 2: full PCL-5 (sum 60) and an empty PHQ-9 whose calculated total reads 0
            record("K01", "baseline_arm_1", form("pcl5_", [3] * 20, 60),
                   form("phq9_", [None] * 9, 0)),
            # row 3: PCL-5 with item 20 blank (REDCap's skip-blank sum 55); PHQ-9 all 1
            record("K01", "week_4_arm_1", form("pcl5_", [3] * 18 + [1, None], 55),
                   form("phq9_", [1] * 9, 9)),
            # row 4: nothing answered at all
            record("K02", "baseline_arm_1", blank_pcl, blank_phq),
            # rows 5-6: events not in the table
            record("K02", "follow_up_arm_1", form("pcl5_", [1] * 20, 20), blank_phq),
            record("K03", "other_arm_1", form("pcl5_", [0] * 20, 0), blank_phq),
            # row 7: only a PHQ-9
            record("K03", "baseline_arm_1", blank_pcl, form("phq9_", [3, 3, 3, 2, 2, 1, 1, 0, 0])),
        ],
        {"pcl5_": 20, "phq9_": 9},
    )  # fmt: skip


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("baseline_arm_1=0", {"baseline_arm_1": 0}),
        (
            "screening_arm_1=-14,baseline_arm_1=0,week_4_arm_1=28",
            {"screening_arm_1": -14, "baseline_arm_1": 0, "week_4_arm_1": 28},
        ),
        (" Baseline_Arm_1 = 0 , week_1_arm_1=+7, ", {"baseline_arm_1": 0, "week_1_arm_1": 7}),
    ],
)
def test_parse_events(spec, expected):
    assert parse_events(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "the events table is empty; give name=day pairs such as"),
        (" , ", "the events table is empty"),
        ("baseline_arm_1", "event 'baseline_arm_1' has no '=': give name=day pairs"),
        ("=0", "event '=0' has no name before '='"),
        ("week_4_arm_1=4w", "event 'week_4_arm_1': the day must be a whole number, got '4w'"),
        ("week_4_arm_1=2.5", "event 'week_4_arm_1': the day must be a whole number, got '2.5'"),
        ("a=1,A=2", "event 'A' is given twice"),
    ],
)
def test_parse_events_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_events(spec)


def test_converts_synthetic_export():
    tables, problems = convert_redcap(synthetic(), events=EVENTS, file="study.csv")
    out = tables["assessments"]
    assert list(tables) == ["assessments"]
    assert list(out.columns) == ["patient_id", "day", "instrument", "total"] + [
        f"item_{k}" for k in range(1, 21)
    ]
    # row 4 is blank and rows 5-6 have unmapped events; the empty PHQ-9 of row 2 keeps its
    # calculated 0 for the importer to drop with a warning
    got = out[["patient_id", "day", "instrument", "total"]].astype(object).values.tolist()
    assert [r[:3] for r in got] == [
        ["K01", 0, "PCL-5"],
        ["K01", 0, "PHQ-9"],
        ["K01", 28, "PCL-5"],
        ["K01", 28, "PHQ-9"],
        ["K03", 0, "PHQ-9"],
    ]
    np.testing.assert_array_equal(out["total"], [60.0, 0.0, 55.0, 9.0, np.nan])
    assert out.loc[0, "item_1"] == 3.0 and out.loc[0, "item_20"] == 3.0
    assert out.loc[2, "item_19"] == 1.0 and np.isnan(out.loc[2, "item_20"])
    # PHQ-9 rows leave items beyond 9 blank
    assert out.loc[out["instrument"] == "PHQ-9", "item_10":"item_20"].isna().all().all()
    assert str(out["day"].dtype) == "int64" and str(out["patient_id"].dtype) == "string"
    # the unmapped events are reported once, all of them
    assert [(p.severity, p.row, p.column, p.rule) for p in problems] == [
        (
            ERROR,
            None,
            "redcap_event_name",
            "events missing from the events table: follow_up_arm_1, other_arm_1; "
            "add each as name=day",
        )
    ]


def test_converted_forms_score_as_expected():
    out = convert_redcap(synthetic(), events=EVENTS)[0]["assessments"]
    pcl = out[out["instrument"] == "PCL-5"].assign(_row=[2, 3])
    scored, problems = score_forms(pcl, instrument="PCL-5", file="study.csv")
    # 20 x 3 = 60; the week-4 form misses item 20, so its stored 55 is not trusted
    np.testing.assert_array_equal(scored["total"], [60.0, np.nan])
    assert [p.rule for p in problems] == ["incomplete form: 19 of 20 items answered; not scored"]
    phq = out[out["instrument"] == "PHQ-9"].assign(_row=[2, 3, 7])
    scored, problems = score_forms(phq, instrument="PHQ-9", file="study.csv")
    # row 2's empty form is dropped; 9 x 1 = 9; 3+3+3+2+2+1+1+0+0 = 15
    assert scored["total"].tolist() == [9.0, 15.0]
    assert problems[0].rule.startswith("every item is blank; the stored total 0 is ignored")


@pytest.mark.parametrize(
    "columns, id_field, expected",
    [
        (["", "scr_id", "redcap_event_name"], None, "scr_id"),
        (["unnamed: 0", "record_id", "site_id", "redcap_event_name"], None, "record_id"),
        (["study_id", "record_id", "redcap_event_name"], None, "study_id"),
        (["patient", "record_id", "redcap_event_name"], "Patient", "patient"),
    ],
)
def test_record_id_column(columns, id_field, expected):
    cells = {c: f"{c or 'index'}-value" for c in columns} | {"redcap_event_name": "baseline_arm_1"}
    frame = pd.DataFrame([cells], dtype="string").assign(pcl5_1="2")
    out = convert_redcap(frame, events=EVENTS, id_field=id_field)[0]["assessments"]
    assert out["patient_id"].tolist() == [f"{expected}-value"]


@pytest.mark.parametrize(
    "columns, id_field, rule",
    [
        (
            ["", "name", "redcap_event_name", "pcl5_1"],
            None,
            "no record id column: expected 'record_id' or a column ending in '_id'",
        ),
        (["record_id", "redcap_event_name", "pcl5_1"], "mrn", "the id field 'mrn' is not a column"),
        (["record_id", "pcl5_1"], None, "no 'redcap_event_name' column: only longitudinal"),
        (["record_id", "redcap_event_name", "age"], None, "no questionnaire items found"),
        (
            ["record_id", "redcap_event_name", "pcl5_1", "pcl5_21"],
            None,
            "PCL-5 has items 1-20; column 'pcl5_21' would be item 21",
        ),
    ],
)
def test_whole_file_errors(columns, id_field, rule):
    frame = pd.DataFrame([["x"] * len(columns)], columns=columns, dtype="string")
    frame["redcap_event_name"] = "baseline_arm_1"
    tables, problems = convert_redcap(frame[columns], events=EVENTS, id_field=id_field)
    assert tables["assessments"].empty
    assert [(p.severity, p.row) for p in problems] == [(ERROR, None)]
    assert problems[0].rule.startswith(rule)


def test_labels_instead_of_codes_and_blank_ids_are_errors():
    frame = export(
        [
            record("K01", "baseline_arm_1", form("phq9_", [1] * 9)),
            record(None, "baseline_arm_1", form("phq9_", [2] * 9)),
        ],
        {"phq9_": 9},
    )
    frame.loc[0, "phq9_4"] = "Several days"
    tables, problems = convert_redcap(frame, events=EVENTS, file="f.csv")
    assert [(p.row, p.column, p.value, p.rule) for p in problems] == [
        (3, "scr_id", None, "the record id is blank"),
        (2, "phq9_4", "Several days", "answers must be numbers (export raw data, not labels)"),
    ]
    assert tables["assessments"]["patient_id"].tolist() == ["K01"]
    assert np.isnan(tables["assessments"].loc[0, "item_4"])


def test_two_events_on_one_day_are_an_error():
    frame = export(
        [
            record("K01", "baseline_arm_1", form("gad7_", [1] * 7)),
            record("K01", "infusion_1_arm_1", form("gad7_", [2] * 7)),
        ],
        {"gad7_": 7},
    )
    tables, problems = convert_redcap(frame, events={"baseline_arm_1": 0, "infusion_1_arm_1": 0})
    assert len(tables["assessments"]) == 2
    assert [p.rule for p in problems] == [
        "1 record/day/instrument combinations have more than one form (record K01, day 0, GAD-7);"
        " two events share a day in the events table, or the form repeats within an event"
    ]


# BDI-II items 16 and 18 have seven options 0, 1a, 1b, 2a, 2b, 3a, 3b scored 0,1,1,2,2,3,3
# (Beck 1996); REDCap projects may code every item from 1 (clinical.md).
@pytest.mark.parametrize(
    "regular, sub16, sub18, expected_regular, expected16, expected18, note",
    [
        # coded 1-4, items 16/18 coded 1-7: "3b" = 7 -> 3, "1b" = 3 -> 1
        (4, 7, 3, 3, 3, 1, "coded 1-4 (items 16 and 18: 1-7"),
        # coded 1-4 with no sub-option code above 4: 16/18 shift like the others
        (4, 2, 3, 3, 1, 2, "coded 1-4;"),
        # coded 0-3, items 16/18 coded 0-6: "2b" = 4 -> 2, "3a" = 5 -> 3
        (3, 4, 5, 3, 2, 3, "coded with items 16 and 18 as 0-6"),
        # the standard 0-3 coding is left alone, as is an impossible mixture
        (3, 2, 1, 3, 2, 1, None),
        (4, 0, 0, 4, 0, 0, None),
    ],
)
def test_bdi_codes_are_recoded(
    regular, sub16, sub18, expected_regular, expected16, expected18, note
):
    values = [regular] * 21
    values[15], values[17] = sub16, sub18
    other = [1] * 21 if note and "1-4" in note else [0] * 21
    frame = export(
        [
            record("K01", "baseline_arm_1", form("bdi_", values, sum(values))),
            record("K02", "baseline_arm_1", form("bdi_", other)),
        ],
        {"bdi_": 21},
    )
    out, problems = convert_redcap(frame, events=EVENTS)
    first = out["assessments"].iloc[0]
    assert first["item_1"] == expected_regular and first["item_21"] == expected_regular
    assert (first["item_16"], first["item_18"]) == (expected16, expected18)
    if note is None:
        assert problems == [] and first["total"] == sum(values)
    else:
        assert [p.severity for p in problems] == [WARNING]
        assert problems[0].rule.startswith(f"BDI-II answers are {note}")
        # the stored total summed the codes, so it is dropped for the importer to rescore
        assert np.isnan(first["total"])


def test_total_only_export_and_stored_total_names():
    frame = pd.DataFrame(
        {
            "record_id": ["A", "B"],
            "redcap_event_name": ["baseline_arm_1"] * 2,
            "pcl5_total": ["41", None],
        },
        dtype="string",
    )  # fmt: skip
    out = convert_redcap(frame, events=EVENTS)[0]["assessments"]
    assert out[["patient_id", "instrument", "total"]].astype(object).values.tolist() == [
        ["A", "PCL-5", 41.0]
    ]
    assert stored_total_column(["bdi_total", "bdi_1_sadness"], "BDI-II") == "bdi_total"
    assert stored_total_column(["phq9_total", "phq_total"], "PHQ-9") == "phq9_total"
    assert stored_total_column(["madrs_1"], "MADRS") is None


def test_input_frame_is_not_mutated():
    frame = synthetic()
    before = frame.copy()
    convert_redcap(frame, events=EVENTS)
    pd.testing.assert_frame_equal(frame, before)
