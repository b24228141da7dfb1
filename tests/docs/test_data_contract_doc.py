"""The data-contract page stays honest: every column documented, every example importable."""

from __future__ import annotations

import re
from pathlib import Path

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
