"""Column mappings for exports that do not use the contract's names.

EHR and spreadsheet exports head their columns "Patient ID", "Date of Service" or "PCL-5 Total"
where the contract says ``patient_id``, ``session_date`` and ``total``. :data:`SYNONYMS` lists the
headers seen in practice; :func:`guess_mapping` proposes a :class:`ColumnMapping` from them, the
user corrects it, and :func:`save_preset` keeps it for the next upload of the same export.

Headers are compared by :func:`header_key`: lower case with every character that is not a letter
or a digit removed, so "PCL-5 Total", "pcl5_total" and "PCL5 total" are the same header.

Wide sheets (one row per patient, one total column per timepoint) become assessment rows with
:func:`wide_to_long`; :func:`guess_column_days` proposes the day of each timepoint column.

Blood pressure written in one cell ("142/85") has its own canonical columns, ``bp_pre`` and
``bp_peak`` ("BP", "Pre BP", "Peak BP", "Max BP"), which the importer splits into systolic and
diastolic (:mod:`analytics.ingest.blood_pressure`). A reading "post" the session is not taken
to be its peak: the contract's peak is the highest reading during monitoring (the Spravato
label's checks at about 40 minutes), while "post" is often the discharge reading, lower than
the peak; reading it as the peak would hide rises. So "Post BP" and "systolic (post)" are not
recognised; a clinic whose "post" reading is its 40-minute one maps it itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from analytics.core.problems import Problem

__all__ = [
    "COLUMN_LABELS",
    "DATE_ORDERS",
    "DEFAULT_PRESET_DIR",
    "INSTRUMENT_TOTAL_KEYS",
    "SYNONYMS",
    "TABLES",
    "ColumnMapping",
    "guess_column_days",
    "guess_mapping",
    "file_key",
    "header_key",
    "list_presets",
    "load_preset",
    "save_preset",
    "wide_to_long",
]

TABLES = ("sessions", "assessments", "side_effects", "patients")
# How slashed dates such as 03/04/2025 are read: day first or month first.
DATE_ORDERS = ("dmy", "mdy")

# Presets hold no patient data, but they describe a clinic's export: kept out of git (var/).
DEFAULT_PRESET_DIR = Path("var/presets")

_PATIENT_ID = [
    "patient id",
    "patient",
    "patient_id",
    "pt id",
    "subject",
    "subject id",
    "record_id",
    "record id",
    "participant",
    "participant id",
    "client id",
    "study id",
    "pseudonym",
    "scr_id",
]
_DAY = ["day", "study day", "day number", "days since first session", "days since first dose"]

# Canonical column -> headers seen in exports. Identifying headers (MRN, name, date of birth) are
# deliberately absent: those columns are refused by the PHI guard, never mapped.
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "sessions": {
        "patient_id": _PATIENT_ID,
        "session_date": [
            "date of service",
            "dos",
            "service date",
            "visit date",
            "session date",
            "treatment date",
            "infusion date",
            "dose date",
            "dosing date",
            "appointment date",
            "encounter date",
            "date",
        ],
        "day": _DAY,
        "route": [
            "route of administration",
            "administration route",
            "route",
            "roa",
            "modality",
            "treatment type",
            "medication",
            "medication route",
            "drug",
        ],
        "dose_mg": ["dose", "dose (mg)", "dose mg", "total dose (mg)", "ketamine dose (mg)"],
        "dose_mg_per_kg": ["dose (mg/kg)", "dose mg/kg", "mg/kg", "dose per kg", "mg per kg"],
        "bp_systolic_pre": [
            "systolic (pre)",
            "systolic pre",
            "pre systolic",
            "sbp pre",
            "pre sbp",
            "predose systolic",
            "pre-dose systolic",
            "systolic bp pre",
            "baseline systolic",
        ],
        "bp_diastolic_pre": [
            "diastolic (pre)",
            "diastolic pre",
            "pre diastolic",
            "dbp pre",
            "pre dbp",
            "predose diastolic",
            "pre-dose diastolic",
            "diastolic bp pre",
            "baseline diastolic",
        ],
        "bp_systolic_peak": [
            "systolic (peak)",
            "systolic peak",
            "peak systolic",
            "sbp peak",
            "peak sbp",
            "systolic (40 min)",
            "systolic 40 min",
            "sbp 40 min",
            "max systolic",
            "maximum systolic",
        ],
        "bp_diastolic_peak": [
            "diastolic (peak)",
            "diastolic peak",
            "peak diastolic",
            "dbp peak",
            "peak dbp",
            "diastolic (40 min)",
            "diastolic 40 min",
            "dbp 40 min",
            "max diastolic",
            "maximum diastolic",
        ],
        # One "142/85" cell per reading; split into systolic and diastolic on import.
        "bp_pre": [
            "bp",
            "blood pressure",
            "bp pre",
            "pre bp",
            "bp (pre)",
            "baseline bp",
            "bp baseline",
            "pre-dose bp",
            "predose bp",
            "pre-treatment bp",
            "pretreatment bp",
            "bp before",
            "blood pressure (pre)",
            "blood pressure pre",
            "pre blood pressure",
            "baseline blood pressure",
        ],
        "bp_peak": [
            "peak bp",
            "bp peak",
            "bp (peak)",
            "max bp",
            "bp max",
            "maximum bp",
            "highest bp",
            "bp (40 min)",
            "bp 40 min",
            "40 min bp",
            "peak blood pressure",
            "blood pressure (peak)",
            "blood pressure peak",
            "max blood pressure",
        ],
        "dissociation_cadss": ["cadss", "cadss total", "cadss score", "dissociation score"],
        "sedation": ["sedation", "sedated", "sedation (y/n)", "sedation yes/no"],
        "dissociation": ["dissociation", "dissociated", "dissociation (y/n)"],
        "clinician": ["clinician", "provider", "prescriber", "treating clinician"],
        "site": ["site", "clinic", "location", "clinic site"],
        "phase": ["phase", "treatment phase", "stage"],
    },
    "assessments": {
        "patient_id": _PATIENT_ID,
        "assessment_date": [
            "assessment date",
            "date completed",
            "completed date",
            "completion date",
            "survey date",
            "questionnaire date",
            "score date",
            "date of service",
            "dos",
            "visit date",
            "date",
        ],
        "day": _DAY,
        "instrument": ["instrument", "measure", "questionnaire", "scale", "survey", "form"],
        "total": ["total", "total score", "score", "sum score", "raw score"],
    },
    "side_effects": {
        "patient_id": _PATIENT_ID,
        "session_date": [
            "date of service",
            "dos",
            "service date",
            "visit date",
            "session date",
            "treatment date",
            "infusion date",
            "date",
        ],
        "day": _DAY,
        "effect": [
            "side effect",
            "side effects",
            "adverse event",
            "adverse effect",
            "ae",
            "event",
            "effect",
            "symptom",
        ],
        "severity": ["severity", "grade", "ae severity", "intensity"],
        "serious": ["serious", "sae", "serious adverse event", "serious (y/n)"],
    },
    "patients": {
        "patient_id": _PATIENT_ID,
        "first_session_year": ["first session year", "year of first session", "start year"],
        "first_session_month": ["first session month", "month of first session", "start month"],
        "follow_up_days": ["follow up days", "days of follow up", "days followed", "follow up"],
    },
}

# What each canonical column holds, in the words the upload page shows beside its name.
COLUMN_LABELS: dict[str, str] = {
    "patient_id": "the patient's study id (not a name or record number)",
    "session_date": "date of the session",
    "assessment_date": "date the questionnaire was completed",
    "day": "days since the patient's first session",
    "route": "how ketamine was given (IV, Spravato, IM, oral, ...)",
    "dose_mg": "dose in mg",
    "dose_mg_per_kg": "dose in mg per kg of body weight",
    "bp_pre": "blood pressure before the session (120/80)",
    "bp_peak": "highest blood pressure during the session (140/90)",
    "bp_systolic_pre": "systolic blood pressure before the session (the 120 of 120/80)",
    "bp_diastolic_pre": "diastolic blood pressure before the session (the 80 of 120/80)",
    "bp_systolic_peak": "highest systolic blood pressure during the session",
    "bp_diastolic_peak": "highest diastolic blood pressure during the session",
    "dissociation_cadss": "CADSS dissociation score",
    "sedation": "sedation seen (yes/no)",
    "dissociation": "dissociation seen (yes/no)",
    "clinician": "treating clinician",
    "site": "clinic site",
    "phase": "treatment phase (induction or maintenance)",
    "instrument": "questionnaire (PCL-5, PHQ-9, ...)",
    "total": "questionnaire total score",
    "effect": "side effect",
    "severity": "severity (mild, moderate, severe)",
    "serious": "serious adverse event (yes/no)",
    "first_session_year": "year of the first session",
    "first_session_month": "month of the first session",
    "follow_up_days": "days the patient could be followed, from the first session to the export",
}

# Compact header keys of columns that hold one instrument's total ("PCL-5 Total" -> "pcl5total").
INSTRUMENT_TOTAL_KEYS: dict[str, str] = {}
for _stem, _name in [
    ("pcl5", "PCL-5"),
    ("pcl", "PCL-5"),
    ("phq9", "PHQ-9"),
    ("phq", "PHQ-9"),
    ("gad7", "GAD-7"),
    ("gad", "GAD-7"),
    ("bdiii", "BDI-II"),
    ("bdi2", "BDI-II"),
    ("bdi", "BDI-II"),
    ("madrs", "MADRS"),
]:
    for _suffix in ("total", "score", "totalscore", "sum"):
        INSTRUMENT_TOTAL_KEYS[_stem + _suffix] = _name
for _stem in ("pcl5", "phq9", "gad7", "bdiii", "madrs"):
    INSTRUMENT_TOTAL_KEYS[_stem] = INSTRUMENT_TOTAL_KEYS[_stem + "total"]


def header_key(header: str) -> str:
    """The form in which headers are compared: lower case, letters and digits only.

    Examples
    --------
    >>> header_key(" PCL-5 Total ")
    'pcl5total'
    """
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


_MONTH_WORDS = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "january", "february", "march", "april", "june", "july", "august", "september", "october",
    "november", "december",
}  # fmt: skip


def file_key(file: str) -> str:
    """The part of a file name that stays the same from one export to the next.

    The stem in lower case without its digits, month names and separators, so
    "Visits_Export_2025.csv" and "visits-export-2026-01.csv" share a key, and a saved mapping
    can say which table every later export of that file holds.

    Examples
    --------
    >>> file_key("Visits_Export_2025.csv"), file_key("visits export Jan 2026.CSV")
    ('visitsexport', 'visitsexport')
    """
    stem = Path(str(file)).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    words = re.split(r"[^a-z]+", stem.lower())
    return "".join(w for w in words if w and w not in _MONTH_WORDS)


@dataclass(frozen=True)
class ColumnMapping:
    """How one clinic's export maps onto the CSV contract.

    Attributes
    ----------
    columns : dict
        Table -> {their header -> canonical column}. Headers are matched by :func:`header_key`.
    values : dict
        Vocabulary (``"route"``, ``"effect"``, ``"severity"``, ``"phase"``, ``"yes_no"``) ->
        {their spelling -> canonical code}, passed to the vocabularies as extra spellings
        (``"yes"``/``"no"`` for yes/no columns).
    totals : dict
        Table (``"assessments"``) -> {their header -> instrument}: a column holding one
        instrument's total, such as "PCL-5 Total". One such column becomes ``total`` with that
        instrument as the default; several are melted into one row per instrument.
    name : str or None
        The preset's name (shown in the upload page).
    tables : dict
        File key (:func:`file_key`) -> the table such files hold, as the user chose it.
    date_order : {"dmy", "mdy"} or None
        How the export writes slashed dates (day first or month first); None: not said.
    """

    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    totals: dict[str, dict[str, str]] = field(default_factory=dict)
    name: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    date_order: str | None = None

    def __post_init__(self) -> None:
        if self.date_order is not None and self.date_order not in DATE_ORDERS:
            raise ValueError(
                f"date_order must be one of {', '.join(DATE_ORDERS)} or None, "
                f"got {self.date_order!r}"
            )
        for key, table in self.tables.items():
            if table not in TABLES:
                raise ValueError(
                    f"tables maps {key!r} to {table!r}; expected one of {', '.join(TABLES)}"
                )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict) -> ColumnMapping:
        """The mapping described by ``payload`` (as written by :meth:`to_dict`).

        A preset saved before ``tables`` and ``date_order`` existed loads with neither.
        """
        if not isinstance(payload, dict):
            raise ValueError("a column mapping must be a JSON object")
        known = {"columns", "values", "totals", "name", "tables", "date_order"}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise ValueError(f"unknown keys in column mapping: {', '.join(unknown)}")
        nested = {}
        for key in ("columns", "values", "totals"):
            part = payload.get(key) or {}
            if not isinstance(part, dict) or not all(
                isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
                for v in part.values()
            ):
                raise ValueError(f"'{key}' must map names to objects of strings")
            nested[key] = {str(k): {str(a): b for a, b in v.items()} for k, v in part.items()}
        tables = payload.get("tables") or {}
        if not isinstance(tables, dict) or not all(isinstance(v, str) for v in tables.values()):
            raise ValueError("'tables' must map file names to table names")
        date_order = payload.get("date_order")
        if date_order is not None and not isinstance(date_order, str):
            raise ValueError('\'date_order\' must be "dmy", "mdy" or null')
        name = payload.get("name")
        return cls(
            **nested,
            name=None if name is None else str(name),
            tables={str(k): v for k, v in tables.items()},
            date_order=date_order,
        )

    def table_for(self, file: str) -> str | None:
        """The table this mapping says ``file`` holds (matched by :func:`file_key`), or None."""
        return self.tables.get(file_key(file))

    def columns_for(self, table: str) -> dict[str, str]:
        """{header key -> canonical column} for ``table``."""
        return {header_key(k): v for k, v in self.columns.get(table, {}).items()}

    def totals_for(self, table: str) -> dict[str, str]:
        """{header key -> instrument} for ``table``."""
        return {header_key(k): v for k, v in self.totals.get(table, {}).items()}


def _synonym_index(table: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, names in SYNONYMS[table].items():
        for name in [canonical, *names]:
            index.setdefault(header_key(name), canonical)
    return index


def guess_mapping(
    headers_by_table: dict[str, list[str]], *, name: str | None = None
) -> ColumnMapping:
    """Propose a mapping from the synonyms of :data:`SYNONYMS`.

    Parameters
    ----------
    headers_by_table : dict
        Table name (one of :data:`TABLES`) -> the headers of that table's file(s).
    name : str, optional
        Name to give the mapping.

    Returns
    -------
    ColumnMapping
        Only headers that differ from their canonical name (ignoring case) are listed. A
        canonical column already present in the file is never the target of a synonym, and each
        canonical column is claimed by the first header that matches it. Columns such as "PCL-5 Total" are listed
        in ``totals`` with their instrument.

    Examples
    --------
    >>> m = guess_mapping({"sessions": ["Patient ID", "Date of Service", "Route"]})
    >>> m.columns["sessions"]
    {'Patient ID': 'patient_id', 'Date of Service': 'session_date'}
    """
    columns: dict[str, dict[str, str]] = {}
    totals: dict[str, dict[str, str]] = {}
    for table, headers in headers_by_table.items():
        if table not in SYNONYMS:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        index = _synonym_index(table)
        present = {h.strip().lower() for h in headers}
        claimed = set(present & set(SYNONYMS[table]))
        found: dict[str, str] = {}
        for header in headers:
            key = header_key(header)
            canonical = index.get(key)
            if table == "assessments" and canonical is None and key in INSTRUMENT_TOTAL_KEYS:
                totals.setdefault(table, {})[header] = INSTRUMENT_TOTAL_KEYS[key]
                continue
            if canonical is None or canonical in claimed:
                continue
            claimed.add(canonical)
            if header != canonical:
                found[header] = canonical
        if found:
            columns[table] = found
    return ColumnMapping(columns=columns, totals=totals, name=name)


def save_preset(mapping: ColumnMapping, path: str | Path) -> Path:
    """Write ``mapping`` as JSON to ``path`` (folders are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mapping.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
    return path


def load_preset(path: str | Path) -> ColumnMapping:
    """Read a mapping written by :func:`save_preset`.

    Raises
    ------
    ValueError
        When the file is not valid JSON or not a column mapping.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return ColumnMapping.from_dict(payload)


def list_presets(directory: str | Path = DEFAULT_PRESET_DIR) -> list[str]:
    """Names (file stems) of the presets saved in ``directory``, sorted; [] when it is absent."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if p.is_file())


_DAY_PATTERNS = [
    (re.compile(r"^(?:baseline|pre|pretreatment|screening|intake|bl)$"), lambda n: 0),
    (re.compile(r"^(?:24h|24hr|24hrs|24hours)$"), lambda n: 1),
    (re.compile(r"^(?:day|d)(\d+)$"), lambda n: n),
    (re.compile(r"^(?:week|wk|w)(\d+)$"), lambda n: 7 * n),
    (re.compile(r"^(?:month|mo|m)(\d+)$"), lambda n: 30 * n),
    (re.compile(r"^(\d+)(?:d|day|days)$"), lambda n: n),
    (re.compile(r"^(\d+)(?:w|wk|week|weeks)$"), lambda n: 7 * n),
    (re.compile(r"^(\d+)(?:m|mo|month|months)$"), lambda n: 30 * n),
]


def _timepoint_key(column: str) -> str:
    key = header_key(column)
    # "PCL-5 week 4", "pcl_total_week_4": strip an instrument or total prefix.
    key = re.sub(r"^(pcl5|pcl|phq9|gad7|bdiii|bdi|madrs)", "", key)
    key = re.sub(r"^(total|score)", "", key)
    key = re.sub(r"(total|score)$", "", key)
    return key


def guess_column_days(columns: Iterable[str]) -> dict[str, int]:
    """Propose the day of each timepoint column of a wide sheet, for the user to edit.

    ``baseline``/``pre`` -> 0, ``24h`` -> 1, ``day_N`` -> N, ``week_N`` -> 7N, ``month_N``
    -> 30N. Columns that do not look like a timepoint are left out.

    Examples
    --------
    >>> guess_column_days(["patient_id", "baseline", "week_1", "day_30", "month_3", "24h"])
    {'baseline': 0, 'week_1': 7, 'day_30': 30, 'month_3': 90, '24h': 1}
    """
    days: dict[str, int] = {}
    for column in columns:
        key = _timepoint_key(column)
        for pattern, to_day in _DAY_PATTERNS:
            match = pattern.match(key)
            if match:
                days[column] = to_day(int(match.group(1)) if match.groups() else 0)
                break
    return days


def wide_to_long(
    frame: pd.DataFrame,
    *,
    id_column: str,
    column_days: dict[str, int],
    instrument: str = "PCL-5",
    file: str,
    ignore: Iterable[str] = (),
) -> tuple[pd.DataFrame, list[Problem]]:
    """One row per patient with a total per timepoint -> assessment rows.

    Parameters
    ----------
    frame : DataFrame
        The wide sheet; an optional ``_row`` column (the spreadsheet row) is carried over.
    id_column : str
        The column holding the patient id.
    column_days : dict
        Timepoint column -> day relative to the first treatment session.
    instrument : str
        Instrument of every total.
    file : str
        File name for the problems.
    ignore : iterable of str
        Other columns that are not timepoints (age, arm, ...); they are left out.

    Returns
    -------
    (DataFrame, list of Problem)
        Columns ``patient_id``, ``day``, ``instrument``, ``total`` (as text, the importer
        coerces it) and ``_row`` when given, one row per non-blank cell, ordered by patient and
        day. A column that is neither the id, a timepoint nor ignored is an ERROR, and so is a
        missing id column; the frame is then empty.
    """
    out_columns = ["patient_id", "day", "instrument", "total"]
    empty = pd.DataFrame({c: pd.Series([], dtype="string") for c in out_columns})
    problems: list[Problem] = []
    if id_column not in frame.columns:
        problems.append(Problem(file, None, id_column, None, "the patient id column is missing"))
        return empty, problems
    skip = {id_column, "_row", *ignore}
    unmapped = [c for c in frame.columns if c not in skip and c not in column_days]
    missing = [c for c in column_days if c not in frame.columns]
    if unmapped:
        problems.append(
            Problem(
                file,
                None,
                None,
                None,
                "these columns have no day: "
                + ", ".join(map(str, unmapped))
                + " (give each timepoint column a day, or mark it as not a timepoint)",
            )
        )
    if missing:
        problems.append(
            Problem(
                file,
                None,
                None,
                None,
                "these timepoint columns are not in the file: " + ", ".join(map(str, missing)),
            )
        )
    if problems:
        return empty, problems
    keep = [id_column] + (["_row"] if "_row" in frame.columns else [])
    long = frame.melt(
        id_vars=keep, value_vars=list(column_days), var_name="_col", value_name="total"
    )
    long = long[long["total"].notna() & (long["total"].astype("string").str.strip() != "")]
    long = long.assign(
        day=long["_col"].map(column_days).astype("int64"),
        instrument=instrument,
    ).rename(columns={id_column: "patient_id"})
    columns = out_columns + (["_row"] if "_row" in long.columns else [])
    long = long[columns].astype({"patient_id": "string", "instrument": "string", "total": "string"})
    return long.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True), problems
