"""The importer: every error class with its exact message, all or nothing, duplicates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.core.contract import (
    ASSESSMENT_COLUMNS,
    PATIENT_BASE_COLUMNS,
    SESSION_COLUMNS,
    SIDE_EFFECT_COLUMNS,
)
from analytics.ingest import vocabularies as vocab
from analytics.ingest.importer import ImportOptions, identify_table, import_files, import_folder

OPTIONS = ImportOptions(raise_unexpected=True)
BROKEN = Path(__file__).resolve().parents[2] / "data" / "broken"
EXAMPLES = Path(__file__).resolve().parents[3] / "data" / "examples"

SESSIONS = "patient_id,session_date,route\nA,2025-03-03,iv\nA,2025-03-05,iv\n"
ASSESSMENTS = "patient_id,assessment_date,total\nA,2025-03-01,50\nA,2025-03-31,20\n"


def _run(files: dict[str, str], options: ImportOptions = OPTIONS):
    return import_files({k: v.encode("utf-8") for k, v in files.items()}, options=options)


def _lines(result) -> list[str]:
    return [str(p) for p in result.problems]


ROUTES = ", ".join(vocab.ROUTES)
EFFECTS = ", ".join(vocab.EFFECTS)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # Vocabularies
        (
            {"sessions.csv": "patient_id,session_date,route\nA,2025-03-03,teleport\n"},
            "error: sessions.csv, row 2, column 'route': is not a known route; accepted: "
            f"{ROUTES} (or choose what it means on the Data page, or in a column-mapping preset) "
            "(value: 'teleport')",
        ),
        (
            {
                "sessions.csv": SESSIONS,
                "side_effects.csv": "patient_id,session_date,effect\nA,2025-03-03,levitation\n",
            },
            "error: side_effects.csv, row 2, column 'effect': is not a known effect; accepted: "
            f"{EFFECTS} (or choose what it means on the Data page, or in a column-mapping preset) "
            "(value: 'levitation')",
        ),
        (
            {"assessments.csv": "patient_id,day,instrument,total\nA,0,HAM-D,20\n"},
            "error: assessments.csv, row 2, column 'instrument': is not a known instrument; "
            "accepted: PCL-5, PHQ-9, GAD-7, BDI-II, MADRS (value: 'HAM-D')",
        ),
        # Side effects must match a session
        (
            {
                "sessions.csv": SESSIONS,
                "side_effects.csv": "patient_id,session_date,effect\nA,2025-03-04,nausea\n",
            },
            "error: side_effects.csv, row 2: matches no session of this patient on that day "
            "(a side effect must be recorded at a session)",
        ),
        (
            {
                "assessments.csv": "patient_id,day,total\nA,0,50\n",
                "side_effects.csv": "patient_id,day,effect\nA,0,nausea\n",
            },
            "error: side_effects.csv: side effects need a sessions file: each row must match a "
            "session",
        ),
        # Conflicting duplicates name both rows
        (
            {"sessions.csv": SESSIONS + "A,2025-03-05,Spravato\n"},
            "error: sessions.csv, row 4: conflicts with row 3: the same patient and day with "
            "different values",
        ),
        (
            {
                "sessions.csv": SESSIONS,
                "assessments.csv": ASSESSMENTS,
                "scores_2.csv": "patient_id,assessment_date,total\nA,2025-03-31,25\n",
            },
            "error: scores_2.csv, row 2: conflicts with row 3 of assessments.csv: the same "
            "patient, day and instrument with different values",
        ),
        # Ranges (pandera) and numbers
        (
            {"sessions.csv": "patient_id,day,route,dissociation_cadss\nA,0,iv,95\n"},
            "error: sessions.csv, row 2, column 'dissociation_cadss': must be between 0 and 92 "
            "(value: '95')",
        ),
        (
            {"sessions.csv": "patient_id,day,route,Systolic (pre)\nA,0,iv,400\n"},
            "error: sessions.csv, row 2, column 'Systolic (pre)': must be between 40 and 300 "
            "(value: '400')",
        ),
        (
            {"sessions.csv": "patient_id,day,route,bp_diastolic_peak\nA,0,iv,10\n"},
            "error: sessions.csv, row 2, column 'bp_diastolic_peak': must be between 20 and 200 "
            "(value: '10')",
        ),
        (
            {"sessions.csv": "patient_id,day,route,dose_mg\nA,0,iv,abc\n"},
            "error: sessions.csv, row 2, column 'dose_mg': must be a number (value: 'abc')",
        ),
        (
            {"sessions.csv": "patient_id,day,route,phase\nA,0,iv,week 3\n"},
            "error: sessions.csv, row 2, column 'phase': is not a known phase; accepted: "
            "induction, maintenance (or choose what it means on the Data page, or in a "
            "column-mapping preset) (value: 'week 3')",
        ),
        # Files and columns
        (
            {"sessions.csv": SESSIONS, "notes.csv": "a,b\n1,2\n"},
            "error: notes.csv: cannot tell which table this file holds (sessions, assessments, "
            "side effects or patients): choose it on the Data page, or name the file after its "
            "table (for example sessions.csv)",
        ),
        (
            {"sessions.csv": "session_date,route\n2025-03-03,iv\n"},
            "error: sessions.csv, column 'patient_id': required column is missing (see "
            "docs/data-contract.md for accepted headers)",
        ),
        (
            {"sessions.csv": "patient_id,session_date\nA,2025-03-03\n"},
            "error: sessions.csv, column 'route': required column is missing (see "
            "docs/data-contract.md for accepted headers)",
        ),
        (
            {"sessions.csv": "patient_id,route\nA,iv\n"},
            "error: sessions.csv, column 'session_date or day': required column is missing (see "
            "docs/data-contract.md for accepted headers)",
        ),
        (
            {"sessions.csv": "patient_id,day,route\n,0,iv\n"},
            "error: sessions.csv, row 2, column 'patient_id': must not be blank",
        ),
        (
            {"patients.csv": "patient_id,arm\nA,x\n"},
            "error: upload: the upload needs a sessions or an assessments file",
        ),
    ],
)
def test_error_messages(files, expected):
    result = _run(files)
    assert expected in _lines(result), _lines(result)
    assert result.data is None
    assert not result.ok
    assert result.summary() == {}


def test_phi_column_refused_then_dropped_with_option():
    files = {"sessions.csv": "patient_id,day,route,email\nA,0,iv,jane.doe@example.org\n"}
    refused = _run(files)
    assert refused.data is None
    phi = [p for p in refused.problems if p.column == "email"]
    assert [p.severity for p in phi] == ["error"]
    # The identifying value never appears in a problem.
    assert all("jane" not in str(p) for p in refused.problems)
    dropped = _run(files, ImportOptions(drop_phi=True, raise_unexpected=True))
    assert dropped.ok, _lines(dropped)
    assert [p.severity for p in dropped.problems if p.column == "email"] == ["warning"]
    assert all("jane" not in str(p) for p in dropped.problems)
    assert "email" not in dropped.data.sessions.columns


def test_exact_duplicates_count_once_with_a_warning():
    result = _run({"sessions.csv": SESSIONS + "A,2025-03-05,iv\nA,2025-03-05,iv\n"})
    assert _lines(result) == [
        "warning: sessions.csv: 2 rows repeat an earlier row exactly and were counted once"
    ]
    assert len(result.data.sessions) == 2


def test_all_or_nothing_one_bad_cell_stops_everything():
    files = {"sessions.csv": SESSIONS + "B,2025-03-05,iv\n", "assessments.csv": ASSESSMENTS}
    assert _run(files).ok
    files["sessions.csv"] += "C,2025-03-05,teleport\n"
    result = _run(files)
    assert result.data is None
    assert result.table_of_files == {"sessions.csv": "sessions", "assessments.csv": "assessments"}
    assert list(result.problems_frame()["severity"]) == ["error"]


def test_many_bad_cells_are_capped_and_counted():
    rows = "".join(f"P{i},0,teleport\n" for i in range(30))
    result = _run({"sessions.csv": "patient_id,day,route\n" + rows})
    lines = _lines(result)
    assert len(lines) == 21
    assert lines[-1].startswith("error: sessions.csv, column 'route': 10 more rows: is not a known")


def test_canonical_tables_follow_the_contract():
    result = import_folder(EXAMPLES, options=OPTIONS)
    assert result.ok, _lines(result)
    data = result.data
    assert list(data.sessions.columns) == SESSION_COLUMNS
    assert list(data.assessments.columns) == ASSESSMENT_COLUMNS
    assert list(data.side_effects.columns) == SIDE_EFFECT_COLUMNS
    assert list(data.patients.columns)[:4] == PATIENT_BASE_COLUMNS
    assert str(data.sessions["day"].dtype) == "int64"
    assert str(data.sessions["sedation"].dtype) == "boolean"
    assert str(data.assessments["prorated"].dtype) == "bool"
    assert str(data.patients["first_session_year"].dtype) == "Int64"
    for frame in (data.sessions, data.assessments, data.side_effects):
        ordered = frame.sort_values(["patient_id", "day"], kind="stable")
        assert frame[["patient_id", "day"]].equals(ordered[["patient_id", "day"]])
    # Every patient seen anywhere has a row; route is that of the first session.
    assert set(data.patients["patient_id"]) == set(data.sessions["patient_id"])
    first = data.sessions.drop_duplicates("patient_id").set_index("patient_id")["route"]
    assert data.patients.set_index("patient_id")["route"].equals(first)
    assert result.summary() == {
        "patients": 2,
        "sessions": 6,
        "assessments": 6,
        "side_effects": 4,
    }


def test_several_instruments_in_one_file_and_redcap_item_names():
    items = ",".join(f"pcl5_{i}" for i in range(1, 21))
    phq = ",".join(f"phq9_{i}" for i in range(1, 10))
    row = ",".join(["2"] * 20) + "," + ",".join(["1"] * 9)
    result = _run(
        {
            "sessions.csv": "patient_id,day,route\nA,0,iv\n",
            "assessments.csv": f"record_id,day,{items},{phq}\nA,0,{row}\n",
        }
    )
    assert result.ok, _lines(result)
    got = result.data.assessments.set_index("instrument")["total"].to_dict()
    # 20 items x 2 = 40 (PCL-5); 9 items x 1 = 9 (PHQ-9).
    assert got == {"PCL-5": 40.0, "PHQ-9": 9.0}


def test_default_instrument_for_blank_or_absent_instrument():
    result = _run(
        {"assessments.csv": "patient_id,day,instrument,total\nA,0,,50\nA,0,PHQ-9,20\n"},
        ImportOptions(default_instrument="PCL-5", raise_unexpected=True),
    )
    assert result.ok, _lines(result)
    assert sorted(result.data.assessments["instrument"]) == ["PCL-5", "PHQ-9"]


@pytest.mark.parametrize(
    ("file", "headers", "table"),
    [
        ("sessions.csv", ["x"], "sessions"),
        ("Adverse events.csv", ["x"], "side_effects"),
        ("pcl5_scores.csv", ["x"], "assessments"),
        ("demographics.csv", ["x"], "patients"),
        ("export.csv", ["Patient ID", "Route of Administration"], "sessions"),
        ("export.csv", ["patient_id", "Adverse event"], "side_effects"),
        ("export.csv", ["patient_id", "PCL-5 Total"], "assessments"),
        ("export.csv", ["record_id", "pcl5_1"], "assessments"),
        ("export.csv", ["a", "b"], None),
    ],
)
def test_identify_table(file, headers, table):
    assert identify_table(file, headers) == table


def _broken_expected() -> list[str]:
    return (BROKEN / "expected.txt").read_text("utf-8").splitlines()


def test_broken_folder_pinned_problems():
    result = import_folder(BROKEN, options=OPTIONS)
    assert result.data is None
    assert _lines(result) == _broken_expected()


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["sessions.csv", "assessments.csv", "x.csv"]))
def test_no_traceback_for_any_bytes(data, name):
    result = import_files({name: data, "sessions.csv" if name != "sessions.csv" else "a.csv": b""})
    assert result.data is None or result.ok
    assert isinstance(result.problems_frame(), pd.DataFrame)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "", " "]),
            st.sampled_from(["2025-03-03", "2025-13-01", "x", "", "3", "2025/03/04T10:00"]),
            st.sampled_from(["iv", "im", "zz", ""]),
            st.sampled_from(["", "5", "-1", "abc", "1e400", "95"]),
        ),
        max_size=6,
    )
)
def test_no_traceback_for_messy_cells(rows):
    text = "patient_id,session_date,route,dissociation_cadss\n" + "".join(
        ",".join(r) + "\n" for r in rows
    )
    result = import_files({"sessions.csv": text.encode()})
    assert all("could not" not in p.rule for p in result.problems), [
        str(p) for p in result.problems
    ]


# --------------------------------------------------------------------------- the user's choices
DAY_SESSIONS = b"patient_id,day,route\nA,0,iv\nA,7,iv\n"


def test_a_chosen_table_is_used_and_the_file_keeps_its_name():
    result = import_files({"Export 7.csv": DAY_SESSIONS}, tables={"Export 7.csv": "sessions"})
    assert result.ok
    assert result.table_of_files == {"Export 7.csv": "sessions"}
    assert result.file_labels == {"Export 7.csv": "Export 7.csv"}


def test_an_unknown_chosen_table_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown table 'visits'"):
        import_files(
            {"a.csv": DAY_SESSIONS},
            tables={"a.csv": "visits"},
            options=ImportOptions(raise_unexpected=True),
        )


def test_a_file_name_that_may_identify_is_refused_and_never_repeated():
    result = import_files({"sessions.csv": DAY_SESSIONS, "john_smith_1961-04-01.csv": DAY_SESSIONS})
    assert not result.ok
    assert result.file_labels["john_smith_1961-04-01.csv"] == "file 2"
    shown = " ".join(str(p) for p in result.problems) + result.report.counts.to_string()
    assert "smith" not in shown.lower() and "1961" not in shown
    assert "error: file 2: may identify patients: its file name" in shown


def test_a_value_that_looks_identifying_is_not_echoed():
    result = import_files({"sessions.csv": b"patient_id,day,route\nA,0,555-123-4567\n"})
    (problem,) = [p for p in result.problems if p.column == "route"]
    assert problem.value is None


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The reader lets signed numbers through; a text column never needs them.
        (
            {"sessions.csv": "patient_id,day,route,site\nA,0,iv,-\n"},
            "error: sessions.csv, row 2, column 'site': starts with =, +, -, @, a tab or a "
            "carriage return, which a spreadsheet would run as a formula; text columns may not "
            "start so (value: '-')",
        ),
        (
            {"sessions.csv": "patient_id,day,route\n+1,0,iv\n"},
            "error: sessions.csv, row 2, column 'patient_id': starts with =, +, -, @, a tab or "
            "a carriage return, which a spreadsheet would run as a formula; text columns may "
            "not start so (value: '+1')",
        ),
    ],
)
def test_text_columns_refuse_what_starts_like_a_formula(files, expected):
    assert expected in _lines(import_files({k: v.encode() for k, v in files.items()}))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # within one file: the file's own warning
        (
            {"sessions.csv": "patient_id,day,route\nP001,0,iv\np001,0,iv\n"},
            "warning: sessions.csv, column 'patient_id': 1 pair(s) of patient ids differ only in "
            "upper and lower case (for example 'P001' and 'p001'); they are kept as different "
            "patients. If they are one patient, write the id the same way everywhere",
        ),
        # between files: one warning for the upload, naming where each id is
        (
            {
                "sessions.csv": "patient_id,day,route\nP001,0,iv\n",
                "assessments.csv": "patient_id,day,total\np001,0,40\n",
            },
            "warning: upload: 1 pair(s) of patient ids differ only in upper and lower case "
            "between files (for example 'P001' in sessions.csv and 'p001' in assessments.csv); "
            "they are kept as different patients. If they are one patient, write the id the "
            "same way in every file",
        ),
    ],
)
def test_ids_that_differ_only_in_case_are_warned_about(files, expected):
    assert expected in _lines(import_files({k: v.encode() for k, v in files.items()}))
