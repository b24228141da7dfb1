"""The Excel workbook: every text cell is text, a formula never runs, numbers stay numbers."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from documents.workbook import workbook_bytes


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
