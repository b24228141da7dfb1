"""Turn a clinic's CSV exports into :class:`~analytics.core.contract.ClinicData`, all or nothing.

:func:`import_files` is the only producer of the canonical tables. It reads each file, decides
which table it holds, maps the clinic's headers onto the contract, refuses identifying columns,
normalises vocabularies, coerces numbers and dates, scores questionnaires, removes exact
duplicates, puts every row on the patient's day axis (day 0 = first treatment session), numbers
the sessions, matches side effects to sessions and validates the result. Any ERROR anywhere and
``data`` is None; every problem found is reported, not only the first.

Each stage is a module of its own: :mod:`~analytics.ingest.discovery` (the files and their
tables), :mod:`~analytics.ingest.columns` (headers onto the contract),
:mod:`~analytics.ingest.cells` (numbers, dates, text), :mod:`~analytics.ingest.prepare` (one
file's rows), :mod:`~analytics.ingest.assemble` (the canonical tables) and
:mod:`~analytics.ingest.collector` (the problems); this module runs them.

The rules for dates, days and their edge cases are written in ``docs/data-contract.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.contract import ClinicData
from analytics.core.problems import ERROR, WARNING, Problem, problems_frame
from analytics.ingest.assemble import assemble
from analytics.ingest.collector import UPLOAD, ProblemCollector, ProblemReport
from analytics.ingest.columns import NUMBER_COLUMNS, TIME_COLUMNS, FilePart
from analytics.ingest.discovery import csv_files, identify_table
from analytics.ingest.identifiers import PHI_RULE_PREFIX, file_name_reason, looks_identifying
from analytics.ingest.mapping import ColumnMapping
from analytics.ingest.options import ImportOptions
from analytics.ingest.prepare import item_column_map_safe, prepare_file
from analytics.ingest.text import normalise_ids

# The file's own name is not repeated: it is what may identify.
FILE_NAME_RULE = (
    "its file name looks like it holds a name, a date of birth or another identifier; rename "
    "the file (for example sessions.csv) and upload it again"
)

__all__ = [
    "FILE_NAME_RULE",
    "NUMBER_COLUMNS",
    "TIME_COLUMNS",
    "UPLOAD",
    "ImportOptions",
    "ImportResult",
    "ProblemReport",
    "file_labels",
    "identify_table",
    "import_files",
    "import_folder",
    "item_column_map_safe",
]


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
    report : ProblemReport
        Every rule broken with the number of rows that break it, and every affected row.
    file_labels : dict
        File name as uploaded -> the name problems and records use for it: the name itself,
        or "file N" when the name may identify a patient (such a name is never stored).
    """

    data: ClinicData | None
    problems: list[Problem] = field(default_factory=list)
    table_of_files: dict[str, str] = field(default_factory=dict)
    report: ProblemReport = field(default_factory=ProblemReport.empty)
    file_labels: dict[str, str] = field(default_factory=dict)

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
    return import_files(csv_files(folder), options=options, mapping=mapping)


def import_files(
    files: Mapping[str, bytes],
    *,
    options: ImportOptions = ImportOptions(),
    mapping: ColumnMapping | None = None,
    tables: Mapping[str, str] | None = None,
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
    tables : mapping of str to str, optional
        File name -> the table it holds, as the user chose it; files not named here are
        identified by their name and content (:func:`analytics.ingest.discovery.identify_table`).

    Returns
    -------
    ImportResult
        ``data`` is None when any problem is an ERROR. No exception escapes for any file
        content: an unexpected failure becomes an ERROR "could not be read" (unless
        ``options.raise_unexpected``).
    """
    out = ProblemCollector(options.problem_limit, redact=shown_values_hidden)
    labels = file_labels(files)
    table_of_files: dict[str, str] = {}
    parts: list[FilePart] = []
    if not files:
        out.add(Problem(UPLOAD, None, None, None, "no CSV files were given"))
        return ImportResult(None, out.finish(), table_of_files, out.report(), labels)
    for name, data in files.items():
        file = labels[name]
        if file != name:
            out.add(Problem(file, None, None, None, f"{PHI_RULE_PREFIX}{FILE_NAME_RULE}"))
            continue
        chosen = (tables or {}).get(name)
        found: dict[str, str] = {}
        try:
            part = prepare_file(file, data, options, mapping, out, found, table=chosen)
        except Exception as exc:  # noqa: BLE001 - any byte input must give a problem, not a crash
            if options.raise_unexpected:
                raise
            out.add(Problem(file, None, None, None, f"could not be read: {_describe(exc)}"))
            part = None
        if found:
            table_of_files[name] = found[file]
        if part is not None:
            table_of_files[name] = part.table
            parts.append(part)
    _warn_case_twins_across_files(parts, out)
    data = None
    try:
        data = assemble(parts, options, out)
    except Exception as exc:  # noqa: BLE001
        if options.raise_unexpected:
            raise
        out.add(Problem(UPLOAD, None, None, None, f"could not be imported: {_describe(exc)}"))
    problems = out.finish()
    if any(p.severity == ERROR for p in problems):
        data = None
    return ImportResult(data, problems, table_of_files, out.report(), labels)


def _warn_case_twins_across_files(parts: list[FilePart], out: ProblemCollector) -> None:
    """A WARNING when ids of different files differ only in case (P001 in one, p001 in another):
    each file's own twins are warned about as it is prepared, so only the new pairs count."""
    by_file: dict[str, list[pa.Array]] = {}
    for part in parts:
        distinct = part.distinct_ids
        if distinct is None:
            cells = part.frame["patient_id"].astype("string").array.__arrow_array__()
            distinct = pc.unique(pc.drop_null(cells))
        by_file.setdefault(part.file, []).append(distinct)
    if len(by_file) < 2:
        return
    ids = {file: pc.unique(pa.concat_arrays(arrays)) for file, arrays in by_file.items()}
    every = pc.unique(pa.concat_arrays(list(ids.values())))
    # Almost always: no two ids share a lower case, and nothing more is needed.
    if len(pc.unique(pc.utf8_lower(every))) == len(every):
        return
    within = set()
    for values in ids.values():
        within |= set(normalise_ids(pd.Series(pd.array(values, dtype="string")))[1])
    across = sorted(set(normalise_ids(pd.Series(pd.array(every, dtype="string")))[1]) - within)
    if not across:
        return
    first, second = across[0]
    where = {
        value: next(f for f, v in ids.items() if pc.any(pc.equal(v, value)).as_py())
        for value in (first, second)
    }
    out.add(
        Problem(
            UPLOAD,
            None,
            None,
            None,
            f"{len(across):,} pair(s) of patient ids differ only in upper and lower case between "
            f"files (for example '{first}' in {where[first]} and '{second}' in {where[second]}); "
            "they are kept as different patients. If they are one patient, write the id the "
            "same way in every file",
            WARNING,
        )
    )


def shown_values_hidden(values: pd.Series) -> np.ndarray:
    """Which cell values a problem must not show: those that look identifying (dates aside:
    a wrong visit date is shown so that it can be found and fixed)."""
    return looks_identifying(values, dates=False)


def file_labels(files: Mapping[str, bytes]) -> dict[str, str]:
    """File name as uploaded -> the name it is reported and recorded by: itself, or "file N"
    (its place in the upload, from 1) when the name may identify a patient."""
    return {
        name: f"file {i}" if file_name_reason(name) else name
        for i, name in enumerate(files, start=1)
    }


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
