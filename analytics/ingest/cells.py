"""Cell checks: text stripped, numbers and dates parsed, each distinct value once.

A column of millions of cells holds a few hundred distinct dates or numbers, so the text is
parsed once per distinct value (hashed in Arrow) and the result spread back by codes.

Dates are read as clinics' exports write them: year first (2025-03-25, 2025/03/25), or day and
month first in either order (25/03/2025, 03/25/2025, with '/', '-' or '.'), with a four-digit
year and an optional time of day. Which of day or month comes first is what the cells make
certain (:func:`date_order_of`, :func:`combined_date_order`) or what the user chooses; each cell
that is not a date breaks one rule of :data:`DATE_RULES` (:func:`date_days`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.ingest import vocabularies as vocab
from analytics.ingest.collector import ProblemCollector

__all__ = [
    "AFTER_TODAY",
    "BEFORE_1900",
    "CALENDAR_REASONS",
    "DATE_ORDERS",
    "DATE_PATTERN",
    "DATE_REGEX",
    "DATE_RULES",
    "EPOCH",
    "FIRST_DATE",
    "NOT_A_DATE",
    "NOT_A_DAY_EITHER_WAY",
    "ORDER_UNKNOWN",
    "TWO_DIGIT_YEAR",
    "chosen_date_order",
    "combined_date_order",
    "date_days",
    "date_days_in_order",
    "date_order_of",
    "not_a_day_rule",
    "number_values",
    "parse_dates",
    "parse_days",
    "per_distinct",
    "stripped_text",
    "to_number",
    "whole_column_numbers",
]

EPOCH = np.datetime64("1970-01-01", "D")

# The orders a user may choose for dates written with the day and month first (25/03/2025,
# 03/25/2025); year-first dates need none.
DATE_ORDERS = ("dmy", "mdy")
# The earliest date accepted: nothing a clinic treats today was recorded before it, and a year
# typed as 0025 or 1025 is caught rather than stored.
FIRST_DATE = datetime.date(1900, 1, 1)

# Year first (ISO 8601, also with '/' or '.'), or day and month first in either order with a
# four-digit year (a two-digit one is matched only to be refused by name); then an optional time
# of day as spreadsheets and EHRs write it (14:30, 2:30 PM, 14:30:00.000, Z or an offset), which
# is dropped. RE2 syntax (Arrow's ``extract_regex``), which Python's ``re`` reads the same way
# in ASCII mode.
DATE_REGEX = (
    r"^(?:"
    r"(?P<y>\d{4})(?P<s1>[-/.])(?P<m>\d{1,2})(?P<s2>[-/.])(?P<d>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s3>[-/.])(?P<b>\d{1,2})(?P<s4>[-/.])(?P<yy>\d{4}|\d{2})"
    r")"
    r"(?:(?:[Tt]|\s+)(?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:[.,]\d{1,9})?)?"
    r"(?:\s*(?P<half>[AaPp]\.?[Mm]\.?))?"
    r"(?:\s*(?:Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)?$"
)
DATE_PATTERN = re.compile(DATE_REGEX, re.ASCII)

# The rules a date cell can break, each a sentence reported after the row and column.
NOT_A_DATE = "is not a date: write dates as YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY"
TWO_DIGIT_YEAR = (
    "has a two-digit year: write the year in full (2025, not 25) so that the century is certain"
)
ORDER_UNKNOWN = (
    "could be read day first or month first: dates such as 03/04/2025 could be 3 April or "
    "March 4; choose day-first or month-first in the import options "
    "(command line: --date-order dmy or mdy)"
)
NOT_A_DAY_EITHER_WAY = (
    "is not a calendar day, read day first (DD/MM/YYYY) or month first (MM/DD/YYYY)"
)
BEFORE_1900 = "is before 1900; check the year"
AFTER_TODAY = "is after today, the day of the import; check the year"
# Why a day, month and year are no day of the calendar (see _calendar_reasons).
CALENDAR_REASONS = (
    "months run from 1 to 12",
    "days run from 1 to 31",
    "February has a 29th only in leap years",
    "February has no 30th",
    "February has no 31st",
    "April has no 31st",
    "June has no 31st",
    "September has no 31st",
    "November has no 31st",
)
_READINGS = {
    "ymd": "",
    "dmy": " when read day first (DD/MM/YYYY)",
    "mdy": " when read month first (MM/DD/YYYY)",
}


def not_a_day_rule(reason: str, reading: str = "ymd") -> str:
    """The rule of a date that is no day of the calendar, for one of :data:`CALENDAR_REASONS`
    and the way it was read ("ymd": year first; "dmy"/"mdy": the order chosen or certain).

    Examples
    --------
    >>> not_a_day_rule("February has no 31st")
    'is not a calendar day: February has no 31st'
    >>> not_a_day_rule("months run from 1 to 12", "mdy")
    'is not a calendar day when read month first (MM/DD/YYYY): months run from 1 to 12'
    """
    return f"is not a calendar day{_READINGS[reading]}: {reason}"


# Every rule of a date cell; a cell's code is 2 + its rule's position (0 a date, 1 blank).
DATE_RULES = (
    NOT_A_DATE,
    TWO_DIGIT_YEAR,
    ORDER_UNKNOWN,
    NOT_A_DAY_EITHER_WAY,
    BEFORE_1900,
    AFTER_TODAY,
    *(not_a_day_rule(reason, reading) for reading in _READINGS for reason in CALENDAR_REASONS),
)
_OK, _BLANK = 0, 1
_CODE = {rule: 2 + i for i, rule in enumerate(DATE_RULES)}
_NOT_A_DAY_CODE = {
    reading: _CODE[not_a_day_rule(CALENDAR_REASONS[0], reading)] for reading in _READINGS
}


def per_distinct(parse, raw: pd.Series) -> tuple[pd.Series, ...]:
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


def stripped_text(raw: pd.Series, *, blank_as_na: bool = False) -> pd.Series:
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


def date_days(
    raw: pd.Series, *, order: str | None, today: datetime.date
) -> tuple[pd.Series, dict[str, pd.Series], pd.Series]:
    """Days since 1970-01-01 of the date cells of ``raw``, the rules its other cells break, and
    its blank cells.

    Each distinct value is parsed once (:func:`per_distinct`). The year, month and day are read
    as integers and validated before any arithmetic, and days are counted in ``datetime64[D]``,
    so no year wraps or overflows. A time of day is dropped as written (no time-zone
    conversion).

    Parameters
    ----------
    raw : pandas.Series
        The cells of one date column, as read.
    order : {"dmy", "mdy"} or None
        How to read dates written with the day and month first: the user's choice, else the
        order the file's date columns make certain (:func:`chosen_date_order`). With None,
        such a date is read only when one reading is a calendar day and the other is not
        (25/03/2025), or both give the same day (05/05/2025); any other is
        :data:`ORDER_UNKNOWN`.
    today : datetime.date
        The day of the import: a later date is :data:`AFTER_TODAY`.

    Returns
    -------
    t : pandas.Series
        float64 days since 1970-01-01, NaN where the cell is blank or breaks a rule.
    broken : dict of str to pandas.Series
        Each rule of :data:`DATE_RULES` that some cell breaks, to the bool mask of those cells
        (each bad cell in exactly one mask), in the order of :data:`DATE_RULES`.
    blank : pandas.Series
        bool, True where the cell is missing or only spaces.

    Raises
    ------
    ValueError
        When ``order`` is not one of :data:`DATE_ORDERS` or None.
    TypeError
        When ``today`` is not a date.

    References
    ----------
    ISO 8601-1:2019, Date and time -- Representations for information interchange, 5.2.2
    (calendar dates) and 4.3.2 (the Gregorian calendar's leap years).

    Examples
    --------
    >>> t, broken, blank = date_days(
    ...     pd.Series(["2025-03-25", "25/03/2025", "03/04/2025", ""]),
    ...     order=None,
    ...     today=datetime.date(2025, 6, 1),
    ... )
    >>> t.tolist()[:2]
    [20172.0, 20172.0]
    >>> [rule[:30] for rule in broken], blank.tolist()
    (['could be read day first or mon'], [False, False, False, True])
    """
    read = _date_reader(order, today)
    seen: set[int] = set()

    def read_noting_codes(cells: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        # The codes present, found among the distinct values rather than every cell.
        t, code, blank = read(cells)
        seen.update(np.unique(code.to_numpy()).tolist())
        return t, code, blank

    t, code, blank = per_distinct(read_noting_codes, raw)
    values = code.to_numpy()
    broken = {
        DATE_RULES[c - 2]: pd.Series(values == c, index=raw.index, name=raw.name)
        for c in sorted(seen)
        if c > _BLANK
    }
    return t, broken, blank


def date_days_in_order(
    raw: pd.Series, *, chosen: str | None, today: datetime.date
) -> tuple[pd.Series, dict[str, pd.Series], pd.Series]:
    """:func:`date_days` of one date column read in the order its cells make certain
    (:func:`date_order_of`), or in ``chosen`` (:func:`chosen_date_order`), the column hashed
    once for both: a column of millions of cells holds a few thousand dates.

    The days are int64 when every cell is a date (float64 with NaN otherwise): the importer's
    sorted-key shortcuts for duplicates and session numbers need whole numbers.
    """
    codes, values = vocab.distinct_codes(raw.astype("string"))
    order = chosen_date_order(chosen, date_order_of(values))
    t, broken, blank = date_days(values, order=order, today=today)
    days = _spread(t, codes, raw)
    if not days.isna().any():
        days = days.astype("int64")
    broken = {rule: _spread(mask, codes, raw) for rule, mask in broken.items()}
    return days, broken, _spread(blank, codes, raw)


def parse_dates(
    raw: pd.Series, *, order: str | None = None, today: datetime.date | None = None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Days since 1970-01-01 of the date cells (time of day dropped), and the bad and blank
    masks: :func:`date_days` with every rule in one mask (``today`` defaults to the day of the
    call). Prefer :func:`date_days`, whose masks say which rule each cell breaks."""
    read = _date_reader(order, datetime.date.today() if today is None else today)
    t, code, blank = read(raw)
    return t, (code > _BLANK).rename(None), blank


def date_order_of(raw: pd.Series) -> str | None:
    """The order in which the date cells of ``raw`` write the day and the month, as far as the
    cells make it certain.

    A cell written day and month first (``a/b/YYYY``, ``a-b-YYYY``, ``a.b.YYYY``) decides the
    order when exactly one reading is a day of the calendar (25/03/2025: day first only;
    03/25/2025: month first only); it needs the order when both readings are days and they
    differ (03/04/2025); 05/05/2025 reads the same either way, and 31/02/2025 neither way.

    Parameters
    ----------
    raw : pandas.Series
        The cells of one date column, as read. Each distinct value is looked at once.

    Returns
    -------
    str or None
        "conflicting" when some cells decide day first and others month first; "dmy" or "mdy"
        when the cells that decide agree; "ambiguous" when none decides and some need the
        order; "ymd" when no cell needs it (year-first dates such as 2025-03-04, and
        day-and-month dates that read the same either way); None when no cell is a date with
        a four-digit year (blank, text, two-digit years).

    Examples
    --------
    >>> date_order_of(pd.Series(["03/04/2025", "25/03/2025 14:30"]))
    'dmy'
    >>> date_order_of(pd.Series(["03/04/2025"])), date_order_of(pd.Series(["2025-03-04"]))
    ('ambiguous', 'ymd')
    """
    _, values = vocab.distinct_codes(raw.astype("string"))
    cells = _date_fields(values)
    if not (cells.year_first.any() or cells.day_month.any()):
        return None
    day_first, month_first = _readings(cells)
    decides_dmy = cells.day_month & (day_first < 0) & (month_first >= 0)
    decides_mdy = cells.day_month & (month_first < 0) & (day_first >= 0)
    if decides_dmy.any() and decides_mdy.any():
        return "conflicting"
    if decides_dmy.any():
        return "dmy"
    if decides_mdy.any():
        return "mdy"
    needs = cells.day_month & (day_first < 0) & (month_first < 0) & (cells.a != cells.b)
    return "ambiguous" if needs.any() else "ymd"


def combined_date_order(orders: Iterable[str | None]) -> str | None:
    """The order that the :func:`date_order_of` of several date columns (of one file, or of
    every file of an upload) make certain together.

    Returns
    -------
    str or None
        "conflicting" when any column is, or when some say "dmy" and others "mdy"; else
        "dmy" or "mdy" when some column says so (year-first and ambiguous columns are then
        read that way); else "ambiguous" when some column is; "ymd" when every dated column
        needs no order; None when no column has dates.

    Examples
    --------
    >>> combined_date_order(["ymd", None, "ambiguous", "mdy"])
    'mdy'
    >>> combined_date_order(["dmy", "mdy"]), combined_date_order([None])
    ('conflicting', None)
    """
    known = {order for order in orders if order is not None}
    unknown = known - {"ymd", "dmy", "mdy", "ambiguous", "conflicting"}
    if unknown:
        raise ValueError(f"not a date order: {sorted(unknown)!r}")
    certain = known & set(DATE_ORDERS)
    if "conflicting" in known or len(certain) > 1:
        return "conflicting"
    if certain:
        return certain.pop()
    if "ambiguous" in known:
        return "ambiguous"
    return "ymd" if known else None


def chosen_date_order(chosen: str | None, certain: str | None) -> str | None:
    """The ``order`` to give :func:`date_days`: the user's choice (``chosen``, one of
    :data:`DATE_ORDERS` or None) when there is one, else what the cells make certain
    (``certain``, from :func:`combined_date_order`) when that is "dmy" or "mdy", else None.

    Examples
    --------
    >>> chosen_date_order(None, "dmy"), chosen_date_order("mdy", "dmy"), chosen_date_order(None, "ambiguous")
    ('dmy', 'mdy', None)
    """
    _check_order(chosen)
    if chosen is not None:
        return chosen
    return certain if certain in DATE_ORDERS else None


def _check_order(order: str | None) -> None:
    if order is not None and order not in DATE_ORDERS:
        raise ValueError(f"order must be one of {', '.join(DATE_ORDERS)} or None, got {order!r}")


class _DateFields(NamedTuple):
    """What :data:`DATE_REGEX` reads in each cell (numpy arrays, one value per cell)."""

    blank: np.ndarray  # missing or only spaces
    not_a_date: np.ndarray  # filled, and not of any accepted form
    two_digit: np.ndarray  # day and month first with a two-digit year
    year_first: np.ndarray  # YYYY-MM-DD (or '/' or '.')
    day_month: np.ndarray  # a/b/YYYY: day and month in an order to decide
    year: np.ndarray  # int64, 0 where not a date
    a: np.ndarray  # the month of a year-first date, else the first number
    b: np.ndarray  # the day of a year-first date, else the second number


def _date_fields(raw: pd.Series) -> _DateFields:
    """The parts of each cell of ``raw`` (stripped): plain ``YYYY-MM-DD`` read from its bytes,
    any other filled cell by :data:`DATE_REGEX` in Arrow."""
    text = raw.astype("string[pyarrow]").array.__arrow_array__()
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.utf8_trim_whitespace(text)
    n = len(text)
    size = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False)
    blank = size == 0
    year, a, b = (np.zeros(n, dtype=np.int64) for _ in range(3))
    year_first, day_month, two_digit = (np.zeros(n, dtype=bool) for _ in range(3))
    # The export of nearly every system: parsed from the bytes, no regular expression.
    at, parts = _plain_iso(text, size)
    year[at], a[at], b[at] = parts.T
    year_first[at] = True
    rest = ~blank & ~year_first
    if rest.any():
        where = np.flatnonzero(rest)
        other = _regex_fields(text.take(pa.array(where)))
        year[where], a[where], b[where] = other.year, other.a, other.b
        year_first[where] = other.year_first
        day_month[where] = other.day_month
        two_digit[where] = other.two_digit
    return _DateFields(
        blank=blank,
        not_a_date=~blank & ~(year_first | day_month | two_digit),
        two_digit=two_digit,
        year_first=year_first,
        day_month=day_month,
        year=year,
        a=a,
        b=b,
    )


_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9])
_PLACES = np.array([1000, 100, 10, 1, 10, 1, 10, 1])


def _plain_iso(text: pa.Array, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the cells of exactly ``YYYY-MM-DD`` (10 ASCII bytes), and their (year,
    month, day) as an int64 array of shape (k, 3)."""
    at = np.flatnonzero(size == 10)
    if not (len(at) and (pa.types.is_string(text.type) or pa.types.is_large_string(text.type))):
        return at[:0], np.zeros((0, 3), dtype=np.int64)
    cells = text.take(pa.array(at))
    width = np.int64 if pa.types.is_large_string(cells.type) else np.int32
    offsets = np.frombuffer(cells.buffers()[1], dtype=width)[cells.offset :]
    data = np.frombuffer(cells.buffers()[2], dtype=np.uint8)
    chars = data[offsets[0] : offsets[0] + 10 * len(at)].reshape(len(at), 10)
    digits = chars[:, _DIGITS].astype(np.int64) - ord("0")
    plain = ((digits >= 0) & (digits <= 9)).all(axis=1)
    plain &= (chars[:, 4] == ord("-")) & (chars[:, 7] == ord("-"))
    weighted = digits[plain] * _PLACES
    parts = np.stack(
        [weighted[:, :4].sum(axis=1), weighted[:, 4:6].sum(axis=1), weighted[:, 6:].sum(axis=1)],
        axis=1,
    )
    return at[plain], parts


def _regex_fields(text: pa.Array) -> _DateFields:
    """:class:`_DateFields` of filled, stripped cells read by :data:`DATE_REGEX` (blank and
    not_a_date left for the caller)."""
    parts = pc.extract_regex(text, DATE_REGEX)
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    fields = dict(zip(parts.type.names, (pc.fill_null(f, "") for f in parts.flatten())))

    def number(name: str) -> np.ndarray:
        digits = pc.if_else(pc.equal(fields[name], ""), "0", fields[name])
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)

    def length(name: str) -> np.ndarray:
        return pc.binary_length(fields[name]).to_numpy(zero_copy_only=False)

    # One separator per date: 2025-03/04 is not a date. The branch not taken is "" == "".
    same = pc.and_(pc.equal(fields["s1"], fields["s2"]), pc.equal(fields["s3"], fields["s4"]))
    hour, minute, second = number("hh"), number("mi"), number("ss")
    clock_ok = (minute <= 59) & (second <= 60) & (hour <= np.where(length("half") > 0, 12, 23))
    date = matched & same.to_numpy(zero_copy_only=False) & clock_ok
    year_first = date & (length("y") > 0)
    long_year = length("yy") == 4
    return _DateFields(
        blank=np.zeros(len(text), dtype=bool),
        not_a_date=~date,
        two_digit=date & ~year_first & ~long_year,
        year_first=year_first,
        day_month=date & ~year_first & long_year,
        year=np.where(year_first, number("y"), number("yy")),
        a=np.where(year_first, number("m"), number("a")),
        b=np.where(year_first, number("d"), number("b")),
    )


# Days of each month in a common year, and which reason a 29th, 30th or 31st is not a day.
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_REASON_OF_31ST = {4: 5, 6: 6, 9: 7, 11: 8}


def _calendar_reasons(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """int8 position in :data:`CALENDAR_REASONS` of why each (year, month, day) is no day of
    the Gregorian calendar, -1 when it is one (leap years: ISO 8601-1:2019, 4.3.2)."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    bad_month = (month < 1) | (month > 12)
    bad_day = (day < 1) | (day > 31)
    in_year = np.clip(month, 1, 12)
    length = _MONTH_DAYS[in_year - 1] + ((in_year == 2) & leap)
    too_late = ~bad_month & ~bad_day & (day > length)
    # February: 29th -> 2, 30th -> 3, 31st -> 4; the 31st of a 30-day month by its name.
    late = np.where(in_year == 2, day - 27, 0)
    for number, reason in _REASON_OF_31ST.items():
        late = np.where(in_year == number, reason, late)
    reasons = np.full(len(year), -1, dtype=np.int8)
    reasons[too_late] = late[too_late]
    reasons[bad_day] = 1
    reasons[bad_month] = 0
    return reasons


def _readings(cells: _DateFields) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_calendar_reasons` of each cell read day first and read month first."""
    day_first = _calendar_reasons(cells.year, cells.b, cells.a)
    month_first = _calendar_reasons(cells.year, cells.a, cells.b)
    return day_first, month_first


def _epoch_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """int64 days since 1970-01-01 of valid (year, month, day) of years 0 to 9999, counted in
    ``datetime64[M]`` and ``[D]`` (never nanoseconds, so no year can wrap)."""
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    return (months.astype("datetime64[D]") - EPOCH).astype(np.int64) + (day - 1)


def _date_reader(order: str | None, today: datetime.date):
    """``raw -> (t, code, blank)``, cell by cell, for :func:`per_distinct`: float64 days, the
    int8 code of each cell (0 a date, 1 blank, else 2 + its rule's position in
    :data:`DATE_RULES`) and the bool blank mask."""
    _check_order(order)
    if not isinstance(today, datetime.date):
        raise TypeError(f"today must be a datetime.date, got {type(today).__name__}")
    last = int((np.datetime64(today, "D") - EPOCH).astype(np.int64))
    first = int((np.datetime64(FIRST_DATE, "D") - EPOCH).astype(np.int64))

    def read(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        cells = _date_fields(raw)
        code = np.full(len(raw), _OK, dtype=np.int8)
        code[cells.blank] = _BLANK
        code[cells.not_a_date] = _CODE[NOT_A_DATE]
        code[cells.two_digit] = _CODE[TWO_DIGIT_YEAR]
        month, day = cells.a.copy(), cells.b.copy()
        reasons = _calendar_reasons(cells.year, cells.a, cells.b)
        reasons[~cells.year_first] = -1
        not_a_day = np.where(reasons >= 0, _NOT_A_DAY_CODE["ymd"] + reasons, _OK)
        if cells.day_month.any():
            day_first, month_first = _readings(cells)
            dm = cells.day_month
            if order == "dmy":
                month[dm], day[dm] = cells.b[dm], cells.a[dm]
                bad = dm & (day_first >= 0)
                not_a_day[bad] = _NOT_A_DAY_CODE["dmy"] + day_first[bad]
            elif order == "mdy":
                bad = dm & (month_first >= 0)
                not_a_day[bad] = _NOT_A_DAY_CODE["mdy"] + month_first[bad]
            else:
                only_dmy = dm & (day_first < 0) & (month_first >= 0)
                month[only_dmy], day[only_dmy] = cells.b[only_dmy], cells.a[only_dmy]
                neither = dm & (day_first >= 0) & (month_first >= 0)
                not_a_day[neither] = _CODE[NOT_A_DAY_EITHER_WAY]
                both = dm & (day_first < 0) & (month_first < 0) & (cells.a != cells.b)
                not_a_day[both] = _CODE[ORDER_UNKNOWN]
        code = np.where(not_a_day != _OK, not_a_day, code).astype(np.int8)
        readable = (code == _OK) & (cells.year_first | cells.day_month)
        days = np.zeros(len(raw), dtype=np.int64)
        days[readable] = _epoch_days(cells.year[readable], month[readable], day[readable])
        code[readable & (days < first)] = _CODE[BEFORE_1900]
        code[readable & (days > last)] = _CODE[AFTER_TODAY]
        t = np.where(code == _OK, days, np.nan)
        index = raw.index
        return (
            pd.Series(t, index=index, dtype="float64"),
            pd.Series(code, index=index, dtype="int8"),
            pd.Series(cells.blank, index=index, dtype=bool),
        )

    return read


def parse_days(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers of days (NaN when not one, or beyond a million), and the bad and blank
    masks. Any text is safe: "inf", "nan", 1e308, 1e400 and integers of any length are simply
    not whole numbers of days (bad), and -0 is 0."""
    text = raw.astype("string").str.strip()
    blank = (text.isna() | (text == "")).fillna(True).astype(bool)
    values = _floats(text.mask(blank)).to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    small = np.where(finite, values, 0.0)  # so the comparisons below see no inf or NaN
    whole = finite & (np.abs(small) < 1e6) & (small == np.round(small))
    days = pd.Series(np.where(whole, small + 0.0, np.nan), index=raw.index, dtype="float64")
    bad = pd.Series(~blank.to_numpy() & ~whole, index=raw.index, dtype=bool)
    return days, bad, blank


def _floats(text: pd.Series) -> pd.Series:
    """Text to float64, NaN where it is not a number; Arrow's parser when every cell parses."""
    try:
        parsed = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def to_number(
    raw: pd.Series, rows: pd.Series, file: str, header: str, out: ProblemCollector
) -> pd.Series:
    """float64 of a number column, each cell that is not a number an ERROR row in ``out``.

    One Arrow cast when every filled cell parses (:func:`whole_column_numbers`), else each
    distinct value parsed once (:func:`number_values`).
    """
    whole = whole_column_numbers(raw)
    if whole is not None:
        return whole
    number, bad = per_distinct(number_values, raw)
    out.rows(file, rows[bad], header, raw[bad], "must be a number")
    return number


def whole_column_numbers(raw: pd.Series) -> pd.Series | None:
    """float64 of an Arrow text column whose every filled cell is a finite number, in one cast;
    None otherwise (a blank or padded cell, text, infinity), for :func:`number_values`.

    Arrow's cast refuses empty and padded text, so a column it parses holds only cells that
    :func:`number_values` would strip to themselves and parse with the same cast.
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


def number_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """float64 of number cells (NaN when blank, not a number or not finite), and the bad mask."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    number = _floats(text.mask(blank)).astype("float64")
    number = number.where(np.isfinite(number))
    bad = (number.isna() & ~blank).astype(bool)
    return number, bad
