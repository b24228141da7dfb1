"""Mapping a file's headers onto the contract's columns, and checking the required ones.

Exact canonical names win, then the clinic's mapping (:class:`~analytics.ingest.mapping.ColumnMapping`),
then the synonyms of :data:`analytics.ingest.mapping.SYNONYMS`; columns holding one instrument's
total ("PCL-5 Total") are recognised by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from analytics.core.instruments import canonical_instrument, detect_instruments
from analytics.core.problems import Problem
from analytics.ingest.collector import ProblemCollector
from analytics.ingest.mapping import INSTRUMENT_TOTAL_KEYS, SYNONYMS, ColumnMapping, header_key

__all__ = [
    "NUMBER_COLUMNS",
    "TIME_COLUMNS",
    "FilePart",
    "check_required_columns",
    "instrument_totals",
    "rename_columns",
]

NUMBER_COLUMNS = {
    "sessions": [
        "dose_mg",
        "dose_mg_per_kg",
        "bp_systolic_pre",
        "bp_diastolic_pre",
        "bp_systolic_peak",
        "bp_diastolic_peak",
        "dissociation_cadss",
    ],
    "assessments": [],
    "side_effects": [],
    "patients": [],
}
TIME_COLUMNS = {
    "sessions": "session_date",
    "assessments": "assessment_date",
    "side_effects": "session_date",
}


@dataclass
class FilePart:
    """One file on its way to a canonical table."""

    file: str
    table: str
    frame: pd.DataFrame
    dated: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # Canonical columns where the reader let a signed number or a dash through.
    signed: frozenset[str] = frozenset()
    # The file's distinct patient ids once normalised (pyarrow), to compare files by.
    distinct_ids: pa.Array | None = None


def rename_columns(columns: list[str], table: str, mapping: ColumnMapping | None) -> dict[str, str]:
    """{column -> canonical} for the columns that map onto ``table``'s contract."""
    explicit = mapping.columns_for(table) if mapping is not None else {}
    synonyms: dict[str, str] = {}
    for canonical, names in SYNONYMS[table].items():
        for name in [canonical, *names]:
            synonyms.setdefault(header_key(name), canonical)
    out: dict[str, str] = {}
    claimed: set[str] = set()
    # Exact canonical names first, then the mapping, then synonyms: the first to claim wins.
    for column in columns:
        if column in SYNONYMS[table] and column not in claimed:
            out[column], claimed = column, claimed | {column}
    for source in (explicit, synonyms):
        for column in columns:
            target = source.get(header_key(column))
            if column in out or target is None or target in claimed:
                continue
            out[column] = target
            claimed.add(target)
    return out


def instrument_totals(
    columns: list[str], table: str, mapping: ColumnMapping | None
) -> dict[str, str]:
    """{column -> instrument} for columns holding one instrument's total ("PCL-5 Total")."""
    if table != "assessments":
        return {}
    hints = dict(INSTRUMENT_TOTAL_KEYS)
    if mapping is not None:
        hints.update(mapping.totals_for(table))
    out = {}
    for column in columns:
        name = hints.get(header_key(column))
        instrument = canonical_instrument(name) if name else None
        if instrument is not None:
            out[column] = instrument
    return out


def check_required_columns(part: FilePart, totals, out: ProblemCollector) -> bool:
    """True when ``part`` has its table's required columns; each missing one is an ERROR.

    ``totals`` are the part's instrument-total columns (:func:`instrument_totals`), which stand
    in for ``total`` in an assessments file.
    """
    cols = set(part.frame.columns)
    missing = []
    if "patient_id" not in cols:
        missing.append("patient_id")
    time = TIME_COLUMNS[part.table]
    if time not in cols and "day" not in cols:
        missing.append(f"{time} or day")
    if part.table == "sessions" and "route" not in cols:
        missing.append("route")
    if part.table == "side_effects" and "effect" not in cols:
        missing.append("effect")
    if part.table == "assessments":
        listed = [c for c in cols if c != "_row"]
        has_items = any(re.fullmatch(r"item_?\d+", c) for c in listed) or detect_instruments(listed)
        if "total" not in cols and not totals and not has_items:
            missing.append("total or item_1..item_N")
    for column in missing:
        out.add(
            Problem(
                part.file,
                None,
                column,
                None,
                "required column is missing (see docs/data-contract.md for accepted headers)",
            )
        )
    return not missing
