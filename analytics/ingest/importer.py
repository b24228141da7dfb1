"""Turn a clinic's CSV exports into :class:`~analytics.core.contract.ClinicData`, all or nothing.

:func:`import_files` is the only producer of the canonical tables. It reads each file, decides
which table it holds, maps the clinic's headers onto the contract, refuses identifying columns,
normalises vocabularies, coerces numbers and dates, scores questionnaires, removes exact
duplicates, puts every row on the patient's day axis (day 0 = first treatment session), numbers
the sessions, matches side effects to sessions and validates the result. Any ERROR anywhere and
``data`` is None; every problem found is reported, not only the first.

The rules for dates, days and their edge cases are written in ``docs/data-contract.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.contract import (
    ASSESSMENT_COLUMNS,
    MAX_ITEMS,
    SESSION_COLUMNS,
    SIDE_EFFECT_COLUMNS,
    ClinicData,
    clinic_from_frames,
)
from analytics.core.ids import factorize_ids
from analytics.core.instruments import (
    INSTRUMENTS,
    canonical_instrument,
    detect_instruments,
    item_column_map,
)
from analytics.core.problems import ERROR, WARNING, Problem, problems_frame
from analytics.ingest import vocabularies as vocab
from analytics.ingest.identifiers import drop_columns, find_phi
from analytics.ingest.mapping import (
    INSTRUMENT_TOTAL_KEYS,
    SYNONYMS,
    TABLES,
    ColumnMapping,
    header_key,
)
from analytics.ingest.reader import read_table
from analytics.ingest.schemas import validate_tables
from analytics.ingest.scoring import score_forms

__all__ = ["ImportOptions", "ImportResult", "identify_table", "import_files", "import_folder"]

# Problems naming the upload as a whole rather than one file.
UPLOAD = "upload"

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

_FILE_PATTERNS = [
    ("side_effects", re.compile(r"side.?effect|adverse|sideeffect")),
    ("sessions", re.compile(r"session")),
    ("assessments", re.compile(r"assessment|score|pcl|outcome")),
    ("patients", re.compile(r"patient|demographic")),
]
_EPOCH = np.datetime64("1970-01-01", "D")
_DATE = re.compile(
    r"^\s*(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
_DATE_RULE = (
    "is not a date in the form YYYY-MM-DD (ISO 8601); dates such as 03/04/2025 are ambiguous "
    "(March or April), so export them as YYYY-MM-DD"
)


@dataclass(frozen=True)
class ImportOptions:
    """How an upload is imported.

    Attributes
    ----------
    keep_month : bool
        Keep the month of each patient's first session (a limited data set). Default: the year
        only, as HIPAA Safe Harbor allows (45 CFR 164.514(b)(2)).
    prorate : bool
        Prorate totals with at most 2 missing items (flagged ``prorated``).
    drop_phi : bool
        Drop identifying-looking columns with a WARNING instead of refusing the upload.
    max_bytes : int or None
        Largest file accepted; None uses the reader's default.
    default_instrument : str
        Instrument of assessment rows whose file has no (or a blank) ``instrument``.
    problem_limit : int
        At most this many problems per file, column and rule; the rest are counted.
    raise_unexpected : bool
        Re-raise unexpected exceptions instead of reporting them as "could not be read"
        (for tests and debugging).
    """

    keep_month: bool = False
    prorate: bool = False
    drop_phi: bool = False
    max_bytes: int | None = None
    default_instrument: str = "PCL-5"
    problem_limit: int = 20
    raise_unexpected: bool = False


@dataclass(frozen=True)
class ImportResult:
    """What an import produced.

    Attributes
    ----------
    data : ClinicData or None
        The canonical tables; None when any problem is an ERROR (all or nothing).
    problems : list of Problem
        Errors and warnings, in the order found.
    table_of_files : dict
        File name -> the table it was read as (only files whose table was recognised).
    """

    data: ClinicData | None
    problems: list[Problem] = field(default_factory=list)
    table_of_files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is an ERROR (and so ``data`` is set)."""
        return self.data is not None and not any(p.severity == ERROR for p in self.problems)

    def problems_frame(self) -> pd.DataFrame:
        """The problems as a table, errors first."""
        return problems_frame(self.problems)

    def summary(self) -> dict[str, int]:
        """Rows per canonical table, for the success message; {} when nothing was imported."""
        if self.data is None:
            return {}
        return {
            "patients": len(self.data.patients),
            "sessions": len(self.data.sessions),
            "assessments": len(self.data.assessments),
            "side_effects": len(self.data.side_effects),
        }


@dataclass
class _Part:
    """One file on its way to a canonical table."""

    file: str
    table: str
    frame: pd.DataFrame
    dated: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class _Collector:
    """Problems with a cap per (file, column, rule, severity), so that a bad column of a million
    rows is one screenful rather than a million lines; the rest are counted in one more line."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[Problem] = []
        self._counts: dict[tuple, int] = {}
        self.n_errors = 0

    def add(self, problem: Problem, extra: int = 0) -> None:
        if problem.severity == ERROR:
            self.n_errors += 1
        if problem.row is None:
            self.items.append(problem)
            return
        key = (problem.file, problem.column, problem.rule, problem.severity)
        seen = self._counts.get(key, 0)
        self._counts[key] = seen + 1 + extra
        if seen < self.limit:
            self.items.append(problem)

    def extend(self, problems) -> None:
        for problem in problems:
            self.add(problem)

    def rows(self, file, rows, column, values, rule, severity=ERROR) -> None:
        rows = pd.Series(rows).reset_index(drop=True)
        if rows.empty:
            return
        head = min(self.limit, len(rows))
        shown = None if values is None else pd.Series(values).reset_index(drop=True)
        for i in range(head):
            value = None if shown is None else _short(shown.iloc[i])
            extra = len(rows) - head if i == head - 1 else 0
            self.add(Problem(file, int(rows.iloc[i]), column, value, rule, severity), extra)

    def finish(self) -> list[Problem]:
        out = list(self.items)
        for (file, column, rule, severity), n in self._counts.items():
            if n > self.limit:
                more = f"{n - self.limit} more rows: {rule}"
                out.append(Problem(file, None, column, None, more, severity))
        return out

    @property
    def has_errors(self) -> bool:
        return self.n_errors > 0


def _short(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
    if "route" in _rename(lowered, "sessions", mapping).values():
        return "sessions"
    if "effect" in _rename(lowered, "side_effects", mapping).values():
        return "side_effects"
    renamed = set(_rename(lowered, "assessments", mapping).values())
    if (
        renamed & {"instrument", "total"}
        or _totals(lowered, "assessments", mapping)
        or detect_instruments(lowered)
        or any(re.fullmatch(r"item_?\d+", c) for c in lowered)
    ):
        return "assessments"
    return None


def _rename(columns: list[str], table: str, mapping: ColumnMapping | None) -> dict[str, str]:
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


def _totals(columns: list[str], table: str, mapping: ColumnMapping | None) -> dict[str, str]:
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


def import_folder(
    path: str | Path,
    *,
    options: ImportOptions = ImportOptions(),
    mapping: ColumnMapping | None = None,
) -> ImportResult:
    """Import every ``*.csv`` file of a folder (not its subfolders) with :func:`import_files`.

    Raises
    ------
    NotADirectoryError
        When ``path`` is not a folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder.name} is not a folder")
    files = {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() == ".csv"
    }
    return import_files(files, options=options, mapping=mapping)


def import_files(
    files: Mapping[str, bytes],
    *,
    options: ImportOptions = ImportOptions(),
    mapping: ColumnMapping | None = None,
) -> ImportResult:
    """Import uploaded CSV files into the canonical tables, all or nothing.

    Parameters
    ----------
    files : mapping of str to bytes
        File name (as uploaded) -> its bytes.
    options : ImportOptions
        Month keeping, proration, PHI handling, size limit, default instrument.
    mapping : ColumnMapping, optional
        The clinic's header and value mapping; synonyms are used for every header it does not
        name.

    Returns
    -------
    ImportResult
        ``data`` is None when any problem is an ERROR. No exception escapes for any file
        content: an unexpected failure becomes an ERROR "could not be read" (unless
        ``options.raise_unexpected``).
    """
    out = _Collector(options.problem_limit)
    table_of_files: dict[str, str] = {}
    parts: list[_Part] = []
    if not files:
        out.add(Problem(UPLOAD, None, None, None, "no CSV files were given"))
        return ImportResult(None, out.finish(), table_of_files)
    for file, data in files.items():
        try:
            part = _prepare(file, data, options, mapping, out, table_of_files)
        except Exception as exc:  # noqa: BLE001 - any byte input must give a problem, not a crash
            if options.raise_unexpected:
                raise
            out.add(Problem(file, None, None, None, f"could not be read: {_describe(exc)}"))
            continue
        if part is not None:
            table_of_files[file] = part.table
            parts.append(part)
    data = None
    try:
        data = _assemble(parts, options, out)
    except Exception as exc:  # noqa: BLE001
        if options.raise_unexpected:
            raise
        out.add(Problem(UPLOAD, None, None, None, f"could not be imported: {_describe(exc)}"))
    problems = out.finish()
    if any(p.severity == ERROR for p in problems):
        data = None
    return ImportResult(data, problems, table_of_files)


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# One file


def _prepare(file, data, options, mapping, out: _Collector, table_of_files) -> _Part | None:
    kwargs = {} if options.max_bytes is None else {"max_bytes": options.max_bytes}
    read = read_table(file, data, **kwargs)
    out.extend(read.problems)
    if read.frame is None:
        return None
    frame = read.frame
    columns = [c for c in frame.columns if c != "_row"]
    original = dict(zip(columns, read.headers)) if len(columns) == len(read.headers) else {}
    table = identify_table(file, columns, mapping)
    if table is None:
        out.add(
            Problem(
                file,
                None,
                None,
                None,
                "cannot tell which table this file holds: name it sessions.csv, "
                "assessments.csv, side_effects.csv or patients.csv, or see docs/data-contract.md",
            )
        )
        return None
    table_of_files[file] = table
    if any(p.severity == ERROR for p in read.problems):
        return None

    phi = find_phi(frame, file=file, headers=read.headers)
    if phi:
        if options.drop_phi:
            frame = drop_columns(frame, phi)
            out.extend(
                Problem(p.file, p.row, p.column, None, p.rule + "; the column was dropped", WARNING)
                for p in phi
            )
            columns = [c for c in frame.columns if c != "_row"]
        else:
            out.extend(Problem(p.file, p.row, p.column, None, p.rule, ERROR) for p in phi)
            return None

    renames = _rename(columns, table, mapping)
    totals = _totals([c for c in columns if c not in renames], table, mapping)
    headers = {renames.get(c, c): original.get(c, c) for c in columns}
    frame = frame.rename(columns=renames)
    part = _Part(file=file, table=table, frame=frame, headers=headers)
    if table == "patients":
        return _prepare_patients(part, out)
    if not _has_required(part, totals, out):
        return None
    errors_before = _count_errors(out)
    keep = _common(part, out)
    if table == "sessions":
        keep |= _prepare_sessions(part, mapping, out)
    elif table == "side_effects":
        keep |= _prepare_side_effects(part, mapping, out)
    else:
        _prepare_assessments(part, totals, options, out)
        return part if _count_errors(out) == errors_before else None
    ignored = [c for c in part.frame.columns if c not in keep]
    for column in ignored:
        out.add(
            Problem(
                file,
                None,
                part.headers.get(column, column),
                None,
                f"this column is not part of the {table} contract and was not imported",
                WARNING,
            )
        )
    part.frame = part.frame[[c for c in part.frame.columns if c in keep]]
    return part if _count_errors(out) == errors_before else None


def _count_errors(out: _Collector) -> int:
    return out.n_errors


def _has_required(part: _Part, totals, out: _Collector) -> bool:
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


def _common(part: _Part, out: _Collector) -> set[str]:
    """patient_id and time, shared by sessions, assessments and side effects."""
    f = part.frame
    f["patient_id"] = _stripped(f["patient_id"], blank_as_na=True)
    blank = f["patient_id"].isna()
    out.rows(part.file, f.loc[blank, "_row"], part.headers["patient_id"], None, "must not be blank")
    time = TIME_COLUMNS[part.table]
    if time in f.columns:
        part.dated = True
        t, bad, blank_t = _per_distinct(_parse_dates, f[time])
        header = part.headers[time]
        out.rows(part.file, f.loc[bad, "_row"], header, f.loc[bad, time], _DATE_RULE)
        out.rows(part.file, f.loc[blank_t, "_row"], header, None, "must not be blank")
        if "day" in f.columns:
            out.add(
                Problem(
                    part.file,
                    None,
                    part.headers["day"],
                    None,
                    f"ignored: days are computed from '{header}'",
                    WARNING,
                )
            )
    else:
        t, bad, blank_t = _per_distinct(_parse_days, f["day"])
        header = part.headers["day"]
        out.rows(part.file, f.loc[bad, "_row"], header, f.loc[bad, "day"], "must be a whole number")
        out.rows(part.file, f.loc[blank_t, "_row"], header, None, "must not be blank")
    f["_t"] = t
    f["_file"] = part.file
    part.frame = f.drop(columns=[c for c in (time, "day") if c in f.columns])
    return {"patient_id", "_t", "_row", "_file"}


def _per_distinct(parse, raw: pd.Series) -> tuple[pd.Series, ...]:
    """``parse(raw)``, computed once per distinct value of ``raw`` and spread back by codes.

    ``parse`` must treat each cell on its own (or, like :func:`_floats`, decide on the set of
    values, which the distinct values share with the column); a column of millions of cells
    holds a few hundred dates or numbers, so the text is parsed a few hundred times. The cells
    are hashed in Arrow (:func:`analytics.ingest.vocabularies.distinct_codes`).
    """
    text = raw.astype("string")
    codes, values = vocab.distinct_codes(text)
    if 2 * (len(values) - int(values.hasnans)) > len(text):
        return parse(raw)
    return tuple(_spread(result, codes, raw) for result in parse(values))


def _spread(result: pd.Series, codes: np.ndarray, like: pd.Series) -> pd.Series:
    """``result`` (one value per distinct value) taken at ``codes``, on the index of ``like``."""
    if isinstance(result.dtype, np.dtype):
        return pd.Series(result.to_numpy()[codes], index=like.index, name=like.name, copy=False)
    return pd.Series(result.array.take(codes), index=like.index, name=like.name)


def _stripped(raw: pd.Series, *, blank_as_na: bool = False) -> pd.Series:
    """``raw.astype("string").str.strip()`` (blank cells NA with ``blank_as_na``), stripping
    each distinct value once."""
    text = raw.astype("string")
    codes, values = vocab.distinct_codes(text)
    if 2 * len(values) > len(text):
        out = text.str.strip()
        return out.mask(out == "") if blank_as_na else out
    values = values.str.strip()
    if blank_as_na:
        values = values.mask(values == "")
    return pd.Series(values.array.take(codes), index=raw.index, name=raw.name)


def _parse_dates(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Days since 1970-01-01 of ISO dates (time of day dropped), and the bad and blank masks."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    # Fast path for plain YYYY-MM-DD; the pattern handles the rest (times, slashes).
    stamp = pd.to_datetime(text.mask(blank), format="%Y-%m-%d", errors="coerce")
    rest = stamp.isna() & ~blank
    if rest.any():
        parts = text[rest].str.extract(_DATE)
        other = pd.to_datetime(
            pd.DataFrame(
                {
                    "year": pd.to_numeric(parts[0], errors="coerce").astype("float64"),
                    "month": pd.to_numeric(parts[2], errors="coerce").astype("float64"),
                    "day": pd.to_numeric(parts[3], errors="coerce").astype("float64"),
                }
            ),
            errors="coerce",
        )
        stamp = stamp.astype("datetime64[ns]")
        stamp[rest] = other.astype("datetime64[ns]")
    bad = stamp.isna() & ~blank
    days = (stamp.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]") - _EPOCH).astype("int64")
    t = pd.Series(days, index=raw.index, dtype="int64").where(stamp.notna())
    return t, bad.fillna(False).astype(bool), blank.fillna(True).astype(bool)


def _parse_days(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    number = _floats(text.mask(blank))
    whole = number.notna() & (number == np.round(number)) & (number.abs() < 1e6)
    bad = ~blank & ~whole
    return number.where(whole), bad.astype(bool), blank.fillna(True).astype(bool)


def _numbers(part: _Part, columns, out: _Collector) -> set[str]:
    f = part.frame
    kept = set()
    for column in columns:
        if column not in f.columns:
            continue
        f[column] = _to_number(f[column], f["_row"], part.file, part.headers[column], out)
        kept.add(column)
    return kept


def _floats(text: pd.Series) -> pd.Series:
    """Text to float64, NaN where it is not a number; Arrow's parser when every cell parses."""
    try:
        parsed = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def _to_number(raw: pd.Series, rows: pd.Series, file: str, header: str, out) -> pd.Series:
    whole = _whole_column_numbers(raw)
    if whole is not None:
        return whole
    number, bad = _per_distinct(_number_values, raw)
    out.rows(file, rows[bad], header, raw[bad], "must be a number")
    return number


def _whole_column_numbers(raw: pd.Series) -> pd.Series | None:
    """float64 of an Arrow text column whose every filled cell is a finite number, in one cast;
    None otherwise (a blank or padded cell, text, infinity), for :func:`_number_values`.

    Arrow's cast refuses empty and padded text, so a column it parses holds only cells that
    :func:`_number_values` would strip to themselves and parse with the same cast.
    """
    if not (len(raw) and isinstance(raw.dtype, pd.StringDtype) and raw.dtype.storage == "pyarrow"):
        return None
    try:
        parsed = pc.cast(raw.array.__arrow_array__(), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
        return None
    values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
    if not values.flags.writeable:
        values = values.copy()  # a view of Arrow's buffer: the column is owned, as before
    # Blank cells are NaN; any other non-finite value is "inf" or "nan" written in a cell,
    # reported as not a number.
    if len(values) - int(np.count_nonzero(np.isfinite(values))) != parsed.null_count:
        return None
    return pd.Series(values, index=raw.index, name=raw.name, copy=False)


def _number_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """float64 of number cells (NaN when blank, not a number or not finite), and the bad mask."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    number = _floats(text.mask(blank)).astype("float64")
    number = number.where(np.isfinite(number))
    bad = (number.isna() & ~blank).astype(bool)
    return number, bad


def _vocabulary(part: _Part, column, normalise, accepted, out, extra=None) -> None:
    f = part.frame
    if column not in f.columns:
        return
    raw = f[column]
    try:
        codes, unknown = normalise(raw, extra) if extra is not None else normalise(raw)
    except (TypeError, ValueError) as exc:  # a preset's value mapping names no such code
        out.add(Problem(part.file, None, part.headers[column], None, f"column mapping: {exc}"))
        return
    unknown = pd.Series(unknown, index=f.index).fillna(False).astype(bool)
    rule = f"is not a known {column.replace('_', ' ')}; accepted: {', '.join(accepted)}"
    if column in ("route", "effect"):
        rule += " (or add a spelling to the column mapping; see docs/data-contract.md)"
    out.rows(part.file, f.loc[unknown, "_row"], part.headers[column], raw[unknown], rule)
    codes = pd.Series(codes, index=f.index)
    f[column] = codes if pd.api.types.is_bool_dtype(codes) else codes.astype("string")


def _yes_no(part: _Part, column: str, out: _Collector) -> None:
    f = part.frame
    if column not in f.columns:
        return
    _vocabulary(part, column, vocab.normalise_yes_no, ["yes", "no"], out)
    f[column] = _as_boolean(f[column])


def _as_boolean(codes: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(codes):
        return codes.astype("boolean")
    text = codes.astype("string").str.lower()
    truth = {"yes": True, "true": True, "y": True, "1": True, "no": False, "false": False}
    truth |= {"n": False, "0": False}
    return text.map(truth, na_action="ignore").astype("boolean")


def _values_for(mapping: ColumnMapping | None, key: str) -> dict[str, str] | None:
    if mapping is None or not mapping.values.get(key):
        return None
    return dict(mapping.values[key])


def _prepare_sessions(part: _Part, mapping, out: _Collector) -> set[str]:
    keep = {"route", "sedation", "dissociation", "clinician", "site", "phase"}
    _vocabulary(
        part,
        "route",
        vocab.normalise_route,
        list(vocab.ROUTES),
        out,
        extra=_values_for(mapping, "route"),
    )
    _vocabulary(part, "phase", vocab.normalise_phase, ["induction", "maintenance"], out)
    _yes_no(part, "sedation", out)
    _yes_no(part, "dissociation", out)
    for column in ("clinician", "site"):
        if column in part.frame:
            part.frame[column] = _stripped(part.frame[column])
    keep |= _numbers(part, NUMBER_COLUMNS["sessions"], out)
    return keep


def _prepare_side_effects(part: _Part, mapping, out: _Collector) -> set[str]:
    _vocabulary(
        part,
        "effect",
        vocab.normalise_effect,
        list(vocab.EFFECTS),
        out,
        extra=_values_for(mapping, "effect"),
    )
    _vocabulary(part, "severity", vocab.normalise_severity, ["mild", "moderate", "severe"], out)
    _yes_no(part, "serious", out)
    return {"effect", "severity", "serious"}


def _prepare_patients(part: _Part, out: _Collector) -> _Part | None:
    f = part.frame
    if "patient_id" not in f.columns:
        out.add(
            Problem(
                part.file,
                None,
                "patient_id",
                None,
                "required column is missing (see docs/data-contract.md for accepted headers)",
            )
        )
        return None
    errors_before = _count_errors(out)
    pid = f["patient_id"].astype("string").str.strip()
    f["patient_id"] = pid.mask(pid == "")
    out.rows(
        part.file,
        f.loc[f["patient_id"].isna(), "_row"],
        part.headers["patient_id"],
        None,
        "must not be blank",
    )
    for column in ("first_session_year", "first_session_month"):
        if column in f.columns:
            number = _to_number(f[column], f["_row"], part.file, part.headers[column], out)
            whole = number.isna() | (number == np.round(number))
            out.rows(
                part.file,
                f.loc[~whole, "_row"],
                part.headers[column],
                f.loc[~whole, column],
                "must be a whole number",
            )
            f[column] = number.where(whole).round().astype("Int64")
    for column in ("route", "day", "session_number"):
        if column in f.columns:
            out.add(
                Problem(
                    part.file,
                    None,
                    part.headers.get(column, column),
                    None,
                    f"this column is not a patient attribute and was not imported ({column} "
                    "comes from the sessions)",
                    WARNING,
                )
            )
            f = f.drop(columns=column)
    for column in f.columns:
        if column not in ("patient_id", "first_session_year", "first_session_month", "_row"):
            f[column] = f[column].astype("string")
    f["_file"] = part.file
    f["_t"] = 0
    part.frame = f
    return part if _count_errors(out) == errors_before else None


def _prepare_assessments(part: _Part, totals: dict[str, str], options, out: _Collector) -> None:
    f = part.frame
    file = part.file
    default = canonical_instrument(options.default_instrument)
    if default is None:
        raise ValueError(f"unknown default instrument {options.default_instrument!r}")
    columns = [c for c in f.columns if c not in ("_row", "_t", "_file", "patient_id")]
    generic = [c for c in columns if re.fullmatch(r"item_?0*\d{1,3}", c)]
    blocks: list[tuple[str, pd.Series | None, str | None]] = []  # instrument, rows, total
    if "instrument" in f.columns:
        raw = f["instrument"].astype("string").str.strip()
        raw = raw.mask(raw == "")
        # A few distinct spellings among many rows: resolve each spelling once.
        codes, spellings = pd.factorize(raw)
        names = np.array([canonical_instrument(v) or "" for v in spellings] + [""], dtype=object)
        resolved = pd.Series(names[codes], index=f.index, dtype="string")
        unknown = pd.Series((codes >= 0) & (names[codes] == ""), index=f.index)
        canonical = resolved.mask(codes < 0, default)
        out.rows(
            file,
            f.loc[unknown, "_row"],
            part.headers["instrument"],
            raw[unknown],
            f"is not a known instrument; accepted: {', '.join(INSTRUMENTS)}",
        )
        f = f[~unknown]
        canonical = canonical[~unknown]
        by_instrument = {v: k for k, v in totals.items()}
        for name in canonical.unique():
            total = "total" if "total" in f.columns else by_instrument.get(name)
            blocks.append((name, canonical == name, total))
    else:
        found = list(dict.fromkeys([*detect_instruments(columns), *totals.values()]))
        if generic or "total" in f.columns or not found:
            found = list(dict.fromkeys([default, *found]))
        by_instrument = {v: k for k, v in totals.items()}
        for name in found:
            total = by_instrument.get(name)
            if total is None and name == default and "total" in f.columns:
                total = "total"
            blocks.append((name, None, total))
    scored_parts = []
    numbers: dict[str, pd.Series] = {}

    def number(column: str) -> pd.Series:
        if column not in numbers:
            numbers[column] = _to_number(
                f[column], f["_row"], file, part.headers.get(column, column), out
            )
        return numbers[column]

    for name, rows, total in blocks:
        with_generic = rows is not None or name == default or len(blocks) == 1
        candidates = columns if with_generic else [c for c in columns if c not in generic]
        try:
            items = item_column_map(candidates, name)
        except ValueError as exc:
            out.add(Problem(file, None, None, None, str(exc)))
            continue
        forms = pd.DataFrame(
            {"patient_id": f["patient_id"], "_t": f["_t"], "_row": f["_row"]}, index=f.index
        )
        sources = {item: part.headers.get(src, src) for src, item in items.items()}
        for source, item in items.items():
            forms[item] = number(source)
        if with_generic:
            # Generic item columns beyond the instrument's count go to scoring, which checks
            # that they are blank.
            for source in generic:
                k = int(re.sub(r"\D", "", source))
                if INSTRUMENTS[name].n_items < k <= MAX_ITEMS:
                    forms[f"item_{k}"] = number(source)
                    sources.setdefault(f"item_{k}", part.headers.get(source, source))
        if total is not None:
            forms["total"] = number(total)
        if rows is not None:
            forms = forms[rows]
        if total is not None:
            sources["total"] = part.headers.get(total, total)
        scored, problems = score_forms(
            forms,
            instrument=name,
            file=file,
            prorate=options.prorate,
            stored_total_col="total" if total is not None else None,
            source_columns=sources,
        )
        out.extend(problems)
        scored_parts.append(scored.assign(instrument=name))
    used = set()
    for name, _, total in blocks:
        used |= set(item_column_map_safe(columns, name)) | ({total} if total else set())
    used |= {"instrument", "day", "assessment_date", *generic}
    for column in columns:
        if column not in used:
            out.add(
                Problem(
                    file,
                    None,
                    part.headers.get(column, column),
                    None,
                    "this column is not part of the assessments contract and was not imported",
                    WARNING,
                )
            )
    if scored_parts:
        frame = pd.concat(scored_parts, ignore_index=True)
    else:
        frame = pd.DataFrame({"patient_id": pd.Series([], dtype="string"), "_t": [], "_row": []})
    frame["instrument"] = frame.get("instrument", pd.Series(dtype="string")).astype("string")
    frame["_file"] = file
    part.frame = frame


def item_column_map_safe(columns, name) -> dict[str, str]:
    try:
        return item_column_map(columns, name)
    except ValueError:
        return {}


# --------------------------------------------------------------------------------------------
# The whole upload


def _assemble(parts: list[_Part], options: ImportOptions, out: _Collector) -> ClinicData | None:
    by_table: dict[str, list[_Part]] = {t: [] for t in TABLES}
    for part in parts:
        by_table[part.table].append(part)
    if not by_table["sessions"] and not by_table["assessments"]:
        if not out.has_errors:
            out.add(
                Problem(
                    UPLOAD,
                    None,
                    None,
                    None,
                    "the upload needs a sessions or an assessments file",
                )
            )
        return None
    headers = {(p.file, c): h for p in parts for c, h in p.headers.items()}
    frames = {t: _concat(ps) for t, ps in by_table.items() if ps}
    has_sessions = bool(by_table["sessions"])
    sessions_dated = None
    if has_sessions:
        kinds = {p.dated for p in by_table["sessions"]}
        if len(kinds) > 1:
            for p in by_table["sessions"]:
                if not p.dated:
                    out.add(
                        Problem(
                            p.file,
                            None,
                            None,
                            None,
                            "gives days while another sessions file gives dates: "
                            "use one or the other for every sessions file",
                        )
                    )
            return None
        sessions_dated = kinds.pop()
    if out.has_errors:
        return None

    sessions = frames.get("sessions")
    first_date = None
    if sessions is not None:
        sessions = _dedupe(sessions, ["patient_id", "_t"], "the same patient and day", out, headers)
        day0, sessions = _number_sessions(sessions)
        if sessions_dated:
            first_date = (_EPOCH + day0.to_numpy().astype("int64")).astype("datetime64[D]")
            first_date = pd.Series(pd.to_datetime(first_date), index=day0.index)
    else:
        day0 = pd.Series(dtype="int64")

    assessments = None
    unplaced: list = []
    if by_table["assessments"]:
        placed = [
            _place(p, day0, has_sessions, sessions_dated, out, unplaced_ids=unplaced)
            for p in by_table["assessments"]
        ]
        placed = [p for p in placed if p is not None]
        if placed:
            assessments = pd.concat(placed, ignore_index=True)
            assessments = _dedupe(
                assessments,
                ["patient_id", "day", "instrument"],
                "the same patient, day and instrument",
                out,
                headers,
            )
    side_effects = None
    if by_table["side_effects"]:
        if not has_sessions:
            for p in by_table["side_effects"]:
                out.add(
                    Problem(
                        p.file,
                        None,
                        None,
                        None,
                        "side effects need a sessions file: each row must match a session",
                    )
                )
        else:
            placed = [
                _place(p, day0, True, sessions_dated, out, drop_unplaced=False)
                for p in by_table["side_effects"]
            ]
            placed = [p for p in placed if p is not None]
            if placed:
                side_effects = _match_sessions(
                    pd.concat(placed, ignore_index=True), sessions, headers, out
                )
    patients = _patients(frames.get("patients"), first_date, options, out, headers)
    if unplaced:
        # Never treated but seen in a table: listed, with nothing to place in time.
        seen = pd.DataFrame({"patient_id": pd.array(sorted(set(unplaced)), dtype="string")})
        patients = (
            seen
            if patients is None
            else pd.concat(
                [patients, seen[~seen["patient_id"].isin(patients["patient_id"])]],
                ignore_index=True,
            )
        )
    if out.has_errors:
        return None

    tables = {
        "sessions": sessions,
        "assessments": assessments,
        "side_effects": side_effects,
        "patients": patients,
    }
    tables = {k: _typed(k, v) for k, v in tables.items() if v is not None}
    out.extend(validate_tables(tables, headers=headers, limit=out.limit))
    if out.has_errors:
        return None
    allowed = {
        "sessions": SESSION_COLUMNS,
        "assessments": ASSESSMENT_COLUMNS,
        "side_effects": SIDE_EFFECT_COLUMNS,
    }
    clean = {
        k: v[[c for c in v.columns if c in allowed[k]]]
        if k in allowed
        else v.drop(columns=[c for c in v.columns if c.startswith("_")])
        for k, v in tables.items()
    }
    if "assessments" not in clean and by_table["assessments"]:
        clean["assessments"] = pd.DataFrame(
            {"patient_id": pd.Series([], dtype="string"), "day": pd.Series([], dtype="int64")}
        )
    return clinic_from_frames(
        sessions=clean.get("sessions"),
        assessments=clean.get("assessments"),
        side_effects=clean.get("side_effects"),
        patients=clean.get("patients"),
        months_kept=options.keep_month,
    )


def _number_sessions(sessions: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Each patient's first ``_t`` (by patient id), and the sessions with ``day`` (days since
    that first session) and ``session_number`` (1, 2, ... by day), sorted by patient and day.

    Computed on integer codes of the sorted patient ids: sorting by code and ``_t`` is sorting
    by id and day, since a patient's days are their times less one number. Missing ids or times
    take the pandas route, which gives the same tables.
    """
    t = sessions["_t"]
    codes, uniques = factorize_ids(sessions["patient_id"], sort=True)
    if not (len(t) and t.dtype.kind in "iuf" and not t.hasnans and (codes >= 0).all()):
        day0 = sessions.groupby("patient_id")["_t"].min()
        first_t = sessions.groupby("patient_id")["_t"].transform("min")
        sessions["day"] = (sessions["_t"] - first_t).astype("int64")
        sessions = sessions.sort_values(["patient_id", "day"], kind="stable")
        sessions["session_number"] = sessions.groupby("patient_id").cumcount().astype("int64") + 1
        return day0, sessions
    times = t.to_numpy()
    order = np.lexsort((times, codes))  # stable: ties keep their order, as sort_values does
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    first = times[order[starts]]
    day0 = pd.Series(first, index=pd.Index(uniques, name="patient_id"), name="_t")
    sessions["day"] = (t - first[codes]).astype("int64")
    sessions = sessions.take(order)
    within = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    sessions["session_number"] = (within + 1).astype("int64")
    return day0, sessions


def _concat(parts: list[_Part]) -> pd.DataFrame:
    frames = [p.frame for p in parts]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _place(
    part: _Part,
    day0: pd.Series,
    has_sessions: bool,
    sessions_dated,
    out: _Collector,
    *,
    drop_unplaced: bool = True,
    unplaced_ids: list | None = None,
) -> pd.DataFrame | None:
    """Put one file's rows on the day axis; None when the file cannot be placed."""
    f = part.frame
    unplaced_ids = [] if unplaced_ids is None else unplaced_ids
    time_header = part.headers.get(TIME_COLUMNS[part.table] if part.dated else "day")
    if part.dated and not has_sessions:
        out.add(
            Problem(
                part.file,
                None,
                time_header,
                None,
                "dates need a sessions file to set day 0 (each patient's first treatment "
                "session); add the sessions file or give days since the first session",
            )
        )
        return None
    if part.dated and sessions_dated is False:
        out.add(
            Problem(
                part.file,
                None,
                time_header,
                None,
                "gives dates but the sessions give only days, so these dates cannot be placed "
                "relative to the first session; give days here too",
            )
        )
        return None
    start = _map_ids(f["patient_id"], day0)
    if part.dated:
        unplaced = start.isna()
        if unplaced.any() and drop_unplaced:
            rows = f.loc[unplaced, "_row"].astype(int).tolist()
            n_patients = f.loc[unplaced, "patient_id"].nunique()
            listed = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            out.add(
                Problem(
                    part.file,
                    None,
                    time_header,
                    None,
                    f"{len(rows)} rows of {n_patients} patients with no treatment session were "
                    f"not imported: without a first session their dates cannot be placed in "
                    f"time (rows {listed})",
                    WARNING,
                )
            )
            unplaced_ids.extend(f.loc[unplaced, "patient_id"].unique().tolist())
            f = f[~unplaced]
            start = start[~unplaced]
        f["day"] = f["_t"] - start
    elif sessions_dated:
        # A day column beside dated sessions is taken as already relative to the first session.
        f["day"] = f["_t"]
    else:
        f["day"] = f["_t"] - start.fillna(0)
    return f


def _is_arrow_text(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def _positions_in(values: pd.Series, uniques: pd.Index) -> np.ndarray:
    """``uniques.get_indexer(values)`` for unique ``uniques``; text is looked up in Arrow."""
    if len(values) and _is_arrow_text(values) and _is_arrow_text(pd.Series(uniques[:0])):
        if not uniques.hasnans:
            arrow = values.array.__arrow_array__()
            found = pc.index_in(arrow, value_set=pa.array(uniques.array).cast(arrow.type))
            return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.intp)
    return pd.Index(uniques).get_indexer(values)


def _map_ids(ids: pd.Series, by_id: pd.Series) -> pd.Series:
    """``ids.map(by_id)`` for a uniquely indexed ``by_id``, looking text ids up in Arrow."""
    numeric = isinstance(by_id.dtype, np.dtype) and by_id.dtype.kind in "iuf"
    if not (len(ids) and numeric and by_id.index.is_unique and _is_arrow_text(ids)):
        return ids.map(by_id)
    if not _is_arrow_text(pd.Series(by_id.index[:0])):
        return ids.map(by_id)
    found = _positions_in(ids, by_id.index)
    values = by_id.to_numpy()
    if (found < 0).any():
        # As map does: a missing id is missing, which makes integers floats.
        values = np.append(values.astype(np.float64), np.nan)
    # map over Arrow text answers in Arrow numbers, missing values null.
    mapped = pd.arrays.ArrowExtensionArray(pa.array(values[found], from_pandas=True))
    return pd.Series(mapped, index=ids.index, name=ids.name, copy=False)


def _key_codes(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The key columns with Arrow text replaced by integer codes (equal text, equal code; every
    missing value one code): ``duplicated`` gives the same answer, without hashing strings."""
    columns = {}
    for column in key:
        values = frame[column]
        if _is_arrow_text(values) and len(values):
            columns[column] = vocab.distinct_codes(values)[0]
        else:
            columns[column] = values
    return pd.DataFrame(columns, index=frame.index, copy=False)


def _repeats_in_order(codes: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """``codes.duplicated(keep=...)`` for "first" and "last" when the integer key columns are in
    lexicographic order (the importer's sorted sessions): equal keys are then neighbours, so a
    row repeats an earlier key when it equals the row before it, a later key when it equals the
    row after it. None when a column is not integer without missing values, or out of order.
    """
    n = len(codes)
    if n < 2:
        return None
    equal = np.ones(n - 1, dtype=bool)  # row i + 1 equals row i on the columns seen so far
    for column in codes.columns:
        values = codes[column]
        if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_integer(
            values.dtype.pyarrow_dtype
        ):
            if values.hasnans:
                return None
            array = values.to_numpy(dtype=np.int64)
        elif isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            array = values.to_numpy()
        else:
            return None
        after, before = array[1:], array[:-1]
        if (equal & (after < before)).any():
            return None
        equal &= after == before
    no = np.zeros(1, dtype=bool)
    return {"first": np.concatenate([no, equal]), "last": np.concatenate([equal, no])}


def _dedupe(
    frame: pd.DataFrame, key: list[str], what: str, out: _Collector, headers
) -> pd.DataFrame:
    values = [c for c in frame.columns if c not in ("_row", "_file")]
    if frame.columns.is_unique:
        codes = _key_codes(frame, key)
        in_order = _repeats_in_order(codes)

        def repeats(keep: str) -> pd.Series:
            if in_order is not None:
                return pd.Series(in_order[keep], index=frame.index)
            return codes.duplicated(keep=keep)
    else:

        def repeats(keep: str) -> pd.Series:
            return frame.duplicated(subset=key, keep=keep)

    repeated = repeats("first")
    if not set(key) <= set(values):
        exact = frame.duplicated(subset=values, keep="first")
    elif repeated.any():
        # Rows that repeat another exactly share its key: only rows whose key repeats are
        # compared on every column.
        candidates = (repeated | repeats("last")).to_numpy()
        exact = pd.Series(False, index=frame.index)
        exact[candidates] = frame[candidates].duplicated(subset=values, keep="first").to_numpy()
    else:
        exact = pd.Series(False, index=frame.index)
    if exact.any():
        for file, n in frame.loc[exact, "_file"].value_counts(sort=False).items():
            out.add(
                Problem(
                    file,
                    None,
                    None,
                    None,
                    f"{n} rows repeat an earlier row exactly and were counted once",
                    WARNING,
                )
            )
        frame = frame[~exact]
        # The first row of each key is never an exact repeat, so repeats of a key among the
        # rows kept are the rows that repeated it before.
        repeated = repeated[~exact]
    clash = repeated
    if clash.any():
        group = frame.groupby(key, sort=False, dropna=False)
        first_row = group["_row"].transform("first")
        first_file = group["_file"].transform("first")
        bad = frame[clash]
        rule = [
            f"conflicts with row {int(r)}"
            + ("" if ff == f else f" of {ff}")
            + f": {what} with different values"
            for r, ff, f in zip(first_row[clash], first_file[clash], bad["_file"])
        ]
        shown = pd.DataFrame({"_file": bad["_file"], "_row": bad["_row"], "rule": rule})
        for (file, r), grp in shown.groupby(["_file", "rule"], sort=False):
            out.rows(file, grp["_row"], None, None, r)
    return frame.reset_index(drop=True)


def _match_sessions(
    effects: pd.DataFrame, sessions: pd.DataFrame, headers, out: _Collector
) -> pd.DataFrame:
    merged = _session_numbers(effects, sessions)
    unmatched = merged["session_number"].isna()
    for file, grp in merged[unmatched].groupby("_file", sort=False):
        out.rows(
            file,
            grp["_row"],
            None,
            None,
            "matches no session of this patient on that day (a side effect must be recorded "
            "at a session)",
        )
    return merged


def _session_numbers(effects: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """``effects`` with the ``session_number`` of the session of the same patient and day.

    What ``effects.merge(sessions[keys], on=["patient_id", "day"], how="left",
    validate="many_to_one")`` gives (NaN where no session matches), looked up on integer codes
    of the patient ids and days instead of merging on the id strings. The merge itself runs
    (and raises) when the sessions repeat a patient and day, or the columns are not as expected.
    """
    keys = sessions[["patient_id", "day", "session_number"]]
    general = (
        "session_number" in effects.columns
        or not effects.columns.is_unique
        or effects["day"].dtype.kind not in "iuf"
        or sessions["day"].dtype.kind not in "iu"
        or sessions["session_number"].dtype.kind not in "iu"
    )
    if not general:
        ids, uniques = factorize_ids(keys["patient_id"])
        day = keys["day"].to_numpy(dtype=np.int64)
        low = int(day.min()) if len(day) else 0
        span = (int(day.max()) - low + 1) if len(day) else 1
        general = bool((ids < 0).any()) or span * (len(uniques) + 1) >= 2**62
    if general:
        return effects.merge(keys, on=["patient_id", "day"], how="left", validate="many_to_one")
    session_key = ids.astype(np.int64) * span + (day - low)
    # Sessions sorted by patient and day have increasing keys: none repeats, and a key is found
    # by bisection rather than a hash table of millions of keys.
    increasing = bool(np.all(session_key[1:] > session_key[:-1]))
    if not increasing and not pd.Index(session_key).is_unique:
        return effects.merge(keys, on=["patient_id", "day"], how="left", validate="many_to_one")
    effect_ids = _positions_in(effects["patient_id"], uniques)
    effect_day = effects["day"].to_numpy(dtype=np.float64)
    # A day matches only when it is a whole number within the sessions' range.
    placed = (effect_ids >= 0) & (effect_day == np.round(effect_day))
    placed &= (effect_day >= low) & (effect_day < low + span)
    effect_key = np.where(
        placed, effect_ids.astype(np.int64) * span + (np.where(placed, effect_day, low) - low), -1
    ).astype(np.int64)
    if increasing:
        found = np.searchsorted(session_key, effect_key)
        found[found == len(session_key)] = 0
        hit = session_key[found] == effect_key if len(session_key) else np.zeros(len(found), bool)
        found = np.where(hit, found, -1)
    else:
        found = pd.Index(session_key).get_indexer(effect_key)
    found[~placed] = -1
    numbers = keys["session_number"].to_numpy()
    merged = effects.reset_index(drop=True)
    if (found >= 0).all():
        merged["session_number"] = numbers[found].astype(np.int64)
    else:
        # Index -1 (no session) picks the NaN appended after the numbers.
        merged["session_number"] = np.append(numbers.astype(np.float64), np.nan)[found]
    return merged


def _patients(frame, first_date, options, out, headers) -> pd.DataFrame | None:
    if frame is not None:
        frame = _dedupe(
            frame.drop(columns=["_t"]), ["patient_id"], "the same patient_id", out, headers
        )
    if first_date is None:
        return frame
    computed = pd.DataFrame(
        {
            "patient_id": first_date.index.astype("string"),
            "_year": first_date.dt.year.astype("Int64").to_numpy(),
            "_month": first_date.dt.month.astype("Int64").to_numpy(),
        }
    )
    if frame is None:
        frame = computed.rename(columns={"_year": "first_session_year"})
        frame["first_session_month"] = frame.pop("_month") if options.keep_month else pd.NA
        frame["first_session_month"] = frame["first_session_month"].astype("Int64")
        return frame
    frame = frame.merge(computed, on="patient_id", how="outer")
    given_year = frame.get("first_session_year", pd.Series(pd.NA, index=frame.index))
    # the merge may leave the computed years as floats: both sides as Int64 before filling
    frame["first_session_year"] = frame["_year"].astype("Int64").fillna(given_year.astype("Int64"))
    if options.keep_month:
        given_month = frame.get("first_session_month", pd.Series(pd.NA, index=frame.index))
        frame["first_session_month"] = (
            frame["_month"].astype("Int64").fillna(given_month.astype("Int64"))
        )
    else:
        frame["first_session_month"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame.drop(columns=["_year", "_month"])


def _typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes for the columns present, before validation."""
    frame = frame.drop(columns=["_t"], errors="ignore").reset_index(drop=True)
    frame["patient_id"] = frame["patient_id"].astype("string")
    for column in ("day", "session_number"):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    if "_row" in frame:
        frame["_row"] = frame["_row"].astype("Int64")
    if "_file" in frame:
        frame["_file"] = frame["_file"].astype("string")
    if table == "patients":
        for column in ("first_session_year", "first_session_month"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
    if table == "assessments":
        frame["prorated"] = frame["prorated"].astype("bool")
    return frame
