"""Date cells as clinics' exports write them: the days they give, the rule each bad cell breaks,
and the day-or-month order a column makes certain."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.ingest import cells
from analytics.ingest.cells import (
    AFTER_TODAY,
    BEFORE_1900,
    DATE_RULES,
    NOT_A_DATE,
    NOT_A_DAY_EITHER_WAY,
    ORDER_UNKNOWN,
    TWO_DIGIT_YEAR,
    chosen_date_order,
    combined_date_order,
    date_days,
    date_order_of,
    not_a_day_rule,
    parse_dates,
    parse_days,
)

TODAY = datetime.date(2025, 6, 1)
EPOCH = datetime.date(1970, 1, 1)
BLANK = "blank"


def _days(year: int, month: int, day: int) -> int:
    return (datetime.date(year, month, day) - EPOCH).days


def _reading(raw: pd.Series, order: str | None, today: datetime.date = TODAY) -> list:
    """Per cell: its days (int), BLANK, or the one rule it breaks."""
    t, broken, blank = date_days(raw, order=order, today=today)
    out = []
    for i in range(len(raw)):
        rules = [rule for rule, mask in broken.items() if mask.iloc[i]]
        if blank.iloc[i]:
            assert not rules and np.isnan(t.iloc[i])
            out.append(BLANK)
        elif rules:
            assert len(rules) == 1 and np.isnan(t.iloc[i]), rules
            out.append(rules[0])
        else:
            assert float(t.iloc[i]).is_integer()
            out.append(int(t.iloc[i]))
    return out


@pytest.mark.parametrize(
    ("cell", "order", "expected"),
    [
        # year first, with any order chosen or none
        ("2025-03-25", None, _days(2025, 3, 25)),
        ("2025-03-25", "mdy", _days(2025, 3, 25)),
        ("2025/3/5", "dmy", _days(2025, 3, 5)),
        ("2025.03.25", None, _days(2025, 3, 25)),
        ("  2025-03-25  ", None, _days(2025, 3, 25)),
        # a time of day is dropped as written, offsets included (no time-zone conversion)
        ("2025-03-25T09:30:00Z", None, _days(2025, 3, 25)),
        ("2025-03-25T23:59:59.123+05:30", None, _days(2025, 3, 25)),
        ("2025-03-25 00:30 -0800", None, _days(2025, 3, 25)),
        ("2025-03-25 14:30", None, _days(2025, 3, 25)),
        # day and month first: certain from the cell itself, or from the order
        ("25/03/2025", None, _days(2025, 3, 25)),
        ("25/03/2025", "dmy", _days(2025, 3, 25)),
        ("03/25/2025", None, _days(2025, 3, 25)),
        ("03/25/2025", "mdy", _days(2025, 3, 25)),
        ("25.03.2025", "dmy", _days(2025, 3, 25)),
        ("25-03-2025 14:30:00", None, _days(2025, 3, 25)),
        ("05/05/2025", None, _days(2025, 5, 5)),  # the same day either way
        ("03/04/2025", None, ORDER_UNKNOWN),
        ("03/04/2025", "dmy", _days(2025, 4, 3)),
        ("03/04/2025", "mdy", _days(2025, 3, 4)),
        ("3/4/2025 2:30 PM", None, ORDER_UNKNOWN),
        ("3/4/2025 2:30 PM", "mdy", _days(2025, 3, 4)),
        ("3/4/2025 2:30 p.m.", "dmy", _days(2025, 4, 3)),
        ("3/4/2025 12:05 AM", "dmy", _days(2025, 4, 3)),
        # contradicting the order: no day of the calendar read that way
        ("25/03/2025", "mdy", not_a_day_rule("months run from 1 to 12", "mdy")),
        ("03/25/2025", "dmy", not_a_day_rule("months run from 1 to 12", "dmy")),
        ("31/02/2025", "dmy", not_a_day_rule("February has no 31st", "dmy")),
        ("31/02/2025", None, NOT_A_DAY_EITHER_WAY),
        ("13/13/2025", None, NOT_A_DAY_EITHER_WAY),
        # the calendar
        ("2024-02-29", None, _days(2024, 2, 29)),
        ("2000-02-29", None, _days(2000, 2, 29)),
        ("2023-02-29", None, not_a_day_rule("February has a 29th only in leap years")),
        ("1900-02-29", None, not_a_day_rule("February has a 29th only in leap years")),
        ("2024-02-31", None, not_a_day_rule("February has no 31st")),
        ("2024-02-30", None, not_a_day_rule("February has no 30th")),
        ("2024-04-31", None, not_a_day_rule("April has no 31st")),
        ("2024-11-31", None, not_a_day_rule("November has no 31st")),
        ("2024-13-01", None, not_a_day_rule("months run from 1 to 12")),
        ("2024-00-10", None, not_a_day_rule("months run from 1 to 12")),
        ("2024-01-32", None, not_a_day_rule("days run from 1 to 31")),
        ("0000-00-00", None, not_a_day_rule("months run from 1 to 12")),
        # years from 1900 to today, nothing wraps
        ("1900-01-01", None, _days(1900, 1, 1)),
        ("1899-12-31", None, BEFORE_1900),
        ("1440-01-03", None, BEFORE_1900),
        ("0001-01-01", None, BEFORE_1900),
        ("01/01/0001", "dmy", BEFORE_1900),
        ("1677-09-21", None, BEFORE_1900),
        ("2025-06-01", None, _days(2025, 6, 1)),
        ("2025-06-02", None, AFTER_TODAY),
        ("2099-01-01", None, AFTER_TODAY),
        ("9999-12-31", None, AFTER_TODAY),
        # two-digit years are refused by name, whatever the order
        ("03/04/25", None, TWO_DIGIT_YEAR),
        ("25/03/25", "dmy", TWO_DIGIT_YEAR),
        ("25-03-25", None, TWO_DIGIT_YEAR),
        # not dates at all
        ("1e308", None, NOT_A_DATE),
        ("soon", None, NOT_A_DATE),
        ("45736", None, NOT_A_DATE),  # a spreadsheet's day serial
        ("20250325", None, NOT_A_DATE),
        ("2025-03/25", None, NOT_A_DATE),  # one separator per date
        ("25/03-2025", None, NOT_A_DATE),
        ("2025-03-25 25:00", None, NOT_A_DATE),  # no such time
        ("2025-03-25 14:60", None, NOT_A_DATE),
        ("3/4/2025 13:30 PM", "mdy", NOT_A_DATE),
        ("March 4, 2025", None, NOT_A_DATE),
        ("２０２５-03-25", None, NOT_A_DATE),  # full-width digits
        ("12345/03/2025", None, NOT_A_DATE),
        ("-2025-03-25", None, NOT_A_DATE),
        # blank
        ("", None, BLANK),
        ("   ", None, BLANK),
        (None, "dmy", BLANK),
    ],
)
def test_date_days_of_one_cell(cell, order, expected):
    raw = pd.Series([cell], dtype="string")
    assert _reading(raw, order) == [expected]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2025-03-25", "2025/03/04 10:00"], "ymd"),
        (["03/04/2025", "25/03/2025"], "dmy"),
        (["03/04/2025", "03/25/2025 2:30 PM"], "mdy"),
        (["25.03.2025", "2025-03-04"], "dmy"),
        (["03/04/2025", "04/03/2025"], "ambiguous"),
        (["03/04/2025", "2025-03-04"], "ambiguous"),
        (["25/03/2025", "03/25/2025"], "conflicting"),
        (["25/03/2025", "03/04/2025", "03/25/2025"], "conflicting"),
        (["05/05/2025"], "ymd"),  # reads the same either way
        (["31/02/2025"], "ymd"),  # reads as no day either way: nothing to choose
        (["03/04/25"], None),  # two-digit years are refused, they decide nothing
        (["soon", "", None], None),
        ([], None),
    ],
)
def test_date_order_of_a_column(values, expected):
    assert date_order_of(pd.Series(values, dtype="string")) == expected


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([], None),
        ([None, None], None),
        (["ymd", None], "ymd"),
        (["ymd", "dmy"], "dmy"),
        (["ambiguous", "mdy"], "mdy"),
        (["ambiguous", "ymd"], "ambiguous"),
        (["dmy", "mdy"], "conflicting"),
        (["conflicting", "ymd"], "conflicting"),
    ],
)
def test_combined_date_order(orders, expected):
    assert combined_date_order(orders) == expected


def test_combined_date_order_refuses_what_is_not_an_order():
    with pytest.raises(ValueError, match=r"not a date order: \['day first'\]"):
        combined_date_order(["dmy", "day first"])


@pytest.mark.parametrize(
    ("chosen", "certain", "expected"),
    [
        (None, "dmy", "dmy"),
        (None, "mdy", "mdy"),
        ("mdy", "dmy", "mdy"),  # the user's choice wins; cells read otherwise are reported
        (None, "ambiguous", None),
        (None, "conflicting", None),
        (None, "ymd", None),
        ("dmy", None, "dmy"),
    ],
)
def test_chosen_date_order(chosen, certain, expected):
    assert chosen_date_order(chosen, certain) == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"order": "ymd", "today": TODAY}, ValueError, "order must be one of dmy, mdy or None"),
        ({"order": "DMY", "today": TODAY}, ValueError, "got 'DMY'"),
        ({"order": None, "today": "2025-06-01"}, TypeError, "today must be a datetime.date"),
    ],
)
def test_date_days_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        date_days(pd.Series(["2025-03-04"]), **kwargs)


def test_every_rule_is_listed_once():
    assert len(set(DATE_RULES)) == len(DATE_RULES)
    assert {NOT_A_DATE, TWO_DIGIT_YEAR, ORDER_UNKNOWN, BEFORE_1900, AFTER_TODAY} <= set(DATE_RULES)


def test_a_column_of_many_cells_is_read_once_per_distinct_value():
    values = ["2025-03-25", "25/03/2025", "03/04/2025", "soon", "", None, "1440-01-03"]
    raw = pd.Series(values * 500, dtype="string", index=range(7, 7 + 7 * 500))
    t, broken, blank = date_days(raw, order=None, today=TODAY)
    every_cell = [_reading(pd.Series([v], dtype="string"), None)[0] for v in values]
    assert _reading(raw.iloc[:7], None) == every_cell
    assert t.index.equals(raw.index) and blank.index.equals(raw.index)
    assert list(broken) == [NOT_A_DATE, ORDER_UNKNOWN, BEFORE_1900]  # in DATE_RULES order
    assert [int(mask.sum()) for mask in broken.values()] == [500, 500, 500]
    assert all(mask.index.equals(raw.index) for mask in broken.values())


def test_parse_dates_is_date_days_with_one_bad_mask():
    raw = pd.Series(["2025-03-25", "25/03/2025", "03/04/2025", "", "2024-02-31"], dtype="string")
    t, bad, blank = parse_dates(raw, today=TODAY)
    expected_t, broken, expected_blank = date_days(raw, order=None, today=TODAY)
    pd.testing.assert_series_equal(t, expected_t)
    pd.testing.assert_series_equal(blank, expected_blank)
    assert bad.tolist() == [False, False, True, False, True]
    assert bad.dtype == bool


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3", 3.0),
        (" -14 ", -14.0),
        ("-0", 0.0),
        ("7.0", 7.0),
        ("1.5", "bad"),
        ("1e308", "bad"),
        ("1e400", "bad"),
        ("-1e400", "bad"),
        ("inf", "bad"),
        ("-inf", "bad"),
        ("nan", "bad"),
        ("NaN", "bad"),
        ("99999999999999999999999999", "bad"),
        ("9" * 400, "bad"),
        ("1000000", "bad"),
        ("soon", "bad"),
        ("", "blank"),
        (None, "blank"),
    ],
)
def test_parse_days_of_one_cell(cell, expected):
    days, bad, blank = parse_days(pd.Series([cell], dtype="string"))
    got = "blank" if blank.iloc[0] else "bad" if bad.iloc[0] else days.iloc[0]
    assert got == expected
    if expected == 0.0:
        assert not np.signbit(days.iloc[0])


# ---- properties ------------------------------------------------------------------------------

FORMS = {
    # form -> (how it writes year, month, day; the order it needs)
    "iso": (lambda y, m, d, s: f"{y:04d}-{m:02d}-{d:02d}", None),
    "iso_sep": (lambda y, m, d, s: f"{y:04d}{s}{m}{s}{d}", None),
    "dmy": (lambda y, m, d, s: f"{d:02d}{s}{m:02d}{s}{y:04d}", "dmy"),
    "dmy_short": (lambda y, m, d, s: f"{d}{s}{m}{s}{y:04d}", "dmy"),
    "mdy": (lambda y, m, d, s: f"{m:02d}{s}{d:02d}{s}{y:04d}", "mdy"),
    "mdy_short": (lambda y, m, d, s: f"{m}{s}{d}{s}{y:04d}", "mdy"),
}
TIMES = ["", " 14:30", " 2:30 PM", " 14:30:00", "T09:05:59Z", " 00:00:00.000+01:00", " 12:00 am"]


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY),
    form=st.sampled_from(sorted(FORMS)),
    separator=st.sampled_from(["/", "-", "."]),
    time=st.sampled_from(TIMES),
)
def test_any_date_from_1900_to_today_gives_its_days(day, form, separator, time):
    write, order = FORMS[form]
    cell = write(day.year, day.month, day.day, separator) + time
    raw = pd.Series([cell, cell], dtype="string")
    assert _reading(raw, order) == [(day - EPOCH).days] * 2, cell


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=30),
            st.text(alphabet="0123456789/-.:T APMZ+", max_size=25),
            st.none(),
        ),
        max_size=12,
    ),
    order=st.sampled_from([None, *cells.DATE_ORDERS]),
)
def test_any_text_is_a_date_blank_or_breaks_one_rule(texts, order):
    raw = pd.Series(texts, dtype="string")
    _reading(raw, order)  # every cell exactly one of the three, never an exception
    assert date_order_of(raw) in {None, "ymd", "dmy", "mdy", "ambiguous", "conflicting"}
    parse_days(raw)
