"""The data-contract page stays honest: every column documented, every example importable."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from analytics.core import contract
from analytics.core.instruments import INSTRUMENTS
from analytics.ingest import vocabularies as vocab
from analytics.ingest.importer import NUMBER_COLUMNS, ImportOptions, import_files, import_folder
from analytics.ingest.mapping import SYNONYMS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "data-contract.md").read_text("utf-8")
EXAMPLES = sorted((ROOT / "data" / "examples").glob("*.csv"))
# Columns of the canonical tables, as code (item_2..item_20 are written as a range).
CANONICAL = sorted(
    set(contract.PATIENT_BASE_COLUMNS)
    | set(contract.SESSION_COLUMNS)
    | set(contract.SIDE_EFFECT_COLUMNS)
    | {c for c in contract.ASSESSMENT_COLUMNS if not re.fullmatch(r"item_([2-9]|1\d|20)", c)}
)
UPLOADED = sorted(
    {c for table in SYNONYMS.values() for c in table}
    | set(c for cols in NUMBER_COLUMNS.values() for c in cols)
)


@pytest.mark.parametrize("column", CANONICAL)
def test_canonical_column_documented(column):
    assert f"`{column}`" in DOC


@pytest.mark.parametrize("column", UPLOADED)
def test_csv_column_documented(column):
    assert f"`{column}`" in DOC


@pytest.mark.parametrize(
    ("table", "column", "header"),
    [(t, c, h) for t, cols in SYNONYMS.items() for c, names in cols.items() for h in names],
)
def test_synonym_documented(table, column, header):
    assert f"`{header}`" in DOC


@pytest.mark.parametrize("code", [*vocab.ROUTES, *vocab.EFFECTS, *INSTRUMENTS])
def test_code_documented(code):
    assert f"`{code}`" in DOC


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_named_in_docs(path):
    assert f"data/examples/{path.name}" in DOC


def test_one_example_per_table():
    result = import_folder(ROOT / "data" / "examples", options=ImportOptions())
    assert sorted(result.table_of_files.values()) == [
        "assessments",
        "patients",
        "sessions",
        "side_effects",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_imports_cleanly(path):
    # Side effects need their sessions; every other file imports on its own or with sessions.
    files = {path.name: path.read_bytes()}
    sessions = ROOT / "data" / "examples" / "sessions.csv"
    files.setdefault("sessions.csv", sessions.read_bytes())
    result = import_files(files)
    assert result.ok
    assert result.problems == []


def _doc_table(heading: str) -> list[list[str]]:
    """The rows of the markdown table whose header line is ``heading``, cells stripped."""
    lines = DOC[DOC.index(heading) :].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _cells(text: str) -> list[str]:
    if text == "30 different sentences":
        return [
            f"Patient said visit {i} went {'well' if i % 2 else 'badly'} today" for i in range(30)
        ]
    return re.findall(r"`([^`]*)`", text)


IDENTIFIER_CASES = _doc_table("| file | column | cells | judged |")


@pytest.mark.parametrize(("file", "column", "cells", "judged"), IDENTIFIER_CASES)
def test_identifier_examples_are_judged_as_documented(file, column, cells, judged):
    file, column = file.strip("`"), column.strip("`")
    values = _cells(cells)
    if file == "patients.csv":
        ids = [f"P{i:03d}" for i in range(len(values))]
        files = {
            file: _csv(["patient_id", column], [[i, v] for i, v in zip(ids, values)]),
            "sessions.csv": _csv(["patient_id", "day", "route"], [[i, "0", "iv"] for i in ids]),
        }
    elif column == "patient_id":
        files = {file: _csv(["patient_id", "day", "route"], [[values[0], "0", "iv"]])}
    else:
        files = {file: _csv(["patient_id", "day", "route", column], [["P001", "0", "iv", *values]])}
    result = import_files(files)
    refusals = [p for p in result.problems if p.rule.startswith("may identify patients")]
    if judged.startswith("refused"):
        reason = judged.removeprefix("refused: ")
        assert [p.column for p in refusals] == [column]
        assert reason in refusals[0].rule
        assert all(v not in str(p) for p in result.problems for v in values)
    else:
        assert refusals == [] and result.ok, [str(p) for p in result.problems]
        if "90+" in judged:
            stored = result.data.patients[column].astype("string").tolist()
            assert "90+" in stored and "95" not in stored


DATE_CASES = _doc_table("| cell | order | read as |")


@pytest.mark.parametrize(("cell", "order", "read_as"), DATE_CASES)
def test_date_examples_are_read_as_documented(cell, order, read_as):
    import datetime

    from analytics.ingest.cells import chosen_date_order, date_days, date_order_of

    raw = pd.Series([cell.strip("`")], dtype="string")
    chosen = None if order == "none" else order.strip("`")
    t, broken, _ = date_days(
        raw,
        order=chosen_date_order(chosen, date_order_of(raw)),
        today=datetime.date(2026, 1, 1),
    )
    if read_as.startswith("error: "):
        assert [rule for rule in broken if rule.startswith(read_as.removeprefix("error: "))]
    else:
        epoch = datetime.date(1970, 1, 1)
        assert t.iloc[0] == (datetime.date.fromisoformat(read_as) - epoch).days
