"""The canonical tables from the prepared files: day arithmetic, session numbers, duplicates.

Every row is put on the patient's day axis (day 0 = the patient's first treatment session),
sessions are numbered by day, exact repeats are counted once and rows repeating a key with other
values are refused, side effects are matched to their session, and the result is validated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import (
    ASSESSMENT_COLUMNS,
    SESSION_COLUMNS,
    SIDE_EFFECT_COLUMNS,
    ClinicData,
    clinic_from_frames,
)
from analytics.core.ids import PatientIndex, factorize_ids
from analytics.core.problems import WARNING, Problem
from analytics.ingest import vocabularies as vocab
from analytics.ingest.cells import EPOCH
from analytics.ingest.collector import UPLOAD, ProblemCollector
from analytics.ingest.columns import TIME_COLUMNS, FilePart
from analytics.ingest.mapping import TABLES
from analytics.ingest.options import ImportOptions
from analytics.ingest.schemas import validate_tables

__all__ = [
    "assemble",
    "dedupe",
    "key_codes",
    "number_sessions",
    "place_on_day_axis",
    "repeats_in_order",
    "session_numbers",
]


def assemble(
    parts: list[FilePart], options: ImportOptions, out: ProblemCollector
) -> ClinicData | None:
    """The canonical tables of an upload's prepared files; None when anything is an ERROR.

    Sessions are deduplicated and numbered (setting each patient's day 0), assessments and side
    effects are placed on the day axis and deduplicated, side effects are matched to sessions,
    the patients table gets the first-session year (and month with ``options.keep_month``), and
    the typed tables are validated. Every problem goes to ``out``.
    """
    by_table: dict[str, list[FilePart]] = {t: [] for t in TABLES}
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
        sessions = dedupe(sessions, ["patient_id", "_t"], "the same patient and day", out, headers)
        day0, sessions = number_sessions(sessions)
        if sessions_dated:
            first_date = (EPOCH + day0.to_numpy().astype("int64")).astype("datetime64[D]")
            first_date = pd.Series(pd.to_datetime(first_date), index=day0.index)
    else:
        day0 = pd.Series(dtype="int64")

    assessments = None
    unplaced: list = []
    if by_table["assessments"]:
        placed = [
            place_on_day_axis(p, day0, has_sessions, sessions_dated, out, unplaced_ids=unplaced)
            for p in by_table["assessments"]
        ]
        placed = [p for p in placed if p is not None]
        if placed:
            assessments = pd.concat(placed, ignore_index=True)
            assessments = dedupe(
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
                place_on_day_axis(p, day0, True, sessions_dated, out, drop_unplaced=False)
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
    if sessions_dated and "patients" in clean:
        clean["patients"] = with_follow_up(clean["patients"], day0, clean, options.extract_date)
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


def with_follow_up(
    patients: pd.DataFrame, day0: pd.Series, tables: dict, extract_date
) -> pd.DataFrame:
    """``patients`` with ``follow_up_days``: days from each patient's day 0 to the data cutoff.

    The cutoff is ``extract_date`` when given, else the latest date anywhere in the upload
    (every table's days are days since its patient's day 0, so a date is day 0 plus the day). A
    patient is never followed for less than their own latest record, so an extract date before
    some of the records cannot make a patient look not yet due at a day they were seen. Where
    no follow-up can be worked out (a patient without sessions), a ``follow_up_days`` given in
    patients.csv is kept.

    Parameters
    ----------
    patients : pandas.DataFrame
        The upload's patients, ``patient_id`` first.
    day0 : pandas.Series
        Each treated patient's day 0 as days since 1970-01-01, indexed by patient id.
    tables : dict of pandas.DataFrame
        The upload's tables; those with a ``day`` column are read.
    extract_date : datetime.date or None
    """
    # Each treated patient's latest day in any table, on the codes of day0's ids (the tables
    # are sorted by patient, so each run of ids is looked up once).
    treated = PatientIndex(day0.index)
    latest = np.zeros(len(day0), dtype="int64")
    for name in ("sessions", "assessments", "side_effects"):
        frame = tables.get(name)
        if frame is not None and len(frame):
            codes = treated.positions(frame["patient_id"])
            known = codes >= 0
            np.maximum.at(latest, codes[known], frame["day"].to_numpy("int64")[known])
    latest_day = pd.Series(latest, index=day0.index)
    start = day0.to_numpy("int64")
    if extract_date is not None:
        cutoff = int((np.datetime64(extract_date, "D") - EPOCH).astype("int64"))
    elif len(start):
        cutoff = int((start + latest_day.to_numpy("int64")).max())
    else:
        cutoff = 0
    follow = np.maximum(cutoff - start, latest_day.to_numpy("int64"))
    computed = pd.Series(follow, index=day0.index.astype("string"), dtype="Int64")
    at = computed.reindex(patients["patient_id"].astype("string").to_numpy())
    given = patients.get("follow_up_days")
    values = pd.array(at.to_numpy(dtype=object, na_value=pd.NA), dtype="Int64")
    if given is not None:
        values = pd.Series(values, index=patients.index).fillna(given.astype("Int64")).array
    return patients.assign(follow_up_days=values)


def number_sessions(sessions: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
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


def _concat(parts: list[FilePart]) -> pd.DataFrame:
    frames = [p.frame for p in parts]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def place_on_day_axis(
    part: FilePart,
    day0: pd.Series,
    has_sessions: bool,
    sessions_dated,
    out: ProblemCollector,
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
    start = _day0_of_rows(f["patient_id"], day0)
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


def _day0_of_rows(ids: pd.Series, day0: pd.Series) -> pd.Series:
    """Each row's day 0 (its patient's entry of ``day0``, indexed by unique patient ids): what
    ``ids.map(day0)`` gives, the ids looked up once per run in Arrow
    (:class:`analytics.core.ids.PatientIndex`). NaN, and float, where a patient is absent."""
    at = PatientIndex(day0.index).positions(ids)
    values = day0.to_numpy()
    if (at < 0).any():
        # Position -1 picks the NaN appended after the days.
        values = np.append(values.astype(np.float64), np.nan)
    return pd.Series(values[at], index=ids.index, name=ids.name, copy=False)


def key_codes(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
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


def repeats_in_order(codes: pd.DataFrame) -> dict[str, np.ndarray] | None:
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


def dedupe(
    frame: pd.DataFrame, key: list[str], what: str, out: ProblemCollector, headers
) -> pd.DataFrame:
    """``frame`` without exact repeats (a WARNING per file), each repeat of ``key`` with other
    values an ERROR naming the first row; ``what`` says what the key is, in the message."""
    values = [c for c in frame.columns if c not in ("_row", "_file")]
    if frame.columns.is_unique:
        codes = key_codes(frame, key)
        in_order = repeats_in_order(codes)

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
    effects: pd.DataFrame, sessions: pd.DataFrame, headers, out: ProblemCollector
) -> pd.DataFrame:
    merged = session_numbers(effects, sessions)
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


def session_numbers(effects: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
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
    effect_ids = PatientIndex(uniques).positions(effects["patient_id"])
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
        frame = dedupe(
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
