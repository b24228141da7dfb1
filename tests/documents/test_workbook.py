"""The Excel workbook: every text cell is text, a formula never runs, numbers stay numbers."""

from __future__ import annotations

import dataclasses
import io

import openpyxl
import pandas as pd
import pytest

from documents.workbook import export_file_bytes, workbook_bytes


@pytest.fixture()
def book():
    frame = pd.DataFrame(
        {
            "Patient": ["P1", "P2", "P3"],
            "Referral": ['=HYPERLINK("http://x.test","click")', "@SUM(A1)", "GP"],
            "Site": ["http://intranet.test", "+1 555 123 4567", None],
            "Score": [40.0, float("nan"), 12.5],
            "Responder": pd.array([1, 0, pd.NA], dtype="Int64"),
        }
    )
    data = workbook_bytes({"Patients": frame, "Notes": pd.DataFrame({"=cmd": ["x"]})})
    return openpyxl.load_workbook(io.BytesIO(data))


def test_sheets_in_order(book):
    assert book.sheetnames == ["Patients", "Notes"]
    assert book["Patients"].freeze_panes == "A2"


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("B2", '\'=HYPERLINK("http://x.test","click")'),  # escaped, stored as text
        ("B3", "'@SUM(A1)"),
        ("B4", "GP"),
        ("C2", "http://intranet.test"),  # not turned into a link
        ("C3", "+1 555 123 4567"),  # a phone number is not a formula
    ],
)
def test_text_cells_are_text(book, cell, value):
    written = book["Patients"][cell]
    assert written.data_type == "s"
    assert written.value == value
    assert written.hyperlink is None


def test_numbers_are_numbers_and_missing_is_blank(book):
    sheet = book["Patients"]
    assert sheet["D2"].value == 40.0 and sheet["D3"].value is None and sheet["D4"].value == 12.5
    assert [sheet[c].value for c in ("E2", "E3", "E4")] == [1, 0, None]
    assert sheet["C4"].value is None


def test_a_formula_header_is_escaped(book):
    assert book["Notes"]["A1"].value == "'=cmd"


# ---------------------------------------------------------------------------- an export's files
FORMULA = '=HYPERLINK("http://x.test","open")'


@pytest.fixture(scope="module")
def hostile_export():
    """A hand-made clinic whose referral column holds a formula (the importer refuses one; a
    clinic's own database might not), exported with its summary and definitions."""
    from analytics.core.contract import clinic_from_frames
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.report.patient_export import patient_export_sheets
    from analytics.report.patients import patient_table

    clinic = clinic_from_frames(
        sessions=pd.DataFrame({"patient_id": ["a", "b"], "day": 0, "route": "iv_ketamine"}),
        assessments=pd.DataFrame(
            {"patient_id": ["a", "a", "b"], "day": [0, 28, 0], "instrument": "PCL-5",
             "total": [50.0, 30.0, 40.0]}
        ),
        patients=pd.DataFrame({"patient_id": ["a", "b"], "referral": [FORMULA, "+cmd|' /C calc'!A0"]}),
    )  # fmt: skip
    clinic = dataclasses.replace(clinic, extra_patient_columns=("referral",))
    definitions = OutcomeDefinitions()
    table = patient_table(clinic, definitions)
    return patient_export_sheets(table, table.keep(), definitions).sheets()


def test_a_formula_from_the_clinic_is_text_in_the_workbook(hostile_export):
    book = openpyxl.load_workbook(io.BytesIO(export_file_bytes(hostile_export, ".xlsx")))
    assert book.sheetnames == ["Patients", "Summary", "Definitions"]
    sheet = book["Patients"]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Referral") + 1
    cells = [sheet.cell(row=r, column=column) for r in (2, 3)]
    assert [c.value for c in cells] == ["'" + FORMULA, "'+cmd|' /C calc'!A0"]
    assert all(c.data_type == "s" and c.hyperlink is None for c in cells)
    # nothing in any sheet is a formula
    assert not any(
        c.data_type == "f" for s in book.worksheets for row in s.iter_rows() for c in row
    )


def test_a_formula_from_the_clinic_is_escaped_in_the_csv(hostile_export):
    rows = pd.read_csv(io.BytesIO(export_file_bytes(hostile_export, ".csv")))
    assert rows["Referral"].tolist() == ["'" + FORMULA, "'+cmd|' /C calc'!A0"]
    assert rows.columns[0] == "Patient" and len(rows) == 2


@pytest.mark.parametrize(
    ("sheets", "suffix", "message"),
    [
        ({"Patients": pd.DataFrame()}, ".json", "a .csv or .xlsx file, not '.json'"),
        ({}, ".csv", "at least one sheet"),
    ],
)
def test_an_export_is_csv_or_xlsx(sheets, suffix, message):
    with pytest.raises(ValueError, match=message):
        export_file_bytes(sheets, suffix)
