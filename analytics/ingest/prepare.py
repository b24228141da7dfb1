"""One file on its way to a canonical table: read, identified, checked for identifiers, its
columns mapped and each table's cells normalised (vocabularies, numbers, scored forms)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from analytics.core.contract import MAX_ITEMS
from analytics.core.instruments import (
    INSTRUMENTS,
    canonical_instrument,
    detect_instruments,
    item_column_map,
)
from analytics.core.problems import ERROR, WARNING, Problem
from analytics.core.spreadsheet import FORMULA_STARTS
from analytics.ingest import vocabularies as vocab
from analytics.ingest.blood_pressure import (
    BP_RULE,
    COMBINED_COLUMNS,
    holds_combined_bp,
    split_blood_pressure,
)
from analytics.ingest.cells import (
    date_days_in_order,
    parse_days,
    per_distinct,
    stripped_text,
    to_number,
)
from analytics.ingest.collector import ProblemCollector
from analytics.ingest.columns import (
    NUMBER_COLUMNS,
    TIME_COLUMNS,
    FilePart,
    check_required_columns,
    instrument_totals,
    rename_columns,
)
from analytics.ingest.discovery import identify_table
from analytics.ingest.identifiers import OLDEST_AGE, check_identifiers
from analytics.ingest.mapping import ColumnMapping
from analytics.ingest.options import ImportOptions
from analytics.ingest.reader import read_table
from analytics.ingest.scoring import score_forms
from analytics.ingest.text import normalised_ids

__all__ = ["TABLE_NAMES", "item_column_map_safe", "prepare_file"]

TABLE_NAMES = ("sessions", "assessments", "side_effects", "patients")


def prepare_file(
    file: str,
    data: bytes,
    options: ImportOptions,
    mapping: ColumnMapping | None,
    out: ProblemCollector,
    table_of_files: dict[str, str],
    *,
    table: str | None = None,
) -> FilePart | None:
    """One uploaded file read, identified and prepared for :func:`analytics.ingest.assemble.assemble`.

    Parameters
    ----------
    file : str
        The file's name, as uploaded.
    data : bytes
        Its content.
    options : ImportOptions
        Size limit, identifier handling, proration and default instrument.
    mapping : ColumnMapping or None
        The clinic's header and value mapping.
    out : ProblemCollector
        Receives every problem found.
    table_of_files : dict
        File name -> table; the file's table is recorded as soon as it is recognised.
    table : str, optional
        The table the user chose for the file; None: told from its name and content.

    Returns
    -------
    FilePart or None
        The file's rows with canonical columns (``_row``, ``_file`` and the time ``_t`` beside
        them); None when the file cannot be used (any ERROR in it).
    """
    kwargs = {} if options.max_bytes is None else {"max_bytes": options.max_bytes}
    read = read_table(file, data, **kwargs)
    out.extend(read.problems)
    if read.frame is None:
        return None
    frame = read.frame
    columns = [c for c in frame.columns if c != "_row"]
    original = dict(zip(columns, read.headers)) if len(columns) == len(read.headers) else {}
    if table is None:
        table = identify_table(file, columns, mapping)
    elif table not in TABLE_NAMES:
        raise ValueError(f"unknown table {table!r}; one of {', '.join(TABLE_NAMES)}")
    if table is None:
        out.add(
            Problem(
                file,
                None,
                None,
                None,
                "cannot tell which table this file holds (sessions, assessments, side effects "
                "or patients): choose it on the Data page, or name the file after its table "
                "(for example sessions.csv)",
            )
        )
        return None
    table_of_files[file] = table
    if any(p.severity == ERROR for p in read.problems):
        return None

    canonical = rename_columns(columns, table, mapping)
    check = check_identifiers(
        frame,
        file=file,
        headers=read.headers,
        table=table,
        canonical=canonical,
    )
    frame = check.frame
    if check.problems:
        dropped = set(check.droppable) if options.drop_phi else set()
        labels = {original.get(c, c) for c in dropped}
        for p in check.problems:
            if p.column in labels:
                out.add(replace(p, rule=p.rule + "; the column was dropped", severity=WARNING))
            else:
                out.add(p)
        if len(labels) < len(check.problems):
            return None
        frame = frame.drop(columns=sorted(dropped))
        columns = [c for c in frame.columns if c != "_row"]
    for column in check.banded:
        out.add(
            Problem(
                file,
                None,
                original.get(column, column),
                None,
                f"ages over {OLDEST_AGE} were written as '90+', as HIPAA Safe Harbor asks",
                WARNING,
            )
        )

    # The columns dropped as identifying mapped onto nothing, so the mapping is unchanged.
    renames = {c: target for c, target in canonical.items() if c in frame.columns}
    totals = instrument_totals([c for c in columns if c not in renames], table, mapping)
    headers = {renames.get(c, c): original.get(c, c) for c in columns}
    frame = frame.rename(columns=renames)
    signed = frozenset(renames.get(c, c) for c in read.signed)
    part = FilePart(file=file, table=table, frame=frame, headers=headers, signed=signed)
    if table == "patients":
        return _prepare_patients(part, out)
    if not check_required_columns(part, totals, out):
        return None
    errors_before = _count_errors(out)
    keep = _common(part, options, mapping, out)
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


def _count_errors(out: ProblemCollector) -> int:
    return out.n_errors


def _common(
    part: FilePart, options: ImportOptions, mapping: ColumnMapping | None, out: ProblemCollector
) -> set[str]:
    """patient_id and time, shared by sessions, assessments and side effects."""
    f = part.frame
    _patient_ids(part, out)
    _refuse_formula_text(part, ["patient_id"], out)
    blank = f["patient_id"].isna()
    out.rows(part.file, f.loc[blank, "_row"], part.headers["patient_id"], None, "must not be blank")
    time = TIME_COLUMNS[part.table]
    if time in f.columns:
        part.dated = True
        chosen = options.date_order or (mapping.date_order if mapping is not None else None)
        t, broken, blank_t = date_days_in_order(f[time], chosen=chosen, today=options.import_day())
        header = part.headers[time]
        for rule, bad in broken.items():
            out.rows(part.file, f.loc[bad, "_row"], header, f.loc[bad, time], rule)
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
        t, bad, blank_t = per_distinct(parse_days, f["day"])
        header = part.headers["day"]
        out.rows(part.file, f.loc[bad, "_row"], header, f.loc[bad, "day"], "must be a whole number")
        out.rows(part.file, f.loc[blank_t, "_row"], header, None, "must not be blank")
    f["_t"] = t
    f["_file"] = part.file
    part.frame = f.drop(columns=[c for c in (time, "day") if c in f.columns])
    return {"patient_id", "_t", "_row", "_file"}


def _patient_ids(part: FilePart, out: ProblemCollector) -> None:
    """Ids as they compare (:func:`analytics.ingest.text.normalise_ids`: invisible characters
    removed, NFKC), with a WARNING when two of the file's ids differ only in case."""
    f = part.frame
    f["patient_id"], pairs, part.distinct_ids = normalised_ids(f["patient_id"])
    if pairs:
        first, second = pairs[0]
        out.add(
            Problem(
                part.file,
                None,
                part.headers["patient_id"],
                None,
                f"{len(pairs):,} pair(s) of patient ids differ only in upper and lower case "
                f"(for example '{first}' and '{second}'); they are kept as different patients. "
                "If they are one patient, write the id the same way everywhere",
                WARNING,
            )
        )


_FORMULA_START = "^[" + re.escape("".join(FORMULA_STARTS)) + "]"
FORMULA_TEXT_RULE = (
    "starts with =, +, -, @, a tab or a carriage return, which a spreadsheet would run as a "
    "formula; text columns may not start so"
)


def _refuse_formula_text(part: FilePart, columns, out: ProblemCollector) -> None:
    """Text kept as written (ids, clinicians, sites, descriptive columns) may not start like a
    formula at all: the reader lets signed numbers through, which a text column never needs.
    Only the columns where the reader saw such a cell are looked at (``part.signed``)."""
    f = part.frame
    for column in columns:
        if column not in f.columns or column not in part.signed:
            continue
        text = f[column].astype("string")
        # One anchored match per cell, so a clean column of millions of ids costs little.
        starts = pc.match_substring_regex(text.array.__arrow_array__(), _FORMULA_START)
        if not pc.any(starts).as_py():
            continue
        bad = np.asarray(pc.fill_null(starts, False).to_numpy(zero_copy_only=False), dtype=bool)
        out.rows(part.file, f.loc[bad, "_row"], part.headers[column], text[bad], FORMULA_TEXT_RULE)


def _numbers(part: FilePart, columns, out: ProblemCollector) -> set[str]:
    f = part.frame
    kept = set()
    for column in columns:
        if column not in f.columns:
            continue
        kept.add(column)
        if pd.api.types.is_float_dtype(f[column]):  # already numbers (a split blood pressure)
            continue
        f[column] = to_number(f[column], f["_row"], part.file, part.headers[column], out)
        kept.add(column)
    return kept


def _vocabulary(part: FilePart, column, normalise, accepted, out, extra=None) -> None:
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
    if column in ("route", "effect", "severity", "phase"):
        rule += " (or choose what it means on the Data page, or in a column-mapping preset)"
    out.rows(part.file, f.loc[unknown, "_row"], part.headers[column], raw[unknown], rule)
    codes = pd.Series(codes, index=f.index)
    f[column] = codes if pd.api.types.is_bool_dtype(codes) else codes.astype("string")


def _yes_no(part: FilePart, column: str, mapping, out: ProblemCollector) -> None:
    f = part.frame
    if column not in f.columns:
        return
    extra = _values_for(mapping, "yes_no")
    _vocabulary(part, column, vocab.normalise_yes_no, ["yes", "no"], out, extra=extra)
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


def _split_blood_pressure(part: FilePart, out: ProblemCollector) -> None:
    """Readings written "142/85" into their systolic and diastolic columns: a combined column
    (``bp_pre``, ``bp_peak``), or a systolic column whose cells hold both numbers while the
    file has no diastolic column."""
    f = part.frame
    for combined, (systolic, diastolic) in COMBINED_COLUMNS.items():
        source = None
        if combined in f.columns:
            source = combined
        elif (
            systolic in f.columns and diastolic not in f.columns and holds_combined_bp(f[systolic])
        ):
            source = systolic
        if source is None:
            continue
        header = part.headers[source]
        separate = [c for c in (systolic, diastolic) if c in f.columns and c != source]
        if separate:
            out.add(
                Problem(
                    part.file,
                    None,
                    header,
                    None,
                    "ignored: the file also has "
                    + " and ".join(f"'{part.headers[c]}'" for c in separate)
                    + ", which are used instead",
                    WARNING,
                )
            )
            f.drop(columns=source, inplace=True)
            continue
        high, low, bad = split_blood_pressure(f[source])
        out.rows(part.file, f.loc[bad, "_row"], header, f.loc[bad, source], BP_RULE)
        f[systolic] = high.astype("float64")
        f[diastolic] = low.astype("float64")
        part.headers[systolic] = part.headers[diastolic] = header
        if source == combined:
            f.drop(columns=combined, inplace=True)


def _prepare_sessions(part: FilePart, mapping, out: ProblemCollector) -> set[str]:
    keep = {"route", "sedation", "dissociation", "clinician", "site", "phase"}
    _split_blood_pressure(part, out)
    _vocabulary(
        part,
        "route",
        vocab.normalise_route,
        list(vocab.ROUTES),
        out,
        extra=_values_for(mapping, "route"),
    )
    _vocabulary(
        part,
        "phase",
        vocab.normalise_phase,
        ["induction", "maintenance"],
        out,
        extra=_values_for(mapping, "phase"),
    )
    _yes_no(part, "sedation", mapping, out)
    _yes_no(part, "dissociation", mapping, out)
    for column in ("clinician", "site"):
        if column in part.frame:
            part.frame[column] = stripped_text(part.frame[column])
    _refuse_formula_text(part, ["clinician", "site"], out)
    keep |= _numbers(part, NUMBER_COLUMNS["sessions"], out)
    return keep


def _prepare_side_effects(part: FilePart, mapping, out: ProblemCollector) -> set[str]:
    _vocabulary(
        part,
        "effect",
        vocab.normalise_effect,
        list(vocab.EFFECTS),
        out,
        extra=_values_for(mapping, "effect"),
    )
    _vocabulary(
        part,
        "severity",
        vocab.normalise_severity,
        ["mild", "moderate", "severe"],
        out,
        extra=_values_for(mapping, "severity"),
    )
    _yes_no(part, "serious", mapping, out)
    return {"effect", "severity", "serious"}


def _prepare_patients(part: FilePart, out: ProblemCollector) -> FilePart | None:
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
    _patient_ids(part, out)
    out.rows(
        part.file,
        f.loc[f["patient_id"].isna(), "_row"],
        part.headers["patient_id"],
        None,
        "must not be blank",
    )
    if "follow_up_days" in f.columns:
        number = to_number(
            f["follow_up_days"], f["_row"], part.file, part.headers["follow_up_days"], out
        )
        bad = number.notna() & ((number != np.round(number)) | (number < 0) | (number > 36_600))
        out.rows(
            part.file,
            f.loc[bad, "_row"],
            part.headers["follow_up_days"],
            f.loc[bad, "follow_up_days"],
            "must be a whole number of days from 0 to 36,600",
        )
        f["follow_up_days"] = number.where(~bad).round().astype("Int64")
    for column in ("first_session_year", "first_session_month"):
        if column in f.columns:
            number = to_number(f[column], f["_row"], part.file, part.headers[column], out)
            whole = number.isna() | (number == np.round(number))
            out.rows(
                part.file,
                f.loc[~whole, "_row"],
                part.headers[column],
                f.loc[~whole, column],
                "must be a whole number",
            )
            # 1e308 is a whole number too; no year or month has five digits
            huge = whole & (number.abs() >= 10_000)
            out.rows(
                part.file,
                f.loc[huge, "_row"],
                part.headers[column],
                f.loc[huge, column],
                "is not a year or a month: it has more than four digits",
            )
            f[column] = number.where(whole & ~huge).round().astype("Int64")
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
    descriptive = [
        c
        for c in f.columns
        if c
        not in ("patient_id", "first_session_year", "first_session_month", "follow_up_days", "_row")
    ]
    for column in descriptive:
        f[column] = f[column].astype("string")
    f["_file"] = part.file
    f["_t"] = 0
    part.frame = f
    _refuse_formula_text(part, ["patient_id", *descriptive], out)
    return part if _count_errors(out) == errors_before else None


def _prepare_assessments(
    part: FilePart, totals: dict[str, str], options, out: ProblemCollector
) -> None:
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
            numbers[column] = to_number(
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
    """:func:`analytics.core.instruments.item_column_map`, or {} where it refuses the columns."""
    try:
        return item_column_map(columns, name)
    except ValueError:
        return {}
