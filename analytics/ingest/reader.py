"""Read one uploaded CSV file into a frame of text cells, or say plainly why it cannot be read.

:func:`read_table` is the first step of every import. It decides nothing about meaning: every
cell stays text (the importer coerces), so a column of ids such as ``007`` keeps its zeros and a
value such as ``NA`` stays the two letters the clinic typed. What it does decide:

- the bytes are UTF-8 text (with or without a byte-order mark; UTF-16 with a byte-order mark, as
  Excel's "Unicode Text" saves it, is decoded too), not a workbook, an image or another encoding;
- the separator, sniffed from the header line: comma, semicolon or tab, whichever splits the
  header into the most fields, comma on a tie;
- the header: trimmed, unique after normalisation (:func:`normalise_header`), no blank cells;
- the shape: a row may have fewer cells than the header (the missing trailing cells are blank),
  but not more, unless the extra cells are all blank (trailing separators that spreadsheets
  write);
- no cell and no header is longer than :data:`MAX_CELL_CHARS` characters;
- no cell looks like a spreadsheet formula (CSV injection,
  :func:`analytics.ingest.text.formula_cells`).

Row numbers are physical lines of the file, counted from 1, so the header is row 1 and the first
data row is row 2 in a file that starts with its header. A quoted cell that spans several lines
moves every later row number down by its extra lines, as a spreadsheet shows them; blank lines
count too, so a number always points at the line a text editor shows.

Nothing here raises for bad content: every problem comes back as a :class:`~analytics.core.problems.
Problem` and the frame is None when any of them is an error.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analytics.core.problems import ERROR, WARNING, Problem
from analytics.ingest.text import formula_cells

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_LISTED",
    "MAX_UPLOAD_BYTES",
    "ROW_COLUMN",
    "SEPARATORS",
    "ReadResult",
    "normalise_header",
    "read_table",
]

# 100 MB holds about 1.5 million rows of 20 short columns, far beyond one clinic's history.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# Wide REDCap exports of several instruments stay well under this.
MAX_COLUMNS = 500
# The longest cell or header accepted: free-text notes fit; a pasted document does not.
MAX_CELL_CHARS = 1_000
# Rows named one by one for each kind of problem before a summary line takes over.
MAX_LISTED = 50
# Comma first: it wins ties.
SEPARATORS = (",", ";", "\t")
ROW_COLUMN = "_row"

SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

_FORMULA_RULE = (
    "looks like a spreadsheet formula; refused so it cannot run when the data is exported again"
)
# Stripped cells cannot start with a tab or a carriage return, so only these bytes can start a
# formula; formula_cells decides on the few cells that start with one. Signed phone numbers
# ("+1 555 123 4567") are not formulas, so the PHI guard, not this check, meets a phone column.
_FORMULA_STARTS = ("=", "+", "-", "@")
# By first byte: starts like a formula; is not printable ASCII (whitespace may follow).
_FORMULA_FIRST = np.zeros(256, dtype=bool)
_FORMULA_FIRST[np.frombuffer("".join(_FORMULA_STARTS).encode("ascii"), dtype=np.uint8)] = True
_UNPRINTABLE = np.ones(256, dtype=bool)
_UNPRINTABLE[0x21:0x7F] = False
_NO_BYTES = np.zeros(0, dtype=np.uint8)
# pandas keeps its ``string`` columns as Arrow large_string: cells are made so, not cast later.
_TEXT = pa.large_string()
# Start bytes of files people upload by mistake, with what to tell them.
_SIGNATURES = (
    (b"PK\x03\x04", "it looks like an Excel workbook or a zip archive"),
    (b"\xd0\xcf\x11\xe0", "it looks like an old Excel (.xls) workbook"),
    (b"%PDF", "it looks like a PDF"),
    (b"\x89PNG", "it looks like a PNG image"),
    (b"\xff\xd8\xff", "it looks like a JPEG image"),
    (b"\x1f\x8b", "it looks like a gzip archive"),
)
# Control characters (other than tab and line ends) above this share of a sample mean binary.
_CONTROL_SHARE = 0.10
_SAMPLE_CHARS = 65_536
_NON_BLANK = re.compile(r"\S")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# pyarrow parses in blocks; a record longer than one block sends the file to pandas.
_ARROW_BLOCK_BYTES = 16 << 20


@dataclass(frozen=True)
class ReadResult:
    """What :func:`read_table` made of one file.

    Attributes
    ----------
    frame : pandas.DataFrame or None
        One column per header, named by :func:`normalise_header`, every one pandas ``string``
        dtype (cells stripped, blank cells NA), in file order, then ``_row`` (int64), the
        row number a spreadsheet shows. Rows whose cells are all blank are left out. None when
        any problem is an error.
    problems : list of Problem
        Errors (the file cannot be imported) and warnings (it can, as described).
    headers : list of str
        The headers as written in the file, trimmed, in file order. When ``frame`` is not None
        they match its columns one to one (``_row`` aside): columns dropped with a warning are
        not listed.
    separator : str
        The separator used: ``","``, ``";"`` or ``"\\t"``.
    signed : frozenset of str
        The frame's columns with a cell that starts like a formula but was let through as a
        signed number or a dash placeholder (``-3``, ``+1 555 123 4567``, ``-``), so that text
        columns, which may not start so, are checked only where that happens.
    """

    frame: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    separator: str = ","
    signed: frozenset[str] = frozenset()


def normalise_header(header: str) -> str:
    """A header as a column name: trimmed, lower case, inner whitespace runs as one space.

    Examples
    --------
    >>> normalise_header("  Patient   ID ")
    'patient id'
    """
    return " ".join(header.split()).lower()


def read_table(
    file: str,
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_columns: int = MAX_COLUMNS,
    max_cell_chars: int = MAX_CELL_CHARS,
) -> ReadResult:
    """Read an uploaded CSV file into a frame of text cells.

    Parameters
    ----------
    file : str
        The file's name as uploaded, used in every problem.
    data : bytes
        The file's content (``bytearray`` and ``memoryview`` are accepted too).
    max_bytes : int
        Larger files are refused before any parsing.
    max_columns : int
        Files whose header has more cells are refused before the rows are parsed.
    max_cell_chars : int
        Longest cell or header, in characters (after stripping). A longer header refuses the
        file before its rows are parsed; each longer cell is an error naming its row and
        column. Neither is repeated in the problem.

    Returns
    -------
    ReadResult
        The frame (None on any error), the problems, the headers and the separator.

    Raises
    ------
    TypeError
        When ``file`` is not a str or ``data`` is not bytes: a programming error, never a
        property of the upload.

    Notes
    -----
    Cells that begin with ``=``, ``+``, ``-`` or ``@`` and are not plain numbers are refused:
    a spreadsheet opening an export of them would run them as formulas (OWASP, "CSV
    Injection"). Cells are stripped before the check, so a leading tab, carriage return or
    space is removed and what follows it is checked. Headers are checked too.
    """
    if not isinstance(file, str):
        raise TypeError(f"file must be the uploaded file's name as str, got {type(file).__name__}")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    limits = (
        ("max_bytes", max_bytes),
        ("max_columns", max_columns),
        ("max_cell_chars", max_cell_chars),
    )
    for name, limit in limits:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"{name} must be a positive int, got {limit!r}")

    if len(data) > max_bytes:
        return _refuse(
            file, f"is {_size(len(data))}, over the {_size(max_bytes)} limit for one upload"
        )
    text_or_problem = _decode(file, data)
    if isinstance(text_or_problem, Problem):
        return ReadResult(frame=None, problems=[text_or_problem])
    text = text_or_problem
    if not _NON_BLANK.search(text):
        return _refuse(file, "is empty")
    # While the text is the file's UTF-8 bytes unchanged, the body is parsed from those bytes.
    same_bytes = data[:2] not in (b"\xff\xfe", b"\xfe\xff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        same_bytes = False

    # Blank lines before the header still count as lines.
    lead = re.match(r"(?:[ \t\f\v]*\n)*", text).end()
    first_line_number = text.count("\n", 0, lead) + 1
    end = text.find("\n", lead)
    separator = _sniff(text[lead : end if end >= 0 else len(text)])
    header_cells, header_lines, body_start = _header(text, lead, separator)
    headers = [cell.strip() for cell in header_cells]
    if len(headers) > max_columns:
        return _refuse(
            file,
            f"has {len(headers):,} columns; at most {max_columns:,} are allowed",
            headers=[],
            separator=separator,
        )
    too_long = _long_header_problems(file, headers, max_cell_chars, first_line_number)
    if too_long:
        return ReadResult(frame=None, problems=too_long, headers=[], separator=separator)
    body = text[body_start:]
    if not _NON_BLANK.search(body):
        return _refuse(file, "has a header but no data rows", headers=headers, separator=separator)

    body_line = first_line_number + header_lines
    if same_bytes:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        body_bytes = data[bom + len(text[:body_start].encode("utf-8")) :]
    else:
        body_bytes = body.encode("utf-8")
    parsed = _parse_body(file, body, body_bytes, separator, len(headers), body_line)
    if isinstance(parsed, list):
        return ReadResult(frame=None, problems=parsed, headers=headers, separator=separator)
    columns, rows = parsed
    return _finish(file, columns, rows, headers, first_line_number, separator, max_cell_chars)


def _refuse(
    file: str, rule: str, *, headers: list[str] | None = None, separator: str = ","
) -> ReadResult:
    problem = Problem(file=file, row=None, column=None, value=None, rule=rule, severity=ERROR)
    return ReadResult(frame=None, problems=[problem], headers=headers or [], separator=separator)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _decode(file: str, data: bytes) -> str | Problem:
    """The text of ``data``, or the problem that stops it being read as text."""

    def not_text(why: str = "") -> Problem:
        hint = f" ({why})" if why else ""
        return Problem(
            file=file,
            row=None,
            column=None,
            value=None,
            rule=f"is not a text CSV file{hint}; save it as 'CSV UTF-8' and upload that file",
        )

    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return not_text("it starts like UTF-16 text but is not")
    for signature, why in _SIGNATURES:
        if data.startswith(signature):
            return not_text(why)
    if b"\x00" in data:
        return not_text()
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = len(re.findall(rb"\r\n|\r|\n", data[:offset])) + 1
        return Problem(
            file=file,
            row=line,
            column=None,
            value=None,
            rule=(
                f"is not saved as UTF-8 text: the byte 0x{data[offset]:02X} at byte offset "
                f"{offset:,} (line {line:,}) is not UTF-8; in Excel use Save As > "
                "'CSV UTF-8', then upload that file"
            ),
        )
    sample = text[:_SAMPLE_CHARS]
    if sample and len(_CONTROL.findall(sample)) > _CONTROL_SHARE * len(sample):
        return not_text("it is mostly control characters")
    return text


def _sniff(line: str) -> str:
    """The separator that splits the header line into the most fields; comma on a tie."""
    best, best_count = ",", 0
    for separator in SEPARATORS:
        try:
            count = len(next(csv.reader([line], delimiter=separator), []))
        except csv.Error:
            count = line.count(separator) + 1
        if count > best_count:
            best, best_count = separator, count
    return best


class _LineFeed:
    """Lines of ``text`` from ``start``, remembering where the next unread one begins."""

    def __init__(self, text: str, start: int) -> None:
        self.text, self.pos = text, start

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.text):
            raise StopIteration
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end + 1
        line, self.pos = self.text[self.pos : end], end
        return line


def _header(text: str, start: int, separator: str) -> tuple[list[str], int, int]:
    """Header cells, lines the header spans, and the offset where the body starts."""
    feed = _LineFeed(text, start)
    reader = csv.reader(feed, delimiter=separator)
    try:
        cells = next(reader)
    except csv.Error:
        # A header cell too long for the csv module: split it plainly; it will be refused.
        feed = _LineFeed(text, start)
        cells = next(feed).rstrip("\n").split(separator)
        return cells, 1, feed.pos
    return cells, reader.line_num, feed.pos


def _read_csv(body: str, separator: str, width: int) -> pd.DataFrame:
    with warnings.catch_warnings():
        # pandas warns, then drops cells, when the first row is wider than ``names``.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(
            io.StringIO(body),
            sep=separator,
            header=None,
            names=list(range(width)),
            index_col=False,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quotechar='"',
            doublequote=True,
            engine="c",
        )


def _read_arrow(body: bytes, separator: str, width: int) -> list[pa.ChunkedArray]:
    """The body's cells with pyarrow's parser, one text column per header cell.

    Raises ``pyarrow.ArrowInvalid`` for any record that is not exactly ``width`` cells wide
    (blank lines among several columns included): those files take the pandas route, which
    knows how to report them.
    """
    names = [str(i) for i in range(width)]
    table = pa_csv.read_csv(
        pa.BufferReader(body),
        read_options=pa_csv.ReadOptions(
            column_names=names, block_size=_ARROW_BLOCK_BYTES, use_threads=True
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=separator,
            quote_char=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: _TEXT for name in names},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return [table.column(i) for i in range(width)]


def _parse_body(
    file: str, body: str, body_bytes: bytes, separator: str, width: int, body_line: int
) -> tuple[list[pa.ChunkedArray], np.ndarray] | list[Problem]:
    """Cells and physical row numbers of the data rows, or the problems that stop the parse.

    A file without a double quote whose every record has as many cells as the header is parsed
    by pyarrow; any other by pandas, which gives the same cells and also reports short, wide
    and broken records. Quoted files stay with pandas: pyarrow silently ends a quote left open
    at the end of the file, where pandas reports it.
    """
    if '"' not in body:
        try:
            columns = _read_arrow(body_bytes, separator, width)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            # Without quotes a record is one line.
            rows = body_line + np.arange(len(columns[0]) if columns else 0, dtype=np.int64)
            return columns, rows
    parsed = _parse_body_pandas(file, body, separator, width, body_line)
    if isinstance(parsed, list):
        return parsed
    frame, rows = parsed
    return [_text_column(frame[position]) for position in range(width)], rows


def _text_column(cells: pd.Series) -> pa.ChunkedArray:
    array = pa.array(cells.astype("string").array, type=_TEXT)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _parse_body_pandas(
    file: str, body: str, separator: str, width: int, body_line: int
) -> tuple[pd.DataFrame, np.ndarray] | list[Problem]:
    try:
        frame = _read_csv(body, separator, width)
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        widths = _record_widths(file, body, separator, width, body_line)
        if isinstance(widths, Problem):
            return [widths]
        too_wide, widest = widths
        if too_wide:
            return _too_wide_problems(file, too_wide, width)
        try:
            frame = _read_csv(body, separator, widest).iloc[:, :width]
        except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
            return [_parse_problem(file, exc)]
    except ValueError as exc:
        return [_parse_problem(file, exc)]
    # With blank lines kept, a record spans one line plus the line breaks inside its cells.
    spans = np.ones(len(frame), dtype=np.int64)
    if '"' in body:
        for column in frame.columns:
            cells = frame[column]
            newline = cells.str.contains("\n", regex=False)
            if newline.any():
                spans += cells.str.count("\n").to_numpy(dtype=np.int64)
    # An empty frame (the body was a lone byte-order mark, which pandas skips) has no rows.
    rows = body_line + np.concatenate([[0], np.cumsum(spans)[:-1]])[: len(frame)]
    return frame, rows.astype(np.int64)


def _parse_problem(file: str, exc: Exception) -> Problem:
    message = str(exc)
    if "EOF inside string" in message:
        rule = (
            'has a cell that opens a double quote (") and never closes it; '
            "look for a stray quote mark"
        )
    else:
        rule = "could not be read as CSV; save it again as 'CSV UTF-8' and upload that file"
    return Problem(file=file, row=None, column=None, value=None, rule=rule)


def _record_widths(
    file: str, body: str, separator: str, width: int, body_line: int
) -> tuple[list[tuple[int, int]], int] | Problem:
    """Rows with non-blank cells beyond the header, and the widest record.

    Only run when pandas found a record wider than the header, so the Python loop here is on
    the way to an error message or a rare file with trailing separators.
    """
    feed = _LineFeed(body, 0)
    reader = csv.reader(feed, delimiter=separator)
    too_wide: list[tuple[int, int]] = []
    widest, previous = width, 0
    try:
        for cells in reader:
            start, previous = body_line + previous, reader.line_num
            if len(cells) > width:
                widest = max(widest, len(cells))
                if any(cell.strip() for cell in cells[width:]):
                    too_wide.append((start, len(cells)))
    except csv.Error:
        return Problem(
            file=file,
            row=None,
            column=None,
            value=None,
            rule="could not be read as CSV; save it again as 'CSV UTF-8' and upload that file",
        )
    return too_wide, widest


def _too_wide_problems(file: str, too_wide: list[tuple[int, int]], width: int) -> list[Problem]:
    problems = [
        Problem(
            file=file,
            row=row,
            column=None,
            value=None,
            rule=f"has {cells} cells but the header has {width}; a separator may be misplaced",
        )
        for row, cells in too_wide[:MAX_LISTED]
    ]
    if len(too_wide) > MAX_LISTED:
        problems.append(
            Problem(
                file=file,
                row=None,
                column=None,
                value=None,
                rule=(
                    f"has {len(too_wide) - MAX_LISTED:,} more rows with more cells than the "
                    "header (the first 50 are listed)"
                ),
            )
        )
    return problems


def _finish(
    file: str,
    raw: list[pa.ChunkedArray],
    rows: np.ndarray,
    headers: list[str],
    header_row: int,
    separator: str,
    max_cell_chars: int = MAX_CELL_CHARS,
) -> ReadResult:
    """Strip and blank cells, check headers, lengths and formulas, and assemble the result."""
    cells: list[pa.ChunkedArray] = []
    starts: list[np.ndarray] = []
    keep_rows = np.zeros(len(rows), dtype=bool)
    for column in raw:
        clean, filled, start = _clean(column)
        cells.append(clean)
        starts.append(start)
        keep_rows |= filled
    if not keep_rows.all():
        keep = pa.array(keep_rows)
        cells = [column.filter(keep) for column in cells]
        starts = [start[keep_rows] for start in starts]
        rows = rows[keep_rows]
    if not len(rows):
        return _refuse(file, "has a header but no data rows", headers=headers, separator=separator)

    problems: list[Problem] = []
    kept: list[int] = []
    for position, header in enumerate(headers):
        if header:
            kept.append(position)
            continue
        problem = _blank_header(file, _series(cells[position]), position, header_row)
        problems.append(problem)
        if problem.severity == ERROR:
            kept.append(position)
    problems += _header_problems(file, headers, kept, header_row)
    problems += _long_cell_problems(file, cells, starts, rows, headers, kept, max_cell_chars)
    problems += _formula_problems(file, cells, starts, rows, headers, kept, header_row)
    if any(p.severity == ERROR for p in problems):
        return ReadResult(frame=None, problems=problems, headers=headers, separator=separator)

    out = pd.DataFrame(
        {normalise_header(headers[p]): _series(cells[p]) for p in kept}
        | {ROW_COLUMN: pd.Series(rows, dtype="int64")}
    )
    signed = frozenset(normalise_header(headers[p]) for p in kept if starts[p].any())
    return ReadResult(
        frame=out,
        problems=problems,
        headers=[headers[p] for p in kept],
        separator=separator,
        signed=signed,
    )


def _clean(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """Cells stripped (``utf8_trim_whitespace``, as pandas strips) with blank cells null, which
    cells are filled, and which start like a formula (``=``, ``+``, ``-``, ``@``)."""
    chunks, filled, starts = [], [], []
    for chunk in column.chunks:
        chunk, full, start = _clean_chunk(chunk)
        chunks.append(chunk)
        filled.append(full)
        starts.append(start)
    if not chunks:
        return pa.chunked_array([], type=_TEXT), np.zeros(0, bool), np.zeros(0, bool)
    return (
        pa.chunked_array(chunks, type=_TEXT),
        np.concatenate(filled),
        np.concatenate(starts),
    )


def _string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (one more than the cells) and the bytes of a text array, as views."""
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[
        chunk.offset : chunk.offset + len(chunk) + 1
    ]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else _NO_BYTES
    return offsets, data


def _clean_chunk(chunk: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    if chunk.type != _TEXT:
        chunk = chunk.cast(_TEXT)
    n = len(chunk)
    valid = chunk.is_valid().to_numpy(zero_copy_only=False) if chunk.null_count else None
    offsets, data = _string_buffers(chunk)
    filled, first, last = _edges(offsets, data, valid)
    # Whitespace is an ASCII byte up to 0x20 or a character outside ASCII: a column whose cells
    # all begin and end with a printable ASCII byte has nothing to strip.
    if (_UNPRINTABLE[first] & filled).any() or (_UNPRINTABLE[last] & filled).any():
        chunk = pc.utf8_trim_whitespace(chunk)
        offsets, data = _string_buffers(chunk)
        filled, first, _ = _edges(offsets, data, valid)
    start = _FORMULA_FIRST[first] & filled
    if not filled.all():
        if chunk.offset == 0:
            chunk = pa.Array.from_buffers(
                _TEXT,
                n,
                [pa.py_buffer(np.packbits(filled, bitorder="little")), *chunk.buffers()[1:]],
            )
        else:
            chunk = pc.if_else(pa.array(filled), chunk, pa.scalar(None, _TEXT))
    return chunk, filled, start


def _edges(
    offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cells are filled, and the first and last byte of each (meaningless where blank)."""
    filled = offsets[1:] > offsets[:-1]
    if valid is not None:
        filled &= valid
    if not len(data):
        zeros = np.zeros(len(filled), dtype=np.uint8)
        return filled, zeros, zeros
    # A blank cell at the very end starts past the last byte, one at the very start ends
    # before the first: clipped, both read some byte that is then ignored.
    first = data[np.minimum(offsets[:-1], len(data) - 1)]
    last = data[np.maximum(offsets[1:] - 1, 0)]
    return filled, first, last


def _series(cells: pa.ChunkedArray) -> pd.Series:
    """A pandas ``string`` column over the Arrow cells (no copy)."""
    return pd.Series(pd.arrays.ArrowStringArray(cells), copy=False)


def _column_letter(position: int) -> str:
    """Spreadsheet letters of a 0-based column position: 0 -> A, 26 -> AA."""
    letters = ""
    n = position + 1
    while n:
        n, remainder = divmod(n - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _blank_header(file: str, cells: pd.Series, position: int, header_row: int) -> Problem:
    where = f"column {position + 1} ({_column_letter(position)})"
    values = cells.dropna()
    if values.empty:
        return Problem(
            file=file,
            row=header_row,
            column=None,
            value=None,
            rule=f"{where} has no header and no values; it was left out",
            severity=WARNING,
        )
    if position == 0:
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.notna().all() and (numbers >= 0).all() and (numbers % 1 == 0).all()
        if len(values) == len(cells) and whole and numbers.is_monotonic_increasing:
            if numbers.is_unique:
                return Problem(
                    file=file,
                    row=header_row,
                    column=None,
                    value=None,
                    rule=(
                        f"{where} has no header and holds only row numbers (a saved index); "
                        "it was left out"
                    ),
                    severity=WARNING,
                )
    return Problem(
        file=file,
        row=header_row,
        column=None,
        value=None,
        rule=f"{where} has values but no header; give it a header or delete it",
    )


def _header_problems(
    file: str, headers: list[str], kept: list[int], header_row: int
) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for position in kept:
        header = headers[position]
        if not header:
            continue
        name = normalise_header(header)
        if name == ROW_COLUMN:
            problems.append(
                Problem(
                    file=file,
                    row=header_row,
                    column=header,
                    value=None,
                    rule=f"'{ROW_COLUMN}' is reserved for row numbers; rename the column",
                )
            )
        elif name in seen:
            problems.append(
                Problem(
                    file=file,
                    row=header_row,
                    column=header,
                    value=None,
                    rule=(
                        f"columns {seen[name] + 1} and {position + 1} have the same header once "
                        "case and spaces are ignored; rename one of them"
                    ),
                )
            )
        else:
            seen[name] = position
    return problems


def _long_header_problems(
    file: str, headers: list[str], limit: int, header_row: int
) -> list[Problem]:
    """One error per header longer than ``limit``, named by its position, never echoed."""
    return [
        Problem(
            file=file,
            row=header_row,
            column=None,
            value=None,
            rule=(
                f"the header of column {position + 1} ({_column_letter(position)}) has "
                f"{len(header):,} characters; at most {limit:,} are allowed"
            ),
        )
        for position, header in enumerate(headers)
        if len(header) > limit
    ]


def _any_longer(column: pa.ChunkedArray, limit: int) -> bool:
    """True when some cell of ``column`` has more than ``limit`` bytes, read from the offsets
    (a blank cell's bytes are at most what it held before it was blanked)."""
    for chunk in column.chunks:
        if not len(chunk):
            continue
        if chunk.type != _TEXT:
            return True  # not the reader's own text: let the full count decide
        offsets, _ = _string_buffers(chunk)
        if int(np.diff(offsets).max()) > limit:
            return True
    return False


def _long_cell_problems(
    file: str,
    columns: list[pa.ChunkedArray],
    starts: list[np.ndarray],
    rows: np.ndarray,
    headers: list[str],
    kept: list[int],
    limit: int,
) -> list[Problem]:
    """An error per cell longer than ``limit`` characters (the first 50), never echoed.

    A cell's UTF-8 bytes are at least its characters, so characters are counted only in the
    cells with more than ``limit`` bytes. A too-long cell is not also checked as a formula:
    ``starts`` is cleared for it.
    """
    hits: list[tuple[int, int, int]] = []
    total = 0
    for position in kept:
        column = columns[position]
        if not _any_longer(column, limit):
            continue
        size = pc.binary_length(column).to_numpy(zero_copy_only=False)
        candidates = np.flatnonzero(np.nan_to_num(size.astype(float), nan=0.0) > limit)
        if not len(candidates):
            continue
        chars = pc.utf8_length(column.take(pa.array(candidates))).to_numpy(zero_copy_only=False)
        over = chars > limit
        if not over.any():
            continue
        long, counts = candidates[over], chars[over]
        starts[position][long] = False
        total += len(long)
        hits += [
            (int(rows[i]), position, int(n))
            for i, n in zip(long[:MAX_LISTED], counts[:MAX_LISTED], strict=True)
        ]
    hits.sort()
    problems = [
        Problem(
            file=file,
            row=row,
            column=headers[position] or f"column {position + 1}",
            value=None,
            rule=f"this cell has {n:,} characters; at most {limit:,} are allowed in one cell",
        )
        for row, position, n in hits[:MAX_LISTED]
    ]
    if total > MAX_LISTED:
        problems.append(
            Problem(
                file=file,
                row=None,
                column=None,
                value=None,
                rule=(
                    f"has {total - MAX_LISTED:,} more cells longer than {limit:,} characters "
                    "(the first 50 are listed)"
                ),
            )
        )
    return problems


def _formula_problems(
    file: str,
    columns: list[pa.ChunkedArray],
    starts: list[np.ndarray],
    rows: np.ndarray,
    headers: list[str],
    kept: list[int],
    header_row: int,
) -> list[Problem]:
    problems = []
    header_mask = formula_cells(pd.Series([headers[p] for p in kept], dtype="string"))
    for position, bad in zip(kept, header_mask):
        if bad:
            problems.append(
                Problem(
                    file=file,
                    row=header_row,
                    column=None,
                    value=_short(headers[position]),
                    rule=f"the header of column {position + 1} {_FORMULA_RULE}",
                )
            )
    # Per column, its first MAX_LISTED hits hold every hit of the overall first MAX_LISTED.
    hits: list[tuple[int, int, str]] = []
    total = 0
    for position in kept:
        column = columns[position]
        # Only cells that start like a formula can be one; the full test runs on those alone.
        if not starts[position].any():
            continue
        candidates = np.flatnonzero(starts[position])
        values = _series(column.take(pa.array(candidates)))
        bad = np.flatnonzero(formula_cells(values))
        count = len(bad)
        if not count:
            continue
        total += count
        hits += [(int(rows[candidates[j]]), position, values.iloc[j]) for j in bad[:MAX_LISTED]]
    hits.sort()
    for row, position, value in hits[:MAX_LISTED]:
        problems.append(
            Problem(
                file=file,
                row=row,
                column=headers[position] or None,
                value=_short(value),
                rule=f"this cell {_FORMULA_RULE}",
            )
        )
    if total > MAX_LISTED:
        problems.append(
            Problem(
                file=file,
                row=None,
                column=None,
                value=None,
                rule=(
                    f"has {total - MAX_LISTED:,} more cells that look like spreadsheet formulas "
                    "(the first 50 are listed)"
                ),
            )
        )
    return problems


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
