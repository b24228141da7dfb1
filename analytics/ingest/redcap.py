"""Turn a REDCap longitudinal export into the assessments CSV a clinic uploads.

A REDCap "raw data" export has one row per record and event, the record id in its first field
(``record_id``, or a study-specific name such as ``scr_id``), the event in ``redcap_event_name``
and every instrument's answers side by side (``pcl5_1`` .. ``pcl5_20``, ``bdi_1_sadness`` ..).
Events carry no day, so the user gives a table of event -> day relative to the first treatment
(``--events "screening_arm_1=-14,baseline_arm_1=0,week_4_arm_1=28"``).

The result is the *upload* layout (``patient_id, day, instrument, total, item_1 .. item_N``), not
the canonical table: the importer validates and scores it like any other upload, so there is one
scoring path. Only assessments are converted; demographic fields are left behind, because which
of them a clinic may share is the clinic's decision.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analytics.core.instruments import INSTRUMENTS, detect_instruments, item_column_map
from analytics.core.problems import WARNING, Problem

__all__ = ["convert_redcap", "parse_events", "stored_total_column"]

_EVENT_COLUMN = "redcap_event_name"
_EXAMPLE = "'screening_arm_1=-14,baseline_arm_1=0,week_4_arm_1=28'"


def parse_events(spec: str) -> dict[str, int]:
    """Read an events table written as ``name=day`` pairs separated by commas.

    Names are lower-cased (REDCap unique event names are lower case); days are whole numbers,
    negative before the first treatment.

    Raises
    ------
    ValueError
        An empty spec, a pair without ``=``, an empty name, a day that is not a whole number, or
        an event given twice.

    Examples
    --------
    >>> parse_events("screening_arm_1=-14, baseline_arm_1=0,week_4_arm_1=+28")
    {'screening_arm_1': -14, 'baseline_arm_1': 0, 'week_4_arm_1': 28}
    """
    pairs = [p.strip() for p in str(spec or "").split(",") if p.strip()]
    if not pairs:
        raise ValueError(f"the events table is empty; give name=day pairs such as {_EXAMPLE}")
    events: dict[str, int] = {}
    for pair in pairs:
        name, sep, day = (part.strip() for part in pair.partition("="))
        if not sep:
            raise ValueError(f"event {pair!r} has no '=': give name=day pairs such as {_EXAMPLE}")
        if not name:
            raise ValueError(f"event {pair!r} has no name before '='")
        if not re.fullmatch(r"[+-]?\d+", day):
            raise ValueError(f"event {name!r}: the day must be a whole number, got {day!r}")
        key = name.lower()
        if key in events:
            raise ValueError(f"event {name!r} is given twice")
        events[key] = int(day)
    return events


def _unnamed(column: str) -> bool:
    return column == "" or column.startswith("unnamed")


def _find_id_column(columns: list[str], id_field: str | None) -> str | None:
    if id_field is not None:
        key = id_field.strip().lower()
        return key if key in columns else None
    for column in columns:
        if column == "_row" or _unnamed(column):
            continue
        if column == "record_id" or column.endswith("_id"):
            return column
    return None


def stored_total_column(columns, instrument: str) -> str | None:
    """The export's calculated total for ``instrument`` (``pcl5_total``, ``bdi_total``..), if any.

    Examples
    --------
    >>> stored_total_column(["scr_id", "pcl5_1", "pcl_total"], "PCL-5")
    'pcl_total'
    """
    names = set(columns)
    for prefix in INSTRUMENTS[instrument].prefixes:
        base = prefix.rstrip("_")
        for suffix in ("_total", "total", "_total_score", "_score", "_sum"):
            if base + suffix in names:
                return base + suffix
    return None


def _numbers(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cells as float64 (NaN when blank or not a number) and the mask of non-numeric cells."""
    text = frame[columns].astype("string").apply(lambda s: s.str.strip())
    blank = text.isna() | (text == "")
    values = text.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    return values, (~blank.to_numpy(dtype=bool)) & np.isnan(values)


# BDI-II items 16 (sleep) and 18 (appetite) have seven options, 0, 1a, 1b, 2a, 2b, 3a, 3b, scored
# 0-3 (Beck 1996); REDCap projects code them in order, from 0 or from 1 (clinical.md).
_SEVEN_OPTIONS = np.array([0, 1, 1, 2, 2, 3, 3], dtype="float64")


def _recode_bdi(items: np.ndarray) -> tuple[np.ndarray, str | None]:
    """BDI-II answers on the 0-3 scale, and a note saying how they were recoded (None if not)."""
    sub = np.zeros(items.shape[1], dtype=bool)
    sub[[15, 17]] = True
    regular, options = items[:, ~sub], items[:, sub]
    seen_r, seen_s = regular[~np.isnan(regular)], options[~np.isnan(options)]
    if seen_r.size + seen_s.size == 0:
        return items, None
    lowest = min(seen_r.min(initial=np.inf), seen_s.min(initial=np.inf))
    top_r, top_s = seen_r.max(initial=-np.inf), seen_s.max(initial=-np.inf)
    whole = np.all(np.concatenate([seen_r, seen_s]) % 1 == 0)
    out = items.copy()
    if whole and lowest >= 1 and top_r <= 4 and top_s <= 7 and (top_r == 4 or top_s >= 5):
        out[:, ~sub] = regular - 1
        if top_s >= 5:
            out[:, sub] = np.where(
                np.isnan(options),
                np.nan,
                _SEVEN_OPTIONS[np.nan_to_num(options, nan=1).astype(int) - 1],
            )
            return out, "coded 1-4 (items 16 and 18: 1-7 for 0, 1a, 1b, 2a, 2b, 3a, 3b)"
        out[:, sub] = options - 1
        return out, "coded 1-4"
    if whole and lowest >= 0 and top_r <= 3 and 4 <= top_s <= 6:
        out[:, sub] = np.where(
            np.isnan(options), np.nan, _SEVEN_OPTIONS[np.nan_to_num(options, nan=0).astype(int)]
        )
        return out, "coded with items 16 and 18 as 0-6 for 0, 1a, 1b, 2a, 2b, 3a, 3b"
    return items, None


def convert_redcap(
    frame: pd.DataFrame,
    *,
    events: dict[str, int],
    id_field: str | None = None,
    file: str = "redcap export",
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Convert a REDCap longitudinal export to the assessments upload layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        The export read as strings (NA for blank), headers lower-cased, with the reader's
        ``_row`` column (the spreadsheet row, for messages). A leading unnamed index column
        (header ``""`` or ``unnamed: 0``) is ignored.
    events : dict of str to int
        REDCap unique event name -> day relative to the first treatment (see
        :func:`parse_events`).
    id_field : str, optional
        The record id column. By default the first column named ``record_id`` or ending in
        ``_id``.
    file : str
        The file name shown in problems.

    Returns
    -------
    tables : dict
        ``{"assessments": frame}`` with columns ``patient_id`` (string), ``day`` (int64),
        ``instrument`` (canonical name), ``total`` (the export's calculated total, float, NaN
        when blank or not trustworthy), ``item_1`` .. ``item_K`` (float; K is the most items of
        any instrument found, cells beyond an instrument's count blank). One row per record,
        event and instrument with at least one answer or a total; sorted by patient, day,
        instrument. Not scored: the importer scores it.
    problems : list of Problem
        Errors: no id or event column, events missing from the table (listed once), blank ids,
        answers that are not numbers, item columns out of range, two forms of one instrument on
        the same patient and day. Warnings: BDI-II answers recoded to 0-3.

    Notes
    -----
    ``*_complete`` form-status fields, timestamps and repeat-instrument fields are ignored; a
    calculated total (``pcl5_total``, ``pcl_total``, ``bdi_total``, ``phq9_total``) becomes
    ``total``. REDCap's calculated totals of an empty form may read 0; the importer drops those.
    """
    df = frame.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    columns = list(df.columns)
    problems: list[Problem] = []
    empty = {"assessments": _empty_assessments(0)}

    def whole_file(rule: str, column: str | None = None) -> Problem:
        return Problem(file=file, row=None, column=column, value=None, rule=rule)

    id_col = _find_id_column(columns, id_field)
    if id_col is None:
        rule = (
            f"the id field {id_field!r} is not a column of the export"
            if id_field is not None
            else "no record id column: expected 'record_id' or a column ending in '_id'"
            " (name it with the id field option)"
        )
        return empty, [whole_file(rule)]
    event_col = next((c for c in columns if c.startswith(_EVENT_COLUMN)), None)
    if event_col is None:
        return empty, [
            whole_file(
                "no 'redcap_event_name' column: only longitudinal exports can be converted,"
                " because their events give each form its day"
            )
        ]
    rows = df["_row"].to_numpy() if "_row" in df else np.arange(len(df)) + 2

    table = {str(k).strip().lower(): int(v) for k, v in events.items()}
    event = df[event_col].astype("string").str.strip().str.lower()
    day = event.map(table)
    unmapped = sorted(set(event.dropna()) - set(table) - {""})
    if unmapped:
        problems.append(
            whole_file(
                f"events missing from the events table: {', '.join(unmapped)}; "
                "add each as name=day",
                event_col,
            )
        )
    ids = df[id_col].astype("string").str.strip()
    for mask, column, rule in (
        (ids.isna() | (ids == ""), id_col, "the record id is blank"),
        (event.isna() | (event == ""), event_col, "the event name is blank"),
    ):
        for i in np.flatnonzero(mask.to_numpy(dtype=bool)):
            problems.append(Problem(file, int(rows[i]), column, None, rule))
    usable = (day.notna() & ids.notna() & (ids != "")).to_numpy(dtype=bool)

    detected = detect_instruments(columns)
    found = [n for n in INSTRUMENTS if n in detected or stored_total_column(columns, n)]
    if not found:
        problems.append(
            whole_file(
                "no questionnaire items found: expected REDCap fields such as pcl5_1, phq9_1,"
                " gad7_1, bdi_1 or madrs_1"
            )
        )
        return empty, problems

    blocks = []
    for name in found:
        try:
            mapping = item_column_map(columns, name)
        except ValueError as error:
            problems.append(whole_file(str(error)))
            continue
        n = INSTRUMENTS[name].n_items
        sources = list(mapping)
        total_col = stored_total_column(columns, name)
        read = sources + ([total_col] if total_col else [])
        values, not_number = _numbers(df, read)
        for j in np.flatnonzero(not_number.any(axis=0)):
            for i in np.flatnonzero(not_number[:, j]):
                problems.append(
                    Problem(
                        file,
                        int(rows[i]),
                        read[j],
                        str(df[read[j]].iloc[i])[:40],
                        "answers must be numbers (export raw data, not labels)",
                    )
                )
        items = np.full((len(df), n), np.nan)
        for j, source in enumerate(sources):
            items[:, int(mapping[source][5:]) - 1] = values[:, j]
        total = values[:, -1] if total_col else np.full(len(df), np.nan)
        if name == "BDI-II":
            items, note = _recode_bdi(items)
            if note:
                total = np.full(len(df), np.nan)
                problems.append(
                    Problem(
                        file,
                        None,
                        None,
                        None,
                        f"BDI-II answers are {note}; recoded to the 0-3 scale, and the stored"
                        " total (a sum of the codes) is left out so the importer scores the"
                        " items",
                        WARNING,
                    )
                )
        keep = usable & (~np.isnan(items).all(axis=1) | ~np.isnan(total))
        block = pd.DataFrame(
            {
                "patient_id": ids.to_numpy()[keep],
                "day": day.to_numpy()[keep],
                "instrument": name,
                "total": total[keep],
                **{f"item_{k}": items[keep, k - 1] for k in range(1, n + 1)},
            }
        )
        blocks.append(block)

    if not blocks:
        return empty, problems
    width = max(INSTRUMENTS[name].n_items for name in found)
    out = pd.concat([_empty_assessments(width), *blocks], ignore_index=True)
    out = out.astype(
        {"patient_id": "string", "day": "int64", "instrument": "string", "total": "float64"}
    )
    order = out["instrument"].map({name: i for i, name in enumerate(INSTRUMENTS)})
    out = (
        out.assign(_order=order)
        .sort_values(["patient_id", "day", "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    problems.extend(_duplicates(out, file))
    return {"assessments": out}, problems


def _empty_assessments(width: int) -> pd.DataFrame:
    columns = {
        "patient_id": pd.Series([], dtype="string"),
        "day": pd.Series([], dtype="int64"),
        "instrument": pd.Series([], dtype="string"),
        "total": pd.Series([], dtype="float64"),
    }
    columns |= {f"item_{k}": pd.Series([], dtype="float64") for k in range(1, width + 1)}
    return pd.DataFrame(columns)


def _duplicates(out: pd.DataFrame, file: str) -> list[Problem]:
    key = ["patient_id", "day", "instrument"]
    dup = out[out.duplicated(key, keep=False)].drop_duplicates(key)
    if dup.empty:
        return []
    examples = "; ".join(
        f"record {r.patient_id}, day {r.day}, {r.instrument}" for r in dup.head(3).itertuples()
    )
    return [
        Problem(
            file=file,
            row=None,
            column=None,
            value=None,
            rule=(
                f"{len(dup)} record/day/instrument combinations have more than one form"
                f" ({examples}); two events share a day in the events table,"
                " or the form repeats within an event"
            ),
        )
    ]
