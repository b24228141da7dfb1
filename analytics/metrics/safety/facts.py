"""Each patient's safety facts, worked out once per clinic: the rows every safety number adds up.

:func:`safety_facts` contributes to the per-patient table (:mod:`analytics.core.patient_table`):

* per patient (columns prefixed ``safety_``; the sessions given are the table's
  ``count_session_rows``): whether the patient is known to be older (the pre-dose limit),
  and for each blood-pressure measure and each session yes/no field the sessions where it was recorded and where it was "yes";
  the sessions with a CADSS score and the patient's mean CADSS at session 1 and at the late
  sessions (for the paired comparison);
* ``safety_sessions``: one row per session (group codes, blood pressure, CADSS, yes/no fields);
* ``safety_reports``: the side-effect reports matched to a session, one row per distinct
  (session, effect, severity, serious);
* ``safety_effects``: per patient and reported effect, the sessions with it;
* ``safety_groups`` and ``safety_group_effects``: the same counts per patient in each group of
  each session grouping (route, site, clinician, phase, session band, dose band), so a grouped
  rate adds up one row per patient and group, not every session;
* ``safety_cadss_bands``: per patient and session band, the patient's CADSS mean;
* ``safety_serious``: every report marked serious.

What depends on the cohort (which groups are present, distinct patients per group, ranks for
Spearman's rho, t intervals) is computed by the aggregators from these rows. Text is kept as
integer codes with their labels in ``meta`` (JSON), so the table is plain Parquet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.ids import PatientIndex, factorize_ids, id_text, text_of
from analytics.core.patient_table import Facts, PatientTable
from analytics.metrics.safety.settings import (
    BP_MEASURES,
    ESKETAMINE,
    NOT_RECORDED,
    SESSION_FLAGS,
    SafetySettings,
    check_edges,
    mg_per_kg_labels,
    older_patients,
    session_band_labels,
)

__all__ = [
    "SERIOUS_GROUPS",
    "dose_band_codes",
    "patient_ids_of",
    "safety_facts",
    "session_groupings",
    "safety_table",
    "settings_of",
    "text_columns",
]

# Group labels of a report's ``serious`` field, by code (0, 1, 2).
SERIOUS_GROUPS = ["serious", "not serious", NOT_RECORDED]
# Days lie within +-2**31 of day 0: one int64 key per (patient code, day).
_DAY_SPAN = 1 << 32
_DAY_OFFSET = 1 << 31


def _per_patient(codes: np.ndarray, size: int, weights=None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=size)


def _small_codes(codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Integer codes in the narrowest signed type that holds ``-1 .. n_labels``."""
    for dtype in ("int8", "int16", "int32"):
        if n_labels < np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes.astype("int64")


def _narrow(values: np.ndarray) -> np.ndarray:
    """Integers in int32 when they fit (else int64)."""
    fits = not len(values) or (
        values.min() >= np.iinfo("int32").min and values.max() <= np.iinfo("int32").max
    )
    return values.astype("int32" if fits else "int64")


def _boolean(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """A nullable boolean array: ``values`` where ``known``, NA elsewhere."""
    return pd.arrays.BooleanArray(values & known, ~known)


def text_columns(sessions: pd.DataFrame) -> list[str]:
    """The session columns kept as group codes: every text column but ``patient_id``."""
    return [
        c
        for c in sessions.columns
        if c != "patient_id" and isinstance(sessions[c].dtype, pd.StringDtype)
    ]


def dose_band_codes(sessions: pd.DataFrame, mg_per_kg_edges) -> tuple[np.ndarray, list[str]]:
    """:func:`~analytics.metrics.safety.settings.dose_band` as integer codes and their labels.

    The labels are the mg/kg bands in order, the esketamine doses in order of mg, then
    ``"not recorded"``; computed on numbers, without a string per session.
    """
    check_edges(mg_per_kg_edges, "mg_per_kg_edges")
    edges = np.asarray([float(e) for e in mg_per_kg_edges])
    kg_labels = mg_per_kg_labels(mg_per_kg_edges)
    per_kg = pd.to_numeric(sessions["dose_mg_per_kg"], errors="coerce").to_numpy("float64")
    mg = pd.to_numeric(sessions["dose_mg"], errors="coerce").to_numpy("float64")
    esketamine = (sessions["route"] == ESKETAMINE).fillna(False).to_numpy(bool)
    # pd.cut(bins=[-inf, *edges, inf], right=False): +inf and NaN fall in no band
    with np.errstate(invalid="ignore"):
        in_band = ~np.isnan(per_kg) & (per_kg != np.inf)
    kg_code = np.searchsorted(edges, np.where(in_band, per_kg, 0.0), side="right")
    doses = np.unique(mg[esketamine & ~np.isnan(mg)])
    dose_labels = list(dict.fromkeys(f"esketamine {v:g} mg" for v in doses))
    labels = [*kg_labels, *dose_labels, NOT_RECORDED]
    at_label = {label: i for i, label in enumerate(labels)}
    dose_code = np.array([at_label[f"esketamine {v:g} mg"] for v in doses], dtype="int64")
    codes = np.where(in_band, kg_code, len(labels) - 1)
    if len(doses):
        known_mg = esketamine & ~np.isnan(mg)
        mg_code = dose_code[np.searchsorted(doses, np.where(known_mg, mg, doses[0]))]
        codes = np.where(esketamine, np.where(known_mg, mg_code, len(labels) - 1), codes)
    else:
        codes = np.where(esketamine, len(labels) - 1, codes)
    return _small_codes(codes, len(labels)), labels


def _first_of(*keys: np.ndarray) -> np.ndarray:
    """Whether each row is the first of its run of equal ``keys`` (rows sorted by them)."""
    n = len(keys[0])
    first = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for key in keys:
            same &= key[1:] == key[:-1]
        first[1:] = ~same
    return first


def safety_facts(
    data: ClinicData,
    definitions,
    index: PatientIndex,
    *,
    settings: SafetySettings | None = None,
) -> Facts:
    """Each patient's safety facts (see the module docstring for every column and table).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions or None
        Not used: accepted so that every metric module's builder has one signature. Safety has
        its own :class:`~analytics.metrics.safety.settings.SafetySettings`.
    index : PatientIndex
        The patients, sorted by id (:func:`analytics.core.patient_table.patient_index`).
    settings : SafetySettings, optional
        Bands and blood-pressure thresholds (defaults when None); kept in ``meta``.

    Returns
    -------
    Facts
        Sessions, reports and serious events of patients not in ``index`` are left out (the
        contract has every id in ``patients``).
    """
    settings = settings or SafetySettings()
    size = len(index)
    s = data.sessions
    codes = index.positions(s["patient_id"])
    if not (codes >= 0).all():
        s = s[codes >= 0].reset_index(drop=True)
        codes = codes[codes >= 0]
    codes = codes.astype("int64")
    day = s["day"].to_numpy("int64")
    number = s["session_number"].to_numpy("int64")

    # narrow types where the values fit: the table is kept in memory and on disk
    sessions = pd.DataFrame({"code": codes, "day": _narrow(day), "session_number": _narrow(number)})
    text_labels: dict[str, list[str]] = {}
    for column in text_columns(s):
        values, uniques = factorize_ids(s[column], sort=True)
        sessions[f"{column}_code"] = _small_codes(np.asarray(values), len(uniques))
        text_labels[column] = [str(u) for u in uniques]

    # session-number bands: band i holds [edges[i], edges[i+1]); below the first edge is
    # "not recorded", the last label
    edges = np.asarray(settings.session_band_edges, dtype="float64")
    band_labels = [*session_band_labels(settings.session_band_edges), NOT_RECORDED]
    band = np.searchsorted(edges, number.astype("float64"), side="right") - 1
    band = np.where(band < 0, len(band_labels) - 1, band)
    sessions["band"] = _small_codes(band, len(band_labels))
    dose, dose_labels = dose_band_codes(s, settings.mg_per_kg_edges)
    sessions["dose_band"] = dose

    # blood pressure: the readings and each measure's flag (NA when a reading it needs is
    # missing); the pre-dose systolic limit depends on whether the patient is known to be older
    bp = settings.bp
    people = data.patients.drop_duplicates("patient_id")
    at = index.positions(people["patient_id"])
    older = np.zeros(size, dtype=bool)
    older[at[at >= 0]] = older_patients(people, older_age=bp.older_age).to_numpy(bool)[at >= 0]
    readings = {}
    for column in ("bp_systolic_pre", "bp_diastolic_pre", "bp_systolic_peak", "bp_diastolic_peak"):
        readings[column] = s[column].to_numpy("float64")
        sessions[column] = readings[column]
    sp, dp = readings["bp_systolic_pre"], readings["bp_diastolic_pre"]
    sk, dk = readings["bp_systolic_peak"], readings["bp_diastolic_peak"]
    limit = np.where(older[codes], bp.systolic_pre_max_older, bp.systolic_pre_max)
    with np.errstate(invalid="ignore"):
        systolic_rise, diastolic_rise = sk - sp, dk - dp
        above = (sp > limit) | (dp > bp.diastolic_pre_max)
        sys_flag = systolic_rise >= bp.rise_systolic
        dia_flag = diastolic_rise >= bp.rise_diastolic
    sys_known, dia_known = ~np.isnan(systolic_rise), ~np.isnan(diastolic_rise)
    flags = {
        "pre_dose_above": (above, ~np.isnan(sp) & ~np.isnan(dp)),
        "rise_flag": (sys_flag | dia_flag, sys_known & dia_known),
        "systolic_rise_flag": (sys_flag, sys_known),
        "diastolic_rise_flag": (dia_flag, dia_known),
    }
    patients = {
        "safety_bp_older": older,
    }
    for measure, column in BP_MEASURES.items():
        yes, known = flags[column]
        sessions[column] = _boolean(yes, known)
        patients[f"safety_bp_{measure}_sessions"] = _count(codes, yes & known, size)
        patients[f"safety_bp_{measure}_recorded"] = _count(codes, known, size)

    # the sessions' own yes/no fields (REMS monitoring), never merged with reports
    for column, code in SESSION_FLAGS.items():
        flag = pd.array(s[column], dtype="boolean")
        known = ~np.asarray(flag.isna(), dtype=bool)
        yes = known & np.asarray(flag.fillna(False), dtype=bool)
        sessions[column] = _boolean(yes, known)
        patients[f"safety_{code}_sessions"] = _count(codes, yes, size)
        patients[f"safety_{code}_recorded"] = _count(codes, known, size)

    # CADSS, with each score's position among the clinic's distinct scores: ranks for any
    # cohort follow from counts of these codes (ties share a code)
    cadss = pd.to_numeric(s["dissociation_cadss"], errors="coerce").to_numpy("float64")
    scored = ~np.isnan(cadss)
    value_code = np.full(len(cadss), -1, dtype="int64")
    if scored.any():
        value_code[scored] = np.unique(cadss[scored], return_inverse=True)[1]
    sessions["cadss"] = cadss
    sessions["cadss_value_code"] = _narrow(value_code)
    patients["safety_cadss_sessions"] = _count(codes, scored, size)
    for name, at_session in (
        ("safety_cadss_first", scored & (number == 1)),
        ("safety_cadss_late", scored & (number >= settings.late_session)),
    ):
        n = _per_patient(codes[at_session], size)
        total = _per_patient(codes[at_session], size, cadss[at_session])
        with np.errstate(invalid="ignore", divide="ignore"):
            patients[name] = np.where(n > 0, total / np.where(n > 0, n, 1), np.nan)
    cadss_bands = _cadss_bands(codes[scored], band[scored], cadss[scored], size)

    reports, effects, effect_names, severities = _reports(data, index, codes, day)
    serious = _serious(data, index, codes, day, s)
    meta = {
        "safety_settings": settings.to_dict(),
        "safety_effect_names": effect_names,
        "safety_severities": severities,
        "safety_session_text": text_labels,
        "safety_session_bands": band_labels,
        "safety_dose_bands": dose_labels,
        "safety_patient_columns": [c for c in data.patients.columns if c != "patient_id"],
    }
    groupings = session_groupings(sessions, meta)
    meta["safety_session_groupings"] = [
        {"name": name, "labels": list(labels)} for name, _, labels in groupings
    ]
    groups, group_effects = _group_facts(
        sessions, reports, groupings, max(len(effect_names), 1), size
    )
    return Facts(
        patients=pd.DataFrame(patients),
        long={
            "safety_sessions": sessions,
            "safety_reports": reports,
            "safety_effects": effects,
            "safety_groups": groups,
            "safety_group_effects": group_effects,
            "safety_cadss_bands": cadss_bands,
            "safety_serious": serious,
        },
        meta=meta,
    )


def _count(codes: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    return _per_patient(codes[mask], size).astype("int64")


def _with_not_recorded(codes: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Codes with a missing value (-1) as the group "not recorded" (appended when absent)."""
    labels = list(labels)
    if NOT_RECORDED not in labels:
        labels.append(NOT_RECORDED)
    return np.where(codes < 0, labels.index(NOT_RECORDED), codes), labels


def session_groupings(sessions: pd.DataFrame, meta: dict) -> list[tuple[str, np.ndarray, list]]:
    """Each grouping that is a property of the session: its name, every session's group code
    (a missing value is the group "not recorded") and the group labels.

    ``sessions`` is the ``safety_sessions`` long table and ``meta`` the facts' meta: the text
    columns in their order, then ``session_band`` and ``dose_band``.
    """
    out = []
    for column, labels in meta["safety_session_text"].items():
        codes, labels = _with_not_recorded(sessions[f"{column}_code"].to_numpy("int64"), labels)
        out.append((column, codes, labels))
    out.append(("session_band", sessions["band"].to_numpy("int64"), meta["safety_session_bands"]))
    out.append(("dose_band", sessions["dose_band"].to_numpy("int64"), meta["safety_dose_bands"]))
    return out


def _sum_runs(values: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if not len(starts):
        return np.zeros(0, dtype="int64")
    return np.add.reduceat(values[order].astype("int64"), starts)


def _group_facts(sessions, reports, groupings, n_effects, size):
    """Per (grouping, group, patient): sessions and the session yes/no fields' counts; per
    (grouping, group, patient, effect): sessions with the effect reported.

    A session grouping's rates for any cohort add these rows up: each row is one patient in
    one group, so distinct patients are row counts (no session rows to read).
    """
    codes = sessions["code"].to_numpy()
    flags = {}
    for column, code in SESSION_FLAGS.items():
        flag = sessions[column].array
        known = ~np.asarray(flag.isna(), dtype=bool)
        flags[code] = (known & flag.to_numpy(dtype=bool, na_value=False), known)
    chosen = reports["first_of_effect"].to_numpy()
    r_session = reports["session"].to_numpy()[chosen]
    r_effect = reports["effect"].to_numpy("int64")[chosen]
    r_code = reports["code"].to_numpy()[chosen]
    parts, effect_parts = [], []
    for at, (_, group, labels) in enumerate(groupings):
        width = max(len(labels), 1)
        key = codes * width + group
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(_first_of(sorted_key)) if len(key) else np.zeros(0, "int64")
        part = pd.DataFrame(
            {
                "grouping": np.full(len(starts), at, dtype="int8"),
                "group": (sorted_key[starts] % width).astype("int32"),
                "code": (sorted_key[starts] // width).astype("int64"),
                "sessions": np.diff(np.append(starts, len(key))).astype("int32"),
            }
        )
        for code, (yes, known) in flags.items():
            part[f"{code}_sessions"] = _sum_runs(yes, order, starts).astype("int32")
            part[f"{code}_recorded"] = _sum_runs(known, order, starts).astype("int32")
        parts.append(part)
        keys = (r_code * width + group[r_session]) * n_effects + r_effect
        distinct, counts = np.unique(keys, return_counts=True)
        effect_parts.append(
            pd.DataFrame(
                {
                    "grouping": np.full(len(distinct), at, dtype="int8"),
                    "group": (distinct // n_effects % width).astype("int32"),
                    "code": (distinct // n_effects // width).astype("int64"),
                    "effect": (distinct % n_effects).astype("int32"),
                    "sessions": counts.astype("int32"),
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True),
        pd.concat(effect_parts, ignore_index=True),
    )


def _cadss_bands(codes, band, cadss, size) -> pd.DataFrame:
    """Per (session band, patient): the patient's CADSS sessions, sum and mean in that band."""
    keys = band.astype("int64") * max(size, 1) + codes
    distinct, at, n = np.unique(keys, return_inverse=True, return_counts=True)
    total = np.bincount(at, weights=cadss, minlength=len(distinct))
    return pd.DataFrame(
        {
            "code": (distinct % max(size, 1)).astype("int64"),
            "band": (distinct // max(size, 1)).astype("int8"),
            "sessions": n.astype("int64"),
            "total": total,
            "mean": total / n,
        }
    )


def _session_rows(codes, day, e_codes, e_day) -> np.ndarray:
    """The row in the sessions of each report's (patient, day); -1 when none matches."""
    keys = codes * _DAY_SPAN + (day + _DAY_OFFSET)
    order = np.arange(len(keys))
    if len(keys) and not np.all(keys[1:] >= keys[:-1]):
        order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = e_codes * _DAY_SPAN + (e_day + _DAY_OFFSET)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), max(len(keys) - 1, 0))
    if not len(keys):
        return np.full(len(wanted), -1, dtype="int64")
    found = (e_codes >= 0) & (sorted_keys[at] == wanted)
    return np.where(found, order[at], -1).astype("int64")


def _reports(data: ClinicData, index: PatientIndex, codes, day):
    """The reports matched to a session, their per-patient counts, effect names, severities."""
    e = data.side_effects
    e = e.loc[e["effect"].notna()]
    e_codes = index.positions(e["patient_id"]).astype("int64")
    session = _session_rows(codes, day, e_codes, e["day"].to_numpy("int64"))
    matched = session >= 0
    e = e[matched]
    effect, names = pd.factorize(e["effect"].astype("string").to_numpy(dtype=object), sort=True)
    severity_text = e["severity"].astype("string").fillna(NOT_RECORDED)
    severity, severities = pd.factorize(severity_text.to_numpy(dtype=object), sort=True)
    serious_flag = pd.array(e["serious"], dtype="boolean")
    serious = np.where(
        np.asarray(serious_flag.isna(), dtype=bool),
        2,
        np.where(np.asarray(serious_flag.fillna(False), dtype=bool), 0, 1),
    )
    frame = pd.DataFrame(
        {
            "code": e_codes[matched],
            "session": session[matched],
            "effect": effect.astype("int32"),
            "severity": severity.astype("int16"),
            "serious": serious.astype("int8"),
        }
    )
    # one row per distinct (session, effect, severity, serious): a report entered twice
    # counts once
    order = np.lexsort((frame["serious"], frame["severity"], frame["effect"], frame["session"]))
    frame = frame.take(order).reset_index(drop=True)
    cols = [frame[c].to_numpy() for c in ("session", "effect", "severity", "serious")]
    frame = frame[_first_of(*cols)].reset_index(drop=True)
    # the first row of each (session, effect) and of each (session, effect, group): the rows
    # a count at each grouping takes (all rows of a session belong to one patient, so this
    # does not depend on the cohort)
    session_, effect_ = frame["session"].to_numpy(), frame["effect"].to_numpy()
    frame["first_of_effect"] = _first_of(session_, effect_)
    frame["first_of_severity"] = _first_of(session_, effect_, frame["severity"].to_numpy())
    frame["first_of_serious"] = ~frame.duplicated(["session", "effect", "serious"]).to_numpy()

    per_patient = frame[frame["first_of_effect"]]
    n_effects = max(len(names), 1)
    keys = per_patient["code"].to_numpy() * n_effects + per_patient["effect"].to_numpy()
    distinct, counts = np.unique(keys, return_counts=True)
    effects = pd.DataFrame(
        {
            "code": (distinct // n_effects).astype("int64"),
            "effect": (distinct % n_effects).astype("int32"),
            "sessions": counts.astype("int64"),
        }
    )
    return frame, effects, [str(n) for n in names], [str(v) for v in severities]


def _serious(data: ClinicData, index: PatientIndex, codes, day, s) -> pd.DataFrame:
    """Every report marked serious (matched to a session or not), by patient, day, effect."""
    e = data.side_effects
    e = e.loc[e["serious"].astype("boolean").fillna(False).to_numpy(bool)]
    e_codes = index.positions(e["patient_id"]).astype("int64")
    e = e[e_codes >= 0]
    e_codes = e_codes[e_codes >= 0]
    e_day = e["day"].to_numpy("int64")
    session = _session_rows(codes, day, e_codes, e_day)
    route = pd.array(s["route"], dtype="string")
    route = route.take(session, allow_fill=True) if len(session) else route[:0]
    effect = e["effect"].astype("string")
    effect_code, _ = pd.factorize(effect.to_numpy(dtype=object), sort=True)
    effect_code = np.where(effect_code < 0, np.iinfo("int64").max, effect_code)
    order = np.lexsort((effect_code, e_day, e_codes))
    out = pd.DataFrame(
        {
            "code": e_codes,
            "day": e_day,
            "session_number": e["session_number"].to_numpy("int64"),
            "route": route,
            "effect": effect.array,
            "severity": e["severity"].astype("string").array,
        }
    )
    return out.take(order).reset_index(drop=True)


def settings_of(table: PatientTable) -> SafetySettings:
    """The safety settings the table's facts were worked out with."""
    return SafetySettings.from_dict(table.meta["safety_settings"])


def patient_ids_of(table: PatientTable, codes: np.ndarray):
    """The patient ids of ``codes`` as a pandas ``string`` array (taken in Arrow)."""
    return text_of(id_text(table.index.ids), codes)


def safety_table(data: ClinicData, settings: SafetySettings | None = None) -> PatientTable:
    """A per-patient table of ``data`` with the patients' own columns and the safety facts.

    The ``(data)`` functions of this package run their ``_from`` aggregation on it for every
    patient, so there is one way each number is computed.
    """

    def build(clinic, definitions, index):
        return safety_facts(clinic, definitions, index, settings=settings)

    return PatientTable.of(data, None, build)
