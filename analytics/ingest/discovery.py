"""Finding an upload's files and telling which canonical table each one holds."""

from __future__ import annotations

import re
from pathlib import Path

from analytics.core.instruments import detect_instruments
from analytics.ingest.columns import instrument_totals, rename_columns
from analytics.ingest.mapping import ColumnMapping

__all__ = ["csv_files", "identify_table"]

_FILE_PATTERNS = [
    ("side_effects", re.compile(r"side.?effect|adverse|sideeffect")),
    ("sessions", re.compile(r"session")),
    ("assessments", re.compile(r"assessment|score|pcl|outcome")),
    ("patients", re.compile(r"patient|demographic")),
]


def csv_files(folder: Path) -> dict[str, bytes]:
    """File name -> bytes of every ``*.csv`` file of ``folder`` (not its subfolders), by name."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() == ".csv"
    }


def identify_table(
    file: str, columns: list[str], mapping: ColumnMapping | None = None
) -> str | None:
    """Which table a file holds: by its name, else by its headers; None when it cannot tell.

    Names: a stem containing ``side_effect``/``adverse`` -> side_effects, ``session`` ->
    sessions, ``assessment``/``score``/``pcl``/``outcome`` -> assessments,
    ``patient``/``demographic`` -> patients. Headers (after synonyms and ``mapping``): ``route``
    -> sessions, ``effect`` -> side_effects, ``instrument``/``total``/items -> assessments.

    Examples
    --------
    >>> identify_table("Adverse_events_2025.csv", ["x"])
    'side_effects'
    >>> identify_table("export.csv", ["Patient ID", "Route of Administration"])
    'sessions'
    """
    stem = Path(file).stem.lower()
    for table, pattern in _FILE_PATTERNS:
        if pattern.search(stem):
            return table
    lowered = [str(c).strip().lower() for c in columns]
    if "route" in rename_columns(lowered, "sessions", mapping).values():
        return "sessions"
    if "effect" in rename_columns(lowered, "side_effects", mapping).values():
        return "side_effects"
    renamed = set(rename_columns(lowered, "assessments", mapping).values())
    if (
        renamed & {"instrument", "total"}
        or instrument_totals(lowered, "assessments", mapping)
        or detect_instruments(lowered)
        or any(re.fullmatch(r"item_?\d+", c) for c in lowered)
    ):
        return "assessments"
    return None
