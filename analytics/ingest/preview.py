"""What the upload page shows before anything is imported: each file's table, headers, the
values the vocabularies do not know, and the date order the files make certain.

:func:`preview_upload` reads each file once (:func:`analytics.ingest.reader.read_table`) and
changes nothing; the page lets the user correct it (the table of a file, a canonical code for
each unknown spelling, day or month first) and passes the choices to the importer. No patient
data leaves the function except the unknown spellings of vocabulary columns and one date cell
per file that makes the order certain, both shown only to the user who uploaded them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from analytics.ingest import vocabularies as vocab
from analytics.ingest.cells import date_order_of
from analytics.ingest.columns import TIME_COLUMNS, rename_columns
from analytics.ingest.discovery import TableGuess, identify_file
from analytics.ingest.mapping import ColumnMapping, file_key, guess_mapping
from analytics.ingest.reader import read_table

__all__ = [
    "MAX_UNKNOWN_VALUES",
    "VOCABULARY_COLUMNS",
    "FilePreview",
    "UnknownValues",
    "UploadPreview",
    "date_example",
    "preview_upload",
]

# At most this many unknown spellings per column are listed, the most frequent first.
MAX_UNKNOWN_VALUES = 50

# Table -> {canonical column -> vocabulary}; the vocabulary names a key of ColumnMapping.values.
VOCABULARY_COLUMNS: dict[str, dict[str, str]] = {
    "sessions": {
        "route": "route",
        "phase": "phase",
        "sedation": "yes_no",
        "dissociation": "yes_no",
    },
    "side_effects": {"effect": "effect", "severity": "severity", "serious": "yes_no"},
    "assessments": {},
    "patients": {},
}
_NORMALISE = {
    "route": vocab.normalise_route,
    "effect": vocab.normalise_effect,
    "severity": vocab.normalise_severity,
    "phase": vocab.normalise_phase,
    "yes_no": vocab.normalise_yes_no,
}
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})\b")


@dataclass(frozen=True)
class UnknownValues:
    """The spellings of one vocabulary column that no code matches.

    Attributes
    ----------
    column : str
        The canonical column ("route", "effect", "severity", "phase", "sedation", ...).
    header : str
        The file's header for it, as written.
    vocabulary : str
        Which codes apply: "route", "effect", "severity", "phase" or "yes_no" (the key of
        ``ColumnMapping.values`` a chosen code is saved under).
    values : tuple of (str, int)
        Each unknown spelling (stripped) with its number of rows, most frequent first, at most
        :data:`MAX_UNKNOWN_VALUES`.
    more : int
        How many further distinct unknown spellings were left out.
    """

    column: str
    header: str
    vocabulary: str
    values: tuple[tuple[str, int], ...]
    more: int = 0


@dataclass(frozen=True)
class FilePreview:
    """One uploaded file as the page shows it.

    Attributes
    ----------
    file : str
        The file's name as uploaded.
    key : str
        :func:`analytics.ingest.mapping.file_key` of the name (what a preset's ``tables`` uses).
    guess : TableGuess
        The table it holds and why; the user's choice when ``tables`` named it.
    headers : tuple of str
        The headers as written.
    rows : int
        Rows read (blank rows aside).
    columns : dict
        Their header -> canonical column of the file's table (synonyms and mapping).
    unknown : tuple of UnknownValues
        One per vocabulary column with unknown spellings.
    date_order : str or None
        ``date_order_of`` of its date column: "ymd", "dmy", "mdy", "ambiguous",
        "conflicting", or None (no date column, or the order cannot be read yet).
    date_example : str or None
        A date cell that makes a "dmy" or "mdy" order certain (a day above 12).
    error : str or None
        Why the file could not be read; every other field is then empty.
    """

    file: str
    key: str
    guess: TableGuess
    headers: tuple[str, ...] = ()
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    unknown: tuple[UnknownValues, ...] = ()
    date_order: str | None = None
    date_example: str | None = None
    error: str | None = None

    @property
    def table(self) -> str | None:
        return self.guess.table


@dataclass(frozen=True)
class UploadPreview:
    """Every file of an upload, the mapping guessed from their headers, and the date order.

    Attributes
    ----------
    files : tuple of FilePreview
        In upload order.
    mapping : ColumnMapping
        :func:`analytics.ingest.mapping.guess_mapping` of the headers grouped by each file's
        table (files without a table left out).
    """

    files: tuple[FilePreview, ...]
    mapping: ColumnMapping

    @property
    def tables(self) -> dict[str, str | None]:
        """File name -> its table (None when nothing fits)."""
        return {f.file: f.table for f in self.files}

    @property
    def date_orders(self) -> dict[str, str]:
        """File name -> its date order, for the files with dates."""
        return {f.file: f.date_order for f in self.files if f.date_order is not None}

    @property
    def date_order(self) -> str | None:
        """The order the dated files make certain together.

        "dmy" or "mdy" when at least one file makes it certain and the others agree or are
        year first; "ymd" when every dated file is year first; "conflicting" when files
        disagree or one is itself written both ways; "ambiguous" when some file does not make
        it certain (the user must say); None when no file has dates.
        """
        orders = set(self.date_orders.values())
        if not orders:
            return None
        slashed = orders & {"dmy", "mdy"}
        if "conflicting" in orders or len(slashed) > 1:
            return "conflicting"
        if "ambiguous" in orders:
            return "ambiguous"
        return slashed.pop() if slashed else "ymd"

    @property
    def unknown(self) -> dict[str, dict[str, int]]:
        """Vocabulary -> {unknown spelling -> rows}, over every file."""
        out: dict[str, dict[str, int]] = {}
        for preview in self.files:
            for group in preview.unknown:
                mine = out.setdefault(group.vocabulary, {})
                for value, count in group.values:
                    mine[value] = mine.get(value, 0) + count
        return out


def preview_upload(
    files: Mapping[str, bytes],
    mapping: ColumnMapping | None = None,
    *,
    tables: Mapping[str, str | None] | None = None,
) -> UploadPreview:
    """Each file's table and reason, headers, unknown values and date order.

    Parameters
    ----------
    files : mapping of str to bytes
        File name as uploaded -> content.
    mapping : ColumnMapping, optional
        The clinic's mapping: fixes tables (``tables``), renames headers (``columns``) and adds
        spellings (``values``), as the importer will.
    tables : mapping of str to str, optional
        File name -> the table the user chose; a file named here is not guessed.

    Returns
    -------
    UploadPreview

    Examples
    --------
    >>> p = preview_upload({"Visits.csv": b"Patient ID,Visit Date,Medication\\nA,2025-01-06,Nose\\n"})
    >>> p.files[0].table, p.files[0].unknown[0].values
    ('sessions', (('Nose', 1),))
    """
    previews = []
    for name, data in files.items():
        previews.append(_preview_file(name, data, mapping, (tables or {}).get(name)))
    headers: dict[str, list[str]] = {}
    for preview in previews:
        if preview.table is not None:
            headers.setdefault(preview.table, []).extend(preview.headers)
    return UploadPreview(tuple(previews), guess_mapping(headers))


def _preview_file(
    name: str, data: bytes, mapping: ColumnMapping | None, chosen: str | None
) -> FilePreview:
    key = file_key(name)
    read = read_table(name, bytes(data))
    if read.frame is None:
        errors = [p.rule for p in read.problems if p.severity == "error"]
        reason = errors[0] if errors else "could not be read"
        return FilePreview(name, key, TableGuess(None, "could not be read"), error=reason)
    frame = read.frame
    columns = [c for c in frame.columns if c != "_row"]
    written = list(read.headers) if len(read.headers) == len(columns) else columns
    # Headers as written: the reasons and the page name the user's own columns.
    frame = frame[columns].set_axis(written, axis=1)
    guess = (
        TableGuess(chosen, "chosen on this page")
        if chosen is not None
        else identify_file(name, frame, mapping)
    )
    if guess.table is None:
        return FilePreview(name, key, guess, tuple(written), len(frame))
    lowered = [h.strip().lower() for h in written]
    renamed = rename_columns(lowered, guess.table, mapping)
    canonical = {written[lowered.index(k)]: v for k, v in renamed.items()}
    by_canonical = {v: k for k, v in canonical.items()}
    unknown = []
    for column, vocabulary in VOCABULARY_COLUMNS[guess.table].items():
        header = by_canonical.get(column)
        if header is not None:
            group = _unknown_values(frame[header], column, header, vocabulary, mapping)
            if group is not None:
                unknown.append(group)
    order, example = None, None
    time_column = by_canonical.get(TIME_COLUMNS.get(guess.table, ""))
    if time_column is not None:
        order, example = _date_order(frame[time_column])
    return FilePreview(
        name,
        key,
        guess,
        tuple(written),
        len(frame),
        canonical,
        tuple(unknown),
        order,
        example,
    )


def _unknown_values(
    raw: pd.Series, column: str, header: str, vocabulary: str, mapping: ColumnMapping | None
) -> UnknownValues | None:
    extra = dict(mapping.values.get(vocabulary, {})) if mapping is not None else {}
    normalise = _NORMALISE[vocabulary]
    try:
        _, unknown = normalise(raw, extra or None)
    except (TypeError, ValueError):  # a preset maps a spelling to no such code: left out
        _, unknown = normalise(raw)
    if not unknown.any():
        return None
    counts = raw[unknown.to_numpy()].astype("string").str.strip().value_counts(sort=False)
    # most frequent first, then by spelling, so the list is the same on every run
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    listed = tuple((str(v), int(n)) for v, n in ordered[:MAX_UNKNOWN_VALUES])
    more = max(0, len(ordered) - MAX_UNKNOWN_VALUES)
    return UnknownValues(column, header, vocabulary, listed, more)


def _date_order(raw: pd.Series) -> tuple[str | None, str | None]:
    order = date_order_of(raw)
    return order, date_example(raw, order) if order in ("dmy", "mdy") else None


def date_example(raw: pd.Series, order: str) -> str | None:
    """A cell of ``raw`` that makes ``order`` certain: its day, above 12, where ``order`` puts
    it ("25/03/2025" for "dmy", "03/25/2025" for "mdy"); None when there is none.

    Examples
    --------
    >>> date_example(pd.Series(["03/04/2025", "03/25/2025 9:30 AM"]), "mdy")
    '03/25/2025 9:30 AM'
    """
    if order not in ("dmy", "mdy"):
        raise ValueError(f"order must be 'dmy' or 'mdy', got {order!r}")
    day = 1 if order == "dmy" else 2
    for cell in raw.dropna().astype(str).unique():
        match = _SLASHED.match(cell)
        if match and int(match.group(day)) > 12:
            return cell.strip()
    return None
