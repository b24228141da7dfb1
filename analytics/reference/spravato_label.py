"""The SPRAVATO (esketamine) label's adverse-reaction frequencies, as a reference table.

These are the figures a clinic's own side-effect rates are most often set beside. They come from
the short-term (4-week) phase 3 trials in treatment-resistant depression: esketamine nasal spray
plus a new oral antidepressant (n = 346) against placebo spray plus an oral antidepressant
(n = 222). Different population and design from a clinic's patients: read them as context, not
as a target.

Source: SPRAVATO (esketamine) nasal spray, US prescribing information, Janssen Pharmaceuticals:
Adverse Reactions, table "Adverse Reactions Occurring in >=2% of Patients with TRD Treated with
SPRAVATO + Oral AD and at a Greater Rate than Patients Treated with Placebo Nasal Spray + Oral AD";
blood pressure figures from Warnings and Precautions, "Increases in Blood Pressure".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.stats import proportion_ci

__all__ = [
    "LABEL_BP_RISE",
    "LABEL_N_ESKETAMINE",
    "LABEL_N_PLACEBO",
    "LABEL_NOTE",
    "LABEL_SOURCE",
    "label_comparison",
    "label_reference",
]

LABEL_N_ESKETAMINE = 346
LABEL_N_PLACEBO = 222
LABEL_SOURCE = (
    "SPRAVATO prescribing information (Janssen), Adverse Reactions: reactions in >=2% of "
    "patients with TRD, short-term trials, esketamine + oral AD (n=346) vs placebo + oral AD "
    "(n=222)"
)
LABEL_NOTE = "different population and design: short-term trials, not a clinic"

# (effect code, the label's term, % esketamine + oral AD, % placebo + oral AD), in the label's
# order. Source: SPRAVATO prescribing information, Adverse Reactions table (module docstring).
# Dissociation is 142/346 = 41%; the label prints percentages only for the other rows.
_LABEL_ROWS: tuple[tuple[str, str, float, float], ...] = (
    ("dissociation", "Dissociation", 41.0, 9.0),
    ("dizziness", "Dizziness", 29.0, 8.0),
    ("nausea", "Nausea", 28.0, 9.0),
    ("sedation", "Sedation", 23.0, 9.0),
    ("vertigo", "Vertigo", 23.0, 3.0),
    ("headache", "Headache", 20.0, 17.0),
    ("dysgeusia", "Dysgeusia (taste disturbance)", 19.0, 14.0),
    ("hypoesthesia", "Hypoesthesia (numbness)", 18.0, 2.0),
    ("anxiety", "Anxiety", 13.0, 6.0),
    ("lethargy", "Lethargy", 11.0, 5.0),
    ("blood_pressure_increased", "Blood pressure increased", 10.0, 3.0),
    ("vomiting", "Vomiting", 9.0, 2.0),
    ("feeling_drunk", "Feeling drunk", 5.0, 0.5),
)

# Share of patients with a rise of >= 40 mmHg systolic and/or >= 25 mmHg diastolic after a dose,
# across the short-term trials (a range over trials and age groups).
# Source: SPRAVATO prescribing information, Warnings and Precautions, Increases in Blood Pressure.
LABEL_BP_RISE = {
    "measure": "rise of >= 40 mmHg systolic and/or >= 25 mmHg diastolic",
    "esketamine_pct_low": 8.0,
    "esketamine_pct_high": 19.0,
    "placebo_pct_low": 1.0,
    "placebo_pct_high": 4.0,
    "source": "SPRAVATO prescribing information (Janssen), Warnings and Precautions: "
    "Increases in Blood Pressure",
    "note": LABEL_NOTE,
}

LABEL_COLUMNS = [
    "effect",
    "label",
    "esketamine_pct",
    "placebo_pct",
    "n_esketamine",
    "n_placebo",
    "source",
    "note",
]


def label_reference() -> pd.DataFrame:
    """The label's adverse-reaction table, one row per effect.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect`` (canonical effect code), ``label`` (the label's term),
        ``esketamine_pct`` and ``placebo_pct`` (percent of patients with at least one report),
        ``n_esketamine`` (346) and ``n_placebo`` (222), ``source`` and ``note``. A fresh frame
        on every call, so callers may modify it.

    References
    ----------
    .. [1] SPRAVATO (esketamine) nasal spray, prescribing information. Janssen Pharmaceuticals,
       Adverse Reactions; Warnings and Precautions, Increases in Blood Pressure.

    Examples
    --------
    >>> ref = label_reference()
    >>> ref.loc[ref["effect"] == "dissociation", "esketamine_pct"].item()
    41.0
    """
    frame = pd.DataFrame(_LABEL_ROWS, columns=["effect", "label", "esketamine_pct", "placebo_pct"])
    frame["n_esketamine"] = LABEL_N_ESKETAMINE
    frame["n_placebo"] = LABEL_N_PLACEBO
    frame["source"] = LABEL_SOURCE
    frame["note"] = LABEL_NOTE
    return frame[LABEL_COLUMNS]


def label_comparison(rates: pd.DataFrame, *, method: str = "wilson") -> pd.DataFrame:
    """A clinic's per-patient effect rates beside the label's, for every effect in the label.

    Parameters
    ----------
    rates : pandas.DataFrame
        The output of :func:`analytics.metrics.safety.effect_rates` without ``by``. Only the
        ``level == "patient"`` rows are used, because the label counts patients with at least
        one report.
    method : {"wilson", "clopper-pearson"}
        Interval for the label's own proportion (its n is 346).

    Returns
    -------
    pandas.DataFrame
        One row per label effect, in the label's order: ``effect``, ``label``, ``clinic_k``,
        ``clinic_n``, ``clinic_rate``, ``clinic_ci_low``, ``clinic_ci_high``, ``esketamine_pct``,
        ``esketamine_ci_low``, ``esketamine_ci_high`` (the label's percent as a proportion and
        its interval, with k rebuilt as round(pct x 346)), ``placebo_pct``, ``note``.
        An effect the clinic never recorded shows 0 of the clinic's patient denominator; NaN
        when the clinic has no patients with sessions.
    """
    if "group" in rates.columns:
        raise ValueError("label_comparison needs effect_rates without 'by'")
    ref = label_reference()
    patient = rates.loc[rates["level"] == "patient", ["effect", "k", "n", "rate"]]
    patient = patient.rename(columns={"k": "clinic_k", "n": "clinic_n", "rate": "clinic_rate"})
    out = ref.merge(patient, on="effect", how="left")
    # Every patient-level row shares the same denominator (patients with a session); the
    # session-flag rows have their own, so take it from an effect-report row.
    reports = patient.loc[~patient["effect"].str.endswith("_flag"), "clinic_n"]
    n_clinic = int(reports.iloc[0]) if len(reports) else None
    if n_clinic is not None:
        out["clinic_n"] = out["clinic_n"].fillna(n_clinic)
        out["clinic_k"] = out["clinic_k"].fillna(0)
        out["clinic_rate"] = out["clinic_k"] / out["clinic_n"].where(out["clinic_n"] > 0)
    k = out["clinic_k"].to_numpy(dtype=float)
    n = out["clinic_n"].to_numpy(dtype=float)
    known = ~np.isnan(n) & (n > 0)
    low = np.full(len(out), np.nan)
    high = np.full(len(out), np.nan)
    if known.any():
        low[known], high[known] = proportion_ci(k[known], n[known], method=method)
    out["clinic_ci_low"], out["clinic_ci_high"] = low, high
    label_k = np.round(out["esketamine_pct"].to_numpy() / 100 * LABEL_N_ESKETAMINE)
    out["esketamine_ci_low"], out["esketamine_ci_high"] = proportion_ci(
        label_k, np.full(len(out), LABEL_N_ESKETAMINE), method=method
    )
    out["clinic_k"] = out["clinic_k"].astype("Int64")
    out["clinic_n"] = out["clinic_n"].astype("Int64")
    return out[
        [
            "effect",
            "label",
            "clinic_k",
            "clinic_n",
            "clinic_rate",
            "clinic_ci_low",
            "clinic_ci_high",
            "esketamine_pct",
            "esketamine_ci_low",
            "esketamine_ci_high",
            "placebo_pct",
            "note",
        ]
    ]
