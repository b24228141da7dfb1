"""Finding an upload's files and telling which canonical table each one holds.

A clinic's export names its files after its own screens ("Visits_Export_2025.csv",
"PCL5_Scores.csv"), not after the contract's tables, so a file is identified by its name and by
its columns, and the reason is kept for the user to check (:class:`TableGuess`):

1. A saved mapping that says which table such files hold (``ColumnMapping.tables``) wins.
2. A name that is a table's own ("sessions.csv", "clinic_a_side_effects.csv") wins next.
3. Otherwise the name's words (:data:`NAME_WORDS`) and the columns (after the synonyms and the
   mapping) are both read. When they agree, or only one tells, that is the table. When the
   columns clearly hold another table (a route, an effect or a questionnaire column) they win
   over the name, and the reason says so; a file named like a patients file whose rows are one
   per patient stays patients even with a route column (the contract ignores that column).

Columns tell: an ``effect`` column -> side effects; a ``route``, medication or dose column ->
sessions; an ``instrument``/``total``/instrument-total/item column -> assessments; a patient
id with no date or day column (and, when the rows are given, one row per patient) and other
columns -> patients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics.core.instruments import detect_instruments
from analytics.ingest.columns import instrument_totals, rename_columns
from analytics.ingest.mapping import TABLES, ColumnMapping

__all__ = ["NAME_WORDS", "TableGuess", "csv_files", "identify_file", "identify_table"]

# Words of a file name -> (table, what the user is told the name looks like). Side effects
# first ("treatment_adverse_events"), then assessments ("visit_scores"), then sessions
# ("patient_visits"): patients last, as most files name the patient.
NAME_WORDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("side_effects", re.compile(r"adverse"), "an adverse events file"),
    ("side_effects", re.compile(r"side ?effects?|sideeffects?"), "a side effects file"),
    ("side_effects", re.compile(r"(?:^| )aes?(?: |$)"), "an adverse events file"),
    ("assessments", re.compile(r"pcl"), "a PCL-5 file"),
    ("assessments", re.compile(r"phq"), "a PHQ-9 file"),
    ("assessments", re.compile(r"gad ?7|madrs|bdi"), "a questionnaire file"),
    ("assessments", re.compile(r"score"), "a scores file"),
    ("assessments", re.compile(r"assessment"), "an assessments file"),
    ("assessments", re.compile(r"outcome"), "an outcomes file"),
    ("assessments", re.compile(r"measure"), "a measures file"),
    ("assessments", re.compile(r"survey|questionnaire"), "a survey file"),
    ("sessions", re.compile(r"visit"), "a visits file"),
    ("sessions", re.compile(r"session"), "a sessions file"),
    ("sessions", re.compile(r"treatment"), "a treatments file"),
    ("sessions", re.compile(r"infusion"), "an infusions file"),
    ("sessions", re.compile(r"dosing|doses"), "a dosing file"),
    ("patients", re.compile(r"patient"), "a patients file"),
    ("patients", re.compile(r"demographic"), "a demographics file"),
    ("patients", re.compile(r"intake"), "an intake file"),
    ("patients", re.compile(r"enrol"), "an enrolment file"),
)
_TABLE_WORDS = {
    "sessions": "sessions",
    "assessments": "assessments",
    "side_effects": "side effects",
    "patients": "patients",
}
# Canonical columns that stand for a session file, with the words the reason uses.
_SESSION_EVIDENCE = {
    "route": "a route",
    "dose_mg": "a dose",
    "dose_mg_per_kg": "a dose",
    "bp_pre": "a blood pressure",
    "bp_systolic_pre": "a blood pressure",
    "dissociation_cadss": "a CADSS",
}


@dataclass(frozen=True)
class TableGuess:
    """Which table a file holds, and why, in a sentence for the user.

    Attributes
    ----------
    table : str or None
        One of :data:`analytics.ingest.mapping.TABLES`; None when neither the name nor the
        columns tell.
    reason : str
        Why, such as "named like a visits file, and has a route and a dose column".
    """

    table: str | None
    reason: str


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
    """Which table a file holds, by its name and headers; None when it cannot tell.

    The table of :func:`identify_file`; see there and the module docstring.

    Examples
    --------
    >>> identify_table("Adverse_events_2025.csv", ["x"])
    'side_effects'
    >>> identify_table("export.csv", ["Patient ID", "Route of Administration"])
    'sessions'
    """
    return identify_file(file, columns, mapping).table


def identify_file(
    file: str,
    frame_or_columns: pd.DataFrame | Sequence[str],
    mapping: ColumnMapping | None = None,
) -> TableGuess:
    """Which table a file holds, and the reason, from its name, its columns and the mapping.

    Parameters
    ----------
    file : str
        The file's name as uploaded.
    frame_or_columns : DataFrame or sequence of str
        The file read (its rows let a patients file be told by one row per patient), or only
        its headers. A ``_row`` column is ignored.
    mapping : ColumnMapping, optional
        The clinic's mapping: its ``tables`` fix a file's table, its ``columns`` rename headers.

    Returns
    -------
    TableGuess

    Examples
    --------
    >>> identify_file("Visits_Export_2025.csv", ["Patient ID", "Medication", "Dose (mg)"])
    TableGuess(table='sessions', reason='named like a visits file, and has a route column \
("Medication") and a dose column ("Dose (mg)")')
    """
    if isinstance(frame_or_columns, pd.DataFrame):
        frame = frame_or_columns
        columns = [str(c) for c in frame.columns if c != "_row"]
    else:
        frame = None
        columns = [str(c) for c in frame_or_columns if c != "_row"]
    if mapping is not None and mapping.table_for(file) is not None:
        return TableGuess(mapping.table_for(file), "chosen for files named like this one")
    stem = _name_words(file)
    for table in TABLES:
        if stem.replace(" ", "_") == table or stem.endswith(" " + table.replace("_", " ")):
            return TableGuess(table, f"named after the {_TABLE_WORDS[table]} table")
    by_name = next(((t, like) for t, pattern, like in NAME_WORDS if pattern.search(stem)), None)
    by_columns = _table_by_columns(columns, frame, mapping)
    if by_name is None and by_columns is None:
        return TableGuess(None, "neither its name nor its columns say which table it holds")
    if by_columns is None:
        return TableGuess(by_name[0], f"named like {by_name[1]}")
    if by_name is None:
        return TableGuess(by_columns[0], f"{by_columns[1]}")
    (name_table, like), (column_table, evidence) = by_name, by_columns
    if name_table == column_table:
        return TableGuess(name_table, f"named like {like}, and {evidence}")
    if name_table == "patients" and _one_row_per_patient(columns, frame, mapping):
        return TableGuess("patients", f"named like {like}, with one row per patient")
    if column_table == "patients":
        # "no date column" is weak evidence: the name tells more.
        return TableGuess(name_table, f"named like {like}")
    return TableGuess(
        column_table,
        f"named like {like}, but {evidence}, so it holds {_TABLE_WORDS[column_table]}",
    )


def _name_words(file: str) -> str:
    """The file's stem in lower case, words apart: "PCL5_Scores.csv" -> "pcl5 scores"."""
    stem = Path(str(file)).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)  # "SideEffects" -> "Side Effects"
    return " ".join(re.split(r"[^0-9a-z]+", spaced.lower())).strip()


def _quoted(header: str) -> str:
    return f'"{header}"'


def _table_by_columns(
    columns: list[str], frame: pd.DataFrame | None, mapping: ColumnMapping | None
) -> tuple[str, str] | None:
    """(table, "has ... column") when the columns tell the table, else None."""
    lowered = [c.strip().lower() for c in columns]
    original = dict(zip(lowered, columns))

    def named(table: str) -> dict[str, str]:
        """{canonical -> their header} of the columns that map onto ``table``."""
        return {v: original[k] for k, v in rename_columns(lowered, table, mapping).items()}

    sessions = named("sessions")
    found: dict[str, str] = {}
    for canonical, words in _SESSION_EVIDENCE.items():
        if canonical in sessions and words not in found:
            found[words] = sessions[canonical]
    listed = "has " + " and ".join([f"{w} column ({_quoted(h)})" for w, h in found.items()][:2])
    # A route is the surest sign (the original rule); an effect next; a dose alone after it.
    if "a route" in found:
        return "sessions", listed
    effects = named("side_effects")
    if "effect" in effects:
        return "side_effects", f"has an effect column ({_quoted(effects['effect'])})"
    if "a dose" in found:
        return "sessions", listed
    assessments = named("assessments")
    totals = instrument_totals(lowered, "assessments", mapping)
    if totals:
        header = original[next(iter(totals))]
        return "assessments", f"has a questionnaire total column ({_quoted(header)})"
    for canonical, words in (("total", "a total"), ("instrument", "an instrument")):
        if canonical in assessments:
            return "assessments", f"has {words} column ({_quoted(assessments[canonical])})"
    if detect_instruments(lowered) or any(re.fullmatch(r"item_?\d+", c) for c in lowered):
        return "assessments", "has questionnaire item columns"
    if _one_row_per_patient(columns, frame, mapping):
        if frame is None:
            return "patients", "has a patient id column and no date or day column"
        return "patients", "has one row per patient and no date or day column"
    return None


def _one_row_per_patient(
    columns: list[str], frame: pd.DataFrame | None, mapping: ColumnMapping | None
) -> bool:
    """A patient id column, no date or day, another column; each id once when rows are given."""
    lowered = [c.strip().lower() for c in columns]
    renamed = rename_columns(lowered, "sessions", mapping)
    renamed.update(rename_columns(lowered, "assessments", mapping))
    targets = set(renamed.values())
    if "patient_id" not in targets or len(columns) < 2:
        return False
    if targets & {"session_date", "assessment_date", "day"}:
        return False
    if frame is None:
        return True
    header = columns[lowered.index(next(k for k, v in renamed.items() if v == "patient_id"))]
    ids = frame[header].astype("string").str.strip()
    ids = ids[ids.notna() & (ids != "")]
    return len(ids) > 0 and not ids.duplicated().any()
