"""docs/patient-table.md lists every column of the per-patient table and of its long tables.

The page is the table's reference for anyone who reads an export or adds a measure; this test
fails when a column is added, renamed or removed without the page following.
"""

import re
from pathlib import Path

import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.patients import patient_table

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "patient-table.md"


def documented() -> dict[str, set[str]]:
    """Columns named in the first cell of each table row, under each ``### name`` heading."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### `([a-z0-9_]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), set())
            continue
        cell = re.match(r"^\| `([A-Za-z0-9_]+)` \|", line)
        if cell and current is not None:
            current.add(cell.group(1))
    return sections


@pytest.fixture(scope="module")
def tables(sample_dir):
    data = import_folder(sample_dir).data
    return {
        name: patient_table(data, OutcomeDefinitions.for_instrument(name))
        for name in ("PCL-5", "PHQ-9")
    }


def test_every_column_of_the_patients_table_is_documented(tables):
    doc = documented()
    columns = set()
    for table in tables.values():
        columns |= set(table.patients.columns)
    attributes = set(tables["PCL-5"].meta["attributes"])  # the clinic's own patients.csv columns
    assert columns - attributes - doc["patients"] == set(), "columns missing from the page"
    assert doc["patients"] - columns - {"patient_id"} == set(), "the page names columns not there"


def test_every_long_table_and_its_columns_are_documented(tables):
    doc = documented()
    long = {}
    for table in tables.values():
        for name, frame in table.long.items():
            long.setdefault(name, set()).update(frame.columns)
    assert set(long) == set(doc) - {"patients"}
    for name, columns in long.items():
        assert columns == doc[name], name
