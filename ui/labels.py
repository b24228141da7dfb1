"""What a person reads instead of a code: column titles, value words and rounded numbers.

Every table a page shows and every file it hands out goes through :func:`readable_table`, so a
clinic sees "Patient", "Latest day" and "Intention to treat" where the analytics say
``patient_id``, ``latest_day`` and ``itt``; rates as percentages rounded to one decimal next to
their k and n; scores to one decimal, effect sizes to two and p-values to three.

A column this module does not know keeps its raw name (the app never stops for a title), and
with ``strict=True`` (or :data:`STRICT`, which the tests turn on) it raises
:class:`UnlabelledColumnError`, so a new raw column is caught by the test that walks every table
and download rather than by a clinic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_float_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

__all__ = [
    "ACTION_LABELS",
    "COLUMN_LABELS",
    "POPULATION_LABELS",
    "STRICT",
    "UnlabelledColumnError",
    "VALUE_LABELS",
    "YES_NO",
    "column_title",
    "counted",
    "describe_audit_entry",
    "describe_import_options",
    "looks_raw",
    "readable_table",
    "value_label",
]

# Raise on an unknown column everywhere (the tests set it; the app leaves it off).
STRICT = False


class UnlabelledColumnError(KeyError):
    """A table about to be shown or downloaded has a column with no human title."""

    def __init__(self, column: str):
        self.column = column
        super().__init__(f"column {column!r} has no human title: add it to ui.labels.COLUMN_LABELS")

    def __str__(self) -> str:  # KeyError would quote the whole message again
        return self.args[0]


# --------------------------------------------------------------------------- column titles
# Titles that depend on the other columns (ci_low of a rate or of a mean, n with or without k)
# are worked out in column_title; these are the titles of every other column.
COLUMN_LABELS: dict[str, str] = {
    # patients, sessions, side effects
    "patient_id": "Patient",
    "day": "Day",
    "session_number": "Session",
    "route": "Route",
    "group": "Group",
    "effect": "Side effect",
    "severity": "Severity",
    "serious": "Serious",
    "dose_mg": "Dose (mg)",
    "dose_mg_per_kg": "Dose (mg/kg)",
    "bp_systolic_pre": "Systolic before (mmHg)",
    "bp_diastolic_pre": "Diastolic before (mmHg)",
    "bp_systolic_peak": "Systolic peak (mmHg)",
    "bp_diastolic_peak": "Diastolic peak (mmHg)",
    "dissociation_cadss": "CADSS",
    "sedation": "Sedation",
    "dissociation": "Dissociation",
    "clinician": "Clinician",
    "site": "Site",
    "phase": "Phase",
    # scores and timepoints
    "timepoint": "Timepoint",
    "target_day": "Target day",
    "x": "Weeks since first session",
    "measure": "Measure",
    "score": "Score",
    "change": "Change (points)",
    "baseline": "Baseline score",
    "latest_day": "Latest day",
    "latest_score": "Latest score",
    "sessions_before": "Sessions before the score",
    "sessions_given": "Sessions given",
    "flagged_by": "Flagged by",
    "rule": "Rule",
    "flag": "Note",
    "mean": "Mean",
    "sd": "SD",
    "mean_baseline": "Mean at baseline",
    "mean_timepoint": "Mean at timepoint",
    "mean_change": "Mean change (points)",
    "change_ci_low": "Change, 95% CI low (points)",
    "change_ci_high": "Change, 95% CI high (points)",
    "session_mean": "Mean of session means",
    # rates
    "k": "Patients (k)",
    "n": "Of (n)",
    "rate": "Rate (%)",
    "population": "Population",
    "itt": "Intention to treat",
    "not_yet_due": "Not yet due",
    "eligible": "Eligible",
    "patients": "Patients",
    "responders": "Responders",
    "response_rate": "Response (%)",
    "response_ci_low": "Response, 95% CI low (%)",
    "response_ci_high": "Response, 95% CI high (%)",
    "responders_itt": "Responders (intention to treat)",
    "response_itt_rate": "Response, intention to treat (%)",
    "response_itt_ci_low": "Response, intention to treat, 95% CI low (%)",
    "response_itt_ci_high": "Response, intention to treat, 95% CI high (%)",
    "small": "Too few patients",
    "level": "Counted per",
    "step": "Step",
    "band": "Session number",
    "n_sessions": "Sessions (n)",
    "n_patients": "Patients (n)",
    # time to event
    "time": "Day",
    "survival": "Kaplan-Meier estimate (%)",
    "at_risk": "At risk",
    "events": "Events",
    "censored": "Censored",
    # activity
    "year": "Year",
    "month": "Month",
    "new_starts": "New patients",
    "sessions": "Sessions",
    # claims
    "claim": "Claim",
    "t_statistic": "Paired t statistic",
    "p_value": "P value (t test)",
    "wilcoxon_statistic": "Wilcoxon statistic",
    "p_wilcoxon": "P value (Wilcoxon)",
    "still_responding": "Still responding",
    "still_responding_itt": "Still responding, intention to treat",
    "verdict": "Verdict",
    "sentence": "Summary",
    "scored_label": "Scored",
    "response_label": "Response",
    "response_itt_label": "Response, intention to treat",
    "change_label": "Change",
    "verdict_reason": "Reason",
    "still_responding_label": "Still responding",
    "still_responding_itt_label": "Still responding, intention to treat",
    # imports, conflicts, audit, users
    "batch_id": "Batch",
    "created_at": "When (UTC)",
    "username": "User",
    "kind": "Kind",
    "status": "Status",
    "files": "Files",
    "sha256": "File fingerprints (SHA-256, first 12)",
    "rows_added": "Rows added",
    "rows_unchanged": "Rows unchanged",
    "rows_conflicting": "Rows conflicting",
    "conflicts_pending": "Conflicts pending",
    "warnings": "Warnings",
    "added": "Added",
    "unchanged": "Unchanged",
    "conflicting": "Conflicting",
    "conflict_id": "Conflict",
    "table": "Table",
    "key": "Instrument or effect",
    "columns": "Differing columns",
    "column": "Column",
    "stored": "Stored value",
    "incoming": "Incoming value",
    "decision": "Decision",
    "id": "Entry",
    "at": "When (UTC)",
    "action": "Event",
    "detail": "Detail",
    "role": "Role",
    "last_login_at": "Last sign-in (UTC)",
    "failed_logins": "Failed sign-ins in a row",
    "locked_until": "Locked until (UTC)",
    "row": "Row",
    "value": "Value",
    "file": "File",
}

# Columns whose 0-1 fractions are shown as percentages (with the CI bounds worked out below).
_PERCENT = {"rate", "survival", "response_rate", "response_itt_rate"}
# Whole numbers: shown without decimals (a float column of counts, NaN aside, becomes Int64).
_COUNTS = {
    "k", "n", "eligible", "patients", "responders", "responders_itt", "at_risk", "events",
    "censored", "not_yet_due", "n_sessions", "n_patients", "sessions", "new_starts", "year",
    "month", "day", "time", "target_day", "latest_day", "session_number", "sessions_before",
    "sessions_given", "batch_id", "rows_added", "rows_unchanged", "rows_conflicting",
    "conflicts_pending", "warnings", "failed_logins", "conflict_id", "added", "unchanged",
    "conflicting", "bp_systolic_pre", "bp_diastolic_pre", "bp_systolic_peak",
    "bp_diastolic_peak", "id", "row", "low", "high",
}  # fmt: skip
# Decimals of the other numbers: effect sizes and doses per kg to 2, everything else to 1.
_DIGITS = {"t_statistic": 2, "dose_mg_per_kg": 2, "x": 2}
# p-values: three decimals, and "< 0.001" below that (a rounded 0.000 reads as impossible).
_P_VALUES = {"p_value", "p_wilcoxon"}

# --------------------------------------------------------------------------- value words
POPULATION_LABELS = {
    "observed": "Observed",
    "itt": "Intention to treat",
    "intention to treat": "Intention to treat",
}
YES_NO = {True: "Yes", False: "No"}
ACTION_LABELS = {
    "login": "Signed in",
    "login_failed": "Sign-in refused",
    "login_locked": "Sign-in refused while waiting after failed sign-ins",
    "login_unblocked": "Cleared the sign-in waits of a user",
    "logout": "Signed out",
    "session_expired": "Session expired",
    "session_resumed": "Signed in again (reload or new tab)",
    "import": "Imported",
    "import_refused": "Import refused",
    "conflicts_resolved": "Conflicts decided",
    "rollback": "Rolled back",
    "sample_loaded": "Sample loaded",
    "sample_cleared": "Sample cleared",
    "export": "Exported",
    "download": "Downloaded",
    "user_added": "User added",
    "user_removed": "User removed",
    "password_changed": "Password changed",
    "role_changed": "Role changed",
    "settings_changed": "Settings changed",
}
_BLOOD_PRESSURE = {
    "pre_dose_above": "Above the limit before the dose",
    "rise": "Rise during the session",
    "systolic_rise": "Systolic rise",
    "diastolic_rise": "Diastolic rise",
}
_TABLES = {
    "sessions": "Sessions",
    "assessments": "Assessments",
    "side_effects": "Side effects",
    "patients": "Patients",
}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "population": POPULATION_LABELS,
    "severity": {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"},
    "phase": {"induction": "Induction", "maintenance": "Maintenance"},
    "level": {"patient": "Patient", "session": "Session"},
    "measure": _BLOOD_PRESSURE,
    "kind": {
        "sample": "Sample",
        "import": "Import",
        "row": "One row",
        "patient": "Whole patient",
    },
    "status": {
        "active": "Active",
        "rolled_back": "Rolled back",
        "pending": "Pending",
        "replaced": "Replaced",
        "kept": "Kept",
    },
    "role": {"director": "Director", "clinician": "Clinician", "staff": "Staff"},
    "action": ACTION_LABELS,
    "table": _TABLES,
}
# Columns of codes: a code with no entry above is still written in words (underscores out).
_CODE_COLUMNS = {"route", "group", "step", "measure", "status", "kind", "action", "table"}


def _route_words(code: str) -> str:
    from charts.figures import route_label

    return route_label(code)


def _code_words(code: str) -> str:
    """``cluster_b`` -> "Cluster B", ``item_3`` -> "Item 3", ``completed_induction`` ->
    "Completed induction"."""
    found = re.fullmatch(r"cluster_([a-z])", code)
    if found:
        return f"Cluster {found.group(1).upper()}"
    found = re.fullmatch(r"item_(\d+)", code)
    if found:
        return f"Item {found.group(1)}"
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def value_label(column: str, value: Any) -> Any:
    """A cell in words: a code of ``column`` by its label, True/False as Yes/No.

    Values that are not codes (numbers, free text, missing) come back unchanged.

    Examples
    --------
    >>> value_label("population", "itt")
    'Intention to treat'
    >>> value_label("route", "esketamine_nasal")
    'Esketamine nasal spray (Spravato)'
    >>> value_label("serious", True)
    'Yes'
    """
    if isinstance(value, (bool, np.bool_)):
        return YES_NO[bool(value)]
    if not isinstance(value, str):
        return value
    if column in ("route", "group"):
        from analytics.ingest.vocabularies import ROUTES

        if value in ROUTES:
            return _route_words(value)
        # "all routes" beside "IV ketamine": words, capitalised like the others
        return value[:1].upper() + value[1:] if value[:1].islower() else value
    known = VALUE_LABELS.get(column, {})
    if value in known:
        return known[value]
    if column in _CODE_COLUMNS and re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", value):
        return _code_words(value)  # "started" -> "Started", "completed_induction" -> ...
    return value


# --------------------------------------------------------------------------- titles
def looks_raw(title: Any) -> bool:
    """True when a column title reads like a code: snake_case, all lower case, or a known code.

    Examples
    --------
    >>> [looks_raw(t) for t in ("latest_day", "itt", "n", "Latest day", "95% CI low (%)")]
    [True, True, True, False, False]
    """
    text = str(title)
    if "_" in text or text in COLUMN_LABELS and text not in COLUMN_LABELS.values():
        return True
    return text == text.lower() and any(c.isalpha() for c in text)


def _is_percent(column: str, columns: Iterable[str]) -> bool:
    """Whether ``column`` holds 0-1 fractions: a rate, a survival estimate, or the CI bound
    of one (``ci_low`` beside ``rate``, ``response_ci_low`` beside ``response_rate``)."""
    columns = set(columns)
    if column in _PERCENT:
        return True
    found = re.fullmatch(r"(.*?)_?ci_(low|high)", column)
    if not found:
        return False
    stem = found.group(1)
    if not stem:
        return bool({"rate", "survival"} & columns)
    return f"{stem}_rate" in columns


def column_title(
    column: str, columns: Iterable[str] = (), labels: Mapping[str, str] | None = None
) -> str | None:
    """The title of ``column`` in a table with ``columns``, or None when it has none.

    ``ci_low``/``ci_high`` read "95% CI low (%)" beside a rate and "95% CI low" beside a
    mean; ``n`` reads "Of (n)" beside ``k`` and "Patients (n)" without it; ``label`` names a
    timepoint unless another column does. ``labels`` wins over all of them (a page that knows
    what its survival curve estimates, for one).
    """
    columns = list(columns)
    if labels and column in labels:
        return labels[column]
    if column in ("ci_low", "ci_high"):
        end = column.removeprefix("ci_")
        return f"95% CI {end} (%)" if _is_percent(column, columns) else f"95% CI {end}"
    if column == "n" and "k" not in columns:
        return "Patients (n)"
    if column == "k" and "level" in columns:
        return "Count (k)"
    if column == "label":
        return "Description" if {"timepoint", "step", "measure"} & set(columns) else "Timepoint"
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if not looks_raw(column):
        return str(column)  # already a title ("What is wrong", "Example rows")
    return None


# --------------------------------------------------------------------------- numbers
def _p_text(value: Any) -> Any:
    if value is None or pd.isna(value):
        return None
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _readable_numbers(column: str, series: pd.Series, columns: list[str]) -> pd.Series:
    if is_bool_dtype(series) or not is_numeric_dtype(series):
        return series
    if column in _P_VALUES:
        return series.map(_p_text).astype(object)
    if _is_percent(column, columns):
        return (series.astype(float) * 100).round(1)
    if column in _COUNTS:
        whole = series.dropna()
        if is_float_dtype(series) and not np.allclose(whole, whole.round()):
            return series.round(1)
        return series.round().astype("Int64")
    if is_float_dtype(series):
        return series.round(_DIGITS.get(column, 1))
    return series


def readable_table(
    frame: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    strict: bool | None = None,
) -> pd.DataFrame:
    """The table as a person reads it: human column titles, codes in words, numbers rounded.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from the analytics or the store, with its own column names. Not changed.
    labels : mapping, optional
        Titles for this table that win over :data:`COLUMN_LABELS`.
    strict : bool, optional
        Raise :class:`UnlabelledColumnError` for a column with no title (default
        :data:`STRICT`). Not strict, the column keeps its raw name.

    Returns
    -------
    pandas.DataFrame
        A new frame with the index reset. Rates, survival estimates and their CI bounds (0-1
        fractions) are percentages to one decimal; counts are whole numbers (``Int64``, so a
        missing count stays missing); p-values are text to three decimals ("< 0.001");
        effect sizes and doses per kg have two decimals and other numbers one. Codes
        (routes, populations, severities, events, ...) are words and True/False are Yes/No.

    Raises
    ------
    UnlabelledColumnError
        With ``strict``, for the first column with no title.

    Examples
    --------
    >>> frame = pd.DataFrame({"population": ["itt"], "k": [51], "n": [227], "rate": [0.22467]})
    >>> readable_table(frame).to_dict("records")
    [{'Population': 'Intention to treat', 'Patients (k)': 51, 'Of (n)': 227, 'Rate (%)': 22.5}]
    """
    strict = STRICT if strict is None else strict
    columns = [str(c) for c in frame.columns]
    out = {}
    titles = []
    for position, column in enumerate(columns):
        title = column_title(column, columns, labels)
        if title is None:
            if strict:
                raise UnlabelledColumnError(column)
            title = column
        series = frame.iloc[:, position].reset_index(drop=True)
        if is_object_dtype(series) or is_string_dtype(series) or is_bool_dtype(series):
            series = series.map(lambda v, c=column: value_label(c, v))
        out[position] = _readable_numbers(column, series, columns)
        titles.append(title)
    table = pd.DataFrame(out)
    table.columns = titles
    return table


# --------------------------------------------------------------------------- sentences
def _files(value: Any) -> str:
    """ "3 files", or the name of the only one: the names of a batch are on Import history."""
    names = list(value) if isinstance(value, (list, tuple)) else [value]
    return str(names[0]) if len(names) == 1 else f"{len(names)} files"


def counted(n: Any, word: str) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1: "1 file", "2,315 sessions"."""
    try:
        count = int(n)
    except (TypeError, ValueError):
        return f"{n} {word}s"
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _detail_words(detail: Mapping[str, Any]) -> str:
    """Any other detail as "key: value" in words."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, bool):
            value = YES_NO[value].lower()
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) or "none"
        parts.append(f"{str(key).replace('_', ' ')}: {value}")
    return "; ".join(parts)


def describe_audit_entry(action: str, detail: Mapping[str, Any] | None) -> str:
    """One audit entry as a sentence: "Downloaded outcomes.csv (250 rows)".

    Examples
    --------
    >>> describe_audit_entry("download", {"file": "outcomes.csv", "rows": 250})
    'Downloaded outcomes.csv (250 rows)'
    >>> describe_audit_entry("role_changed", {"username": "ana", "from": "staff", "to": "clinician"})
    'Changed the role of ana from staff to clinician'
    """
    d = dict(detail or {})
    user = d.get("username")
    batch = f"batch {d['batch_id']}" if "batch_id" in d else "a batch"
    if action == "download":
        return f"Downloaded {d.get('file', 'a file')} ({counted(d.get('rows', 0), 'row')})"
    if action in ("import", "sample_loaded"):
        verb = "Imported" if action == "import" else "Loaded the sample:"
        text = f"{verb} {_files(d.get('files', []))} as {batch}"
        text += f": {counted(d.get('rows_added', 0), 'row')} added"
        if d.get("rows_unchanged"):
            text += f", {d['rows_unchanged']:,} already stored"
        if d.get("conflicts"):
            text += f", {counted(d['conflicts'], 'conflict')} to decide"
        return text
    if action == "import_refused":
        return (
            f"Refused an import of {_files(d.get('files', []))}: "
            f"{counted(d.get('errors', 0), 'problem')} to fix"
        )
    if action == "sample_cleared":
        why = " (replaced by the first import)" if d.get("reason") == "first import" else ""
        return f"Removed the sample data ({batch}){why}"
    if action == "conflicts_resolved":
        return (
            f"Decided the conflicts of {batch}: {d.get('replaced', 0):,} replaced, "
            f"{d.get('kept', 0):,} kept"
        )
    if action == "rollback":
        return f"Rolled back {batch}: {counted(d.get('rows_removed', 0), 'row')} removed"
    if action == "user_added":
        first = " at first start" if d.get("first_start") else ""
        return f"Added {user} as {d.get('role', 'a user')}{first}"
    if action == "user_removed":
        return f"Removed {user}"
    if action == "password_changed":
        return f"Set a new password for {user}"
    if action == "role_changed":
        return f"Changed the role of {user} from {d.get('from')} to {d.get('to')}"
    if action == "login":
        return "Signed in" + (" through the clinic's identity provider" if d.get("method") else "")
    if action == "login_failed":
        if "consecutive_failures" in d:
            return f"Wrong password ({counted(d['consecutive_failures'], 'failure')} in a row)"
        if d.get("method") == "oidc":
            return "Signed in through the identity provider with an account that has no role"
        return "Sign-in with an unknown user name"
    if action == "login_locked":
        return "Sign-in refused: this name was waiting after failed sign-ins from that address"
    if action == "settings_changed":
        if d.get("reset"):
            return "Reset the settings to their defaults"
        changed = d.get("changed") or []
        what = ", ".join(str(c).replace("_", " ") for c in changed) or "nothing"
        return f"Changed the settings: {what}"
    label = ACTION_LABELS.get(action, _code_words(str(action)))
    rest = _detail_words(d)
    return f"{label}: {rest}" if rest else label


_OPTION_WORDS = {
    "keep_month": "Kept month",
    "prorate": "Prorated totals",
    "drop_phi": "Dropped identifying columns",
    "max_bytes": "Largest file allowed",
    "default_instrument": "Instrument when none is named",
    "problem_limit": "Problems listed per rule",
    "raise_unexpected": "Stopped on an unexpected error",
    "date_order": "Date order",
    "today": "Import day",
    "extract_date": "Day the export was taken",
}
# Options of the importer itself, not of the clinic's choosing, at their defaults; the import
# day is the batch's own date.
_UNSHOWN_DEFAULTS = {"problem_limit": 20, "raise_unexpected": False, "today": None}
_DATE_ORDERS = {"dmy": "day first", "mdy": "month first", "ymd": "year first"}


def describe_import_options(options: Mapping[str, Any] | None) -> list[str]:
    """The options of a stored batch in words: ["Kept month: no", "Date order: day first", ...].

    Examples
    --------
    >>> describe_import_options({"keep_month": False, "max_bytes": None, "date_order": "dmy"})
    ['Kept month: no', 'Largest file allowed: no limit', 'Date order: day first']
    """
    out = []
    for key, value in (options or {}).items():
        if key in _UNSHOWN_DEFAULTS and value == _UNSHOWN_DEFAULTS[key]:
            continue  # a safeguard nobody chose: said only when it was changed
        name = _OPTION_WORDS.get(key, _code_words(str(key)))
        if isinstance(value, bool):
            text = YES_NO[value].lower()
        elif key == "max_bytes":
            text = "no limit" if value is None else f"{int(value) / 1e6:,.0f} MB"
        elif key == "date_order":
            text = _DATE_ORDERS.get(value, "certain from the files" if value is None else value)
        elif value is None:
            text = "not given"
        else:
            text = str(value)
        out.append(f"{name}: {text}")
    return out
