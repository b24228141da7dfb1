"""Side-effect rates per patient and per session, and the sessions' own yes/no fields.

Counting rules:

* **Per patient**: patients with at least one report / patients with at least one session. This
  is what the SPRAVATO label reports. A patient with sessions but no side effects is in every
  per-patient denominator.
* **Per session**: sessions with the effect / sessions given. Two rows of the same effect at one
  session count once.
* The two are never mixed: each row of a result says its ``level``.
* A side-effect row that matches no session is ignored (the importer rejects such rows, so this
  only matters for hand-built data).
* The sessions' own ``sedation`` and ``dissociation`` yes/no fields (the REMS monitoring form)
  are **not** merged with effect reports: they have a different denominator (sessions where the
  field was recorded) and a clinic may record both. They are separate rows with the codes
  ``sedation_flag`` and ``dissociation_flag``, and their own labels ("Dissociation at the
  session (REMS yes/no)" beside "Dissociation (reported side effect)").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.patient_table import PatientTable
from analytics.metrics.safety.facts import safety_table, settings_of
from analytics.metrics.safety.grouping import (
    distinct_per_group,
    first_rates,
    group_rows,
    grouping_of,
    level_rows,
    rate_frame,
)
from analytics.metrics.safety.settings import (
    ALL,
    FLAG_LABELS,
    PATIENT,
    SESSION,
    SESSION_FLAGS,
    SafetySettings,
    effect_label,
    order_groups,
)

__all__ = [
    "effect_rates",
    "effect_rates_from",
    "side_effect_entries",
    "side_effect_summary",
    "side_effect_summary_from",
]


def effect_rates_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions=None,
    *,
    by: str | None = None,
    session_flags: bool = True,
) -> pd.DataFrame:
    """Per-patient and per-session rates of every side effect seen in the cohort ``keep``.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table (with :func:`~analytics.metrics.safety.safety_facts`).
    keep : numpy.ndarray of bool
        The cohort: one flag per patient of ``table`` (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions, optional
        Not used (safety's settings are the table's); accepted for one signature.
    by : str, optional
        Grouping: ``"route"`` (the session's), ``"first_route"``, ``"dose_band"``,
        ``"session_band"``, ``"severity"``, ``"serious"``, a text column of the sessions
        (``site``, ``clinician``, ``phase``) or a column of ``patients.csv``.
    session_flags : bool
        Add the sessions' ``sedation``/``dissociation`` yes/no fields as the effects
        ``sedation_flag`` and ``dissociation_flag`` (denominators: sessions where the field was
        recorded, and patients with at least one such session). Not available with
        ``by="severity"`` or ``by="serious"``.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``effect``, ``group`` (only with ``by``), ``level`` (``"patient"`` or
        ``"session"``), ``k``, ``n``, ``rate``, ``ci_low``, ``ci_high``. Effects are listed
        when seen at least once (an effect nobody reported has no row); with ``by`` every group
        is listed for every effect, with k = 0 where the effect was not seen in that group.
        Effects are ordered by how many patients reported them, the session flags last.

    Notes
    -----
    Per patient: ``k`` = patients with at least one report, ``n`` = patients with at least one
    session (in the group). Per session: ``k`` = sessions with at least one report, ``n`` =
    sessions (in the group). With ``"route"`` (or another session column), a patient is in the
    per-patient denominator of each route they had a session of. With ``"severity"`` or
    ``"serious"`` (a property of the report) the denominators are all patients with a session
    and all sessions. Intervals: Wilson score by default
    (:func:`analytics.core.stats.proportion_ci`).
    """
    settings = settings_of(table)
    grouping = grouping_of(table, by)
    names = table.meta["safety_effect_names"]
    n_effects = max(len(names), 1)
    per_patient = table.long["safety_effects"]
    at = keep[per_patient["code"].to_numpy()]
    effect_codes = per_patient["effect"].to_numpy("int64")[at]
    overall = np.bincount(effect_codes, minlength=len(names))
    effects = sorted(np.flatnonzero(overall), key=lambda i: (-overall[i], names[i]))
    p = table.patients
    if grouping.kind == "effect":
        return _by_report(table, keep, by, grouping, names, effects, settings.ci_method)
    n_groups = len(grouping.labels)
    if grouping.kind == "session":
        # each row: one patient in one group, with their sessions and field counts there
        rows = group_rows(table, "safety_groups", grouping.position)
        chosen = keep[rows["code"].to_numpy()]
        group = rows["group"].to_numpy("int64")[chosen]

        def counts(column: str) -> np.ndarray:
            return rows[column].to_numpy()[chosen]

        reported = group_rows(table, "safety_group_effects", grouping.position)
        r_chosen = keep[reported["code"].to_numpy()]
        r_group = reported["group"].to_numpy("int64")[r_chosen]
        r_effect = reported["effect"].to_numpy("int64")[r_chosen]
        r_sessions = reported["sessions"].to_numpy()[r_chosen]
    else:
        # one group, or the patient's own: each patient's counts
        codes = np.flatnonzero(keep)
        group = (
            np.zeros(len(codes), dtype="int64")
            if grouping.kind == "none"
            else grouping.patient_codes[codes]
        )

        def counts(column: str) -> np.ndarray:
            return p[column].to_numpy()[codes]

        r_codes = per_patient["code"].to_numpy()[at]
        r_group = (
            np.zeros(len(r_codes), dtype="int64")
            if grouping.kind == "none"
            else grouping.patient_codes[r_codes]
        )
        r_effect = effect_codes
        r_sessions = per_patient["sessions"].to_numpy()[at]

    sessions = counts("sessions" if grouping.kind == "session" else "count_session_rows")
    g_patients = np.bincount(group, weights=sessions > 0, minlength=n_groups)
    g_sessions = np.bincount(group, weights=sessions, minlength=n_groups)
    present = [grouping.labels[g] for g in np.flatnonzero(g_sessions)]
    groups = order_groups(present, grouping.preferred)
    at_group = [grouping.labels.index(g) for g in groups]
    cell = r_group * n_effects + r_effect
    k_patients = np.bincount(cell, minlength=n_groups * n_effects).reshape(n_groups, n_effects)
    k_sessions = np.bincount(cell, weights=r_sessions, minlength=n_groups * n_effects).reshape(
        n_groups, n_effects
    )
    out: list[tuple] = []
    for i in effects:
        out += level_rows(
            names[i],
            groups,
            k_patients[at_group, i],
            k_sessions[at_group, i],
            g_patients[at_group],
            g_sessions[at_group],
        )
    if session_flags:
        prefix = "" if grouping.kind == "session" else "safety_"
        for code in sorted(SESSION_FLAGS.values()):
            yes = counts(f"{prefix}{code}_sessions")
            known = counts(f"{prefix}{code}_recorded")
            if not known.sum():
                continue
            out += level_rows(
                code,
                groups,
                np.bincount(group, weights=yes > 0, minlength=n_groups)[at_group],
                np.bincount(group, weights=yes, minlength=n_groups)[at_group],
                np.bincount(group, weights=known > 0, minlength=n_groups)[at_group],
                np.bincount(group, weights=known, minlength=n_groups)[at_group],
            )
    return rate_frame("effect", out, settings.ci_method, grouped=by is not None)


def _by_report(table, keep, by, grouping, names, effects, method) -> pd.DataFrame:
    """Rates grouped by a property of the report (``severity``, ``serious``): every patient
    with a session and every session are each group's denominators."""
    reports = table.long["safety_reports"]
    n_effects = max(len(names), 1)
    n_groups = len(grouping.labels)
    sessions_of = table.patients["count_session_rows"].to_numpy()
    n_patients = int(np.count_nonzero(keep & (sessions_of > 0)))
    n_sessions = int(sessions_of[keep].sum())
    chosen = keep[reports["code"].to_numpy()] & reports[f"first_of_{by}"].to_numpy()
    group = reports[by].to_numpy("int64")[chosen]
    present = [grouping.labels[g] for g in np.flatnonzero(np.bincount(group, minlength=n_groups))]
    groups = order_groups(present, grouping.preferred) or [ALL]
    effect = reports["effect"].to_numpy("int64")[chosen]
    codes = reports["code"].to_numpy()[chosen]
    k_patients, k_sessions = distinct_per_group(
        group * n_effects + effect, codes, n_groups * n_effects, len(table)
    )
    k_patients = k_patients.reshape(n_groups, n_effects)
    k_sessions = k_sessions.reshape(n_groups, n_effects)
    at_group = [grouping.labels.index(g) for g in groups] if present else []
    rows: list[tuple] = []
    for i in effects:
        rows += level_rows(
            names[i],
            groups,
            k_patients[at_group, i],
            k_sessions[at_group, i],
            [n_patients] * len(groups),
            [n_sessions] * len(groups),
        )
    return rate_frame("effect", rows, method, grouped=True)


def effect_rates(
    data: ClinicData,
    *,
    by: str | None = None,
    settings: SafetySettings | None = None,
    session_flags: bool = True,
) -> pd.DataFrame:
    """:func:`effect_rates_from` for every patient of ``data``.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> data = clinic_from_frames(
    ...     sessions=pd.DataFrame({"patient_id": ["a", "a", "b"], "day": [0, 3, 0],
    ...                            "route": "iv_ketamine"}),
    ...     side_effects=pd.DataFrame({"patient_id": ["a", "a"], "day": [0, 3],
    ...                                "effect": "nausea"}))
    >>> effect_rates(data)[["effect", "level", "k", "n"]].values.tolist()
    [['nausea', 'patient', 1, 2], ['nausea', 'session', 2, 3]]
    """
    table = safety_table(data, settings)
    return effect_rates_from(table, table.keep(), None, by=by, session_flags=session_flags)


def side_effect_entries(rates: pd.DataFrame, method: str) -> list[dict]:
    """The summary's ``side_effects`` list from :func:`effect_rates_from` without ``by``:
    ``{"effect", "label", "basis", "patients": RATE, "sessions": RATE}`` per effect, in order.
    """
    rate_of = first_rates(rates, "effect", method)
    return [
        {
            "effect": code,
            "label": effect_label(code),
            "basis": "session flag" if code in FLAG_LABELS else "report",
            "patients": rate_of(code, PATIENT),
            "sessions": rate_of(code, SESSION),
        }
        for code in dict.fromkeys(rates["effect"])
    ]


def side_effect_summary_from(table: PatientTable, keep: np.ndarray, definitions=None) -> list[dict]:
    """``safety_summary_from(table, keep)["side_effects"]``, without the rest of the summary.

    For a cohort's own side-effect rates (a summary split by route, say): blood pressure and
    dissociation are not computed.
    """
    method = settings_of(table).ci_method
    return side_effect_entries(effect_rates_from(table, keep, definitions), method)


def side_effect_summary(data: ClinicData, settings: SafetySettings | None = None) -> list[dict]:
    """:func:`side_effect_summary_from` for every patient of ``data``."""
    table = safety_table(data, settings)
    return side_effect_summary_from(table, table.keep(), None)
