"""The upload page's preview: each file's table and reason, unknown values, the date order."""

from pathlib import Path

import pandas as pd
import pytest

from analytics.ingest import preview as preview_module
from analytics.ingest.mapping import ColumnMapping
from analytics.ingest.preview import MAX_UNKNOWN_VALUES, date_example, preview_upload

EXPORT = Path(__file__).resolve().parents[2] / "data" / "clinic_export"


@pytest.fixture
def export_files():
    return {p.name: p.read_bytes() for p in sorted(EXPORT.glob("*.csv"))}


def test_the_clinic_export_is_told_file_by_file(export_files):
    preview = preview_upload(export_files, None)
    assert preview.tables == {
        "Adverse_Events.csv": "side_effects",
        "PCL5_Scores.csv": "assessments",
        "Patient_Demographics.csv": "patients",
        "Visits_Export_2025.csv": "sessions",
    }
    visits = {f.file: f for f in preview.files}["Visits_Export_2025.csv"]
    assert visits.guess.reason == (
        'named like a visits file, and has a route column ("Medication") and a dose column '
        '("Dose (mg)")'
    )
    assert visits.headers[:3] == ("Patient ID", "Visit Date", "Medication")
    assert visits.columns["BP Pre"] == "bp_pre" and visits.columns["Peak BP"] == "bp_peak"
    assert visits.key == "visitsexport"
    # every spelling of this export is known to the vocabularies
    assert all(not f.unknown for f in preview.files)
    assert preview.mapping.columns["sessions"]["Medication"] == "route"
    assert preview.mapping.totals == {"assessments": {"PCL-5 Total": "PCL-5"}}


SESSIONS = (
    "Patient ID,Visit Date,Medication,Sedated\n"
    "A,2025-01-06,Ket troche XL,yes\n"
    "A,2025-01-08,Ket troche XL,oui\n"
    "B,2025-01-08,Spravato 56mg,no\n"
    "B,2025-01-10,Nasal,\n"
)


@pytest.mark.parametrize(
    ("mapping", "route", "yes_no"),
    [
        (None, (("Ket troche XL", 2), ("Nasal", 1)), (("oui", 1),)),
        # a spelling the mapping knows is no longer listed
        (
            ColumnMapping(values={"route": {"Nasal": "ketamine_nasal"}, "yes_no": {"oui": "yes"}}),
            (("Ket troche XL", 2),),
            None,
        ),
        # a preset naming no such code is left out, not an error
        (ColumnMapping(values={"route": {"Nasal": "nose"}}), (("Ket troche XL", 2), ("Nasal", 1)), (("oui", 1),)),
    ],
)  # fmt: skip
def test_unknown_values_per_vocabulary_column(mapping, route, yes_no):
    (file,) = preview_upload({"Visits.csv": SESSIONS.encode()}, mapping).files
    groups = {g.vocabulary: g for g in file.unknown}
    assert groups["route"].values == route
    assert (groups["route"].column, groups["route"].header) == ("route", "Medication")
    assert (groups["yes_no"].values if "yes_no" in groups else None) == yes_no


def test_unknown_values_are_capped_most_frequent_first():
    rows = [f"A,{i},v{i:03d}" for i in range(MAX_UNKNOWN_VALUES + 10)] + ["A,0,v059"] * 3
    text = "patient_id,day,effect\n" + "\n".join(rows) + "\n"
    (file,) = preview_upload({"side_effects.csv": text.encode()}).files
    (group,) = file.unknown
    assert group.values[0] == ("v059", 4)
    assert len(group.values) == MAX_UNKNOWN_VALUES and group.more == 10


def test_a_chosen_table_is_not_guessed():
    (file,) = preview_upload({"export.csv": b"a,b\n1,2\n"}, tables={"export.csv": "patients"}).files
    assert (file.table, file.guess.reason) == ("patients", "chosen on this page")
    (unknown,) = preview_upload({"export.csv": b"a,b\n1,2\n"}).files
    assert unknown.table is None


def test_an_unreadable_file_says_why():
    (file,) = preview_upload({"sessions.csv": b""}).files
    assert file.table is None and file.error


@pytest.mark.parametrize(
    ("orders", "together"),
    [
        ({"a.csv": "mdy", "b.csv": "mdy"}, "mdy"),
        ({"a.csv": "mdy", "b.csv": "ymd"}, "mdy"),
        ({"a.csv": "ymd"}, "ymd"),
        ({"a.csv": "mdy", "b.csv": "ambiguous"}, "ambiguous"),
        ({"a.csv": "mdy", "b.csv": "dmy"}, "conflicting"),
        ({"a.csv": "conflicting", "b.csv": "ymd"}, "conflicting"),
        ({"a.csv": None}, None),
    ],
)
def test_date_order_of_the_upload(monkeypatch, orders, together):
    by_value = {name: order for name, order in orders.items()}
    # each file's date column holds its own name, so the stand-in can tell them apart
    monkeypatch.setattr(preview_module, "date_order_of", lambda raw: by_value[raw.iloc[0]])
    files = {name: f"patient_id,session_date,route\nA,{name},IV\n".encode() for name in orders}
    preview = preview_upload(files, tables={name: "sessions" for name in orders})
    assert preview.date_order == together


def test_a_file_s_own_cells_make_its_date_order_certain():
    preview = preview_upload({"sessions.csv": b"patient_id,session_date,route\nA,03/25/2025,IV\n"})
    assert (preview.files[0].date_order, preview.files[0].date_example) == ("mdy", "03/25/2025")
    assert preview.date_order == "mdy"


@pytest.mark.parametrize(
    ("cells", "order", "example"),
    [
        (["03/04/2025", "03/25/2025"], "mdy", "03/25/2025"),
        (["03/04/2025", "25/03/2025 10:00"], "dmy", "25/03/2025 10:00"),
        (["8/25/2025 9:30 AM"], "mdy", "8/25/2025 9:30 AM"),
        (["03/04/2025"], "mdy", None),
        (["2025-03-25"], "dmy", None),
    ],
)
def test_date_example(cells, order, example):
    assert date_example(pd.Series(cells), order) == example


def test_date_example_needs_a_slashed_order():
    with pytest.raises(ValueError, match=r"^order must be 'dmy' or 'mdy', got 'ymd'$"):
        date_example(pd.Series(["2025-01-01"]), "ymd")
