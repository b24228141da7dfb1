"""The choices behind the safety numbers, their bands, and the names every measure is shown by.

Three measures of dissociation (and two of sedation) exist side by side, and they are different
things with different denominators, so they never share a name:

* ``dissociation`` (a reported side effect): a row of ``side_effects.csv`` at a session. Label
  "Dissociation (reported side effect)". Per patient: patients with at least one report among
  patients with a session; this is what the SPRAVATO label counts.
* ``dissociation_flag`` (the session's own yes/no field, the REMS monitoring form): label
  "Dissociation at the session (REMS yes/no)". Per patient: patients with at least one "yes"
  among patients with at least one session where the field was recorded.
* the CADSS score (0-92) of a session: a severity score, never a rate.

``sedation`` and ``sedation_flag`` are the same pair for sedation.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from analytics.core.stats import CI_METHODS

__all__ = [
    "ALL",
    "BPSettings",
    "BP_MEASURES",
    "EFFECT_LEVEL_GROUPS",
    "ESKETAMINE",
    "FLAG_LABELS",
    "MEASURE_DEFINITIONS",
    "NOT_RECORDED",
    "PATIENT",
    "RATE_COLUMNS",
    "REPORT_LABELS",
    "SESSION",
    "SESSION_FLAGS",
    "SafetySettings",
    "check_edges",
    "dose_band",
    "effect_label",
    "json_value",
    "mg_per_kg_labels",
    "older_patients",
    "order_groups",
    "session_band_labels",
    "session_number_band",
]

NOT_RECORDED = "not recorded"
ALL = "all"
PATIENT = "patient"
SESSION = "session"

# Session yes/no fields reported beside effect reports, never merged into them.
SESSION_FLAGS = {"sedation": "sedation_flag", "dissociation": "dissociation_flag"}
FLAG_LABELS = {
    "sedation_flag": "Sedation at the session (REMS yes/no)",
    "dissociation_flag": "Dissociation at the session (REMS yes/no)",
}
# Reported effects whose plain name a session yes/no field shares: named as reports.
REPORT_LABELS = {
    "sedation": "Sedation (reported side effect)",
    "dissociation": "Dissociation (reported side effect)",
}
# What each of the like-named measures counts, for help texts beside the numbers.
MEASURE_DEFINITIONS = {
    "dissociation": "Dissociation reported as a side effect (side_effects.csv): patients with "
    "at least one report among patients with a session, or sessions with a report among "
    "sessions given. The SPRAVATO label counts this way.",
    "dissociation_flag": "The session's own dissociation yes/no field (REMS monitoring): "
    "patients with at least one 'yes' among patients with the field recorded at a session, or "
    "sessions with 'yes' among sessions where it was recorded.",
    "sedation": "Sedation reported as a side effect (side_effects.csv), counted like every "
    "reported effect.",
    "sedation_flag": "The session's own sedation yes/no field (REMS monitoring), among the "
    "sessions where it was recorded.",
    "cadss": "The CADSS dissociation score (0-92) of a session: a severity score, not a rate.",
}
EFFECT_LEVEL_GROUPS = ("severity", "serious")
RATE_COLUMNS = ["k", "n", "rate", "ci_low", "ci_high"]
ESKETAMINE = "esketamine_nasal"
# The blood-pressure measures and the session flag each is a rate of.
BP_MEASURES = {
    "pre_dose_above": "pre_dose_above",
    "rise": "rise_flag",
    "systolic_rise": "systolic_rise_flag",
    "diastolic_rise": "diastolic_rise_flag",
}


@dataclass(frozen=True)
class BPSettings:
    """Blood-pressure thresholds. Every number here is printed next to the rates it produces.

    Attributes
    ----------
    systolic_pre_max, diastolic_pre_max : float
        A pre-dose reading is "above" when systolic > ``systolic_pre_max`` or diastolic >
        ``diastolic_pre_max`` (strictly greater: 140/90 is not above, 141/90 is). Default 140/90,
        the phase 3 trials' rule for holding the dose.
    systolic_pre_max_older : float
        Systolic limit for patients known to be ``older_age`` or over (default 150, same trials).
    older_age : int
        Age from which ``systolic_pre_max_older`` applies (default 65). Known from a numeric
        ``age`` column or an ``age_band`` whose lower bound is at least this (``"65+"``,
        ``"65-74"``); unknown age uses ``systolic_pre_max``.
    rise_systolic, rise_diastolic : float
        A session has a rise when peak minus pre-dose is >= ``rise_systolic`` systolic or >=
        ``rise_diastolic`` diastolic (inclusive: a rise of exactly 40 counts). Default 40/25, the
        label's measure.
    """

    systolic_pre_max: float = 140.0
    diastolic_pre_max: float = 90.0
    systolic_pre_max_older: float = 150.0
    older_age: int = 65
    rise_systolic: float = 40.0
    rise_diastolic: float = 25.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"BPSettings.{name} must be a positive number, got {value!r}")

    def to_dict(self) -> dict:
        """The thresholds as plain numbers, for printing beside the rates."""
        return {k: float(v) if isinstance(v, float) else int(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SafetySettings:
    """Choices behind the safety numbers (all printed in ``safety_summary``).

    Attributes
    ----------
    bp : BPSettings
        Blood-pressure thresholds.
    session_band_edges : tuple of int
        First session number of each band; the last band is open. Default ``(1, 2, 4, 7)``
        gives ``1``, ``2-3``, ``4-6``, ``7+``.
    mg_per_kg_edges : tuple of float
        Cut points for mg/kg dose bands (left-closed): default ``(0.5, 0.75, 1.0)`` gives
        ``<0.5``, ``0.5-<0.75``, ``0.75-<1.0``, ``>=1.0`` mg/kg.
    late_session : int
        Sessions from this number on are "late" in the paired first-vs-late CADSS comparison.
    ci_method : {"wilson", "clopper-pearson"}
        Interval for every rate.
    """

    bp: BPSettings = field(default_factory=BPSettings)
    session_band_edges: tuple[int, ...] = (1, 2, 4, 7)
    mg_per_kg_edges: tuple[float, ...] = (0.5, 0.75, 1.0)
    late_session: int = 4
    ci_method: str = "wilson"

    def __post_init__(self) -> None:
        check_edges(self.session_band_edges, "session_band_edges")
        if self.session_band_edges[0] < 1:
            raise ValueError("session_band_edges must start at 1 or later")
        check_edges(self.mg_per_kg_edges, "mg_per_kg_edges")
        if int(self.late_session) != self.late_session or self.late_session < 2:
            raise ValueError(f"late_session must be an integer >= 2, got {self.late_session!r}")
        if self.ci_method not in CI_METHODS:
            raise ValueError(f"ci_method must be one of {CI_METHODS}, got {self.ci_method!r}")

    def to_dict(self) -> dict:
        """Every setting as JSON-ready values, band labels included."""
        return {
            "blood_pressure": self.bp.to_dict(),
            "session_band_edges": [int(e) for e in self.session_band_edges],
            "session_bands": session_band_labels(self.session_band_edges),
            "mg_per_kg_edges": [float(e) for e in self.mg_per_kg_edges],
            "late_session": int(self.late_session),
            "ci_method": self.ci_method,
            "ci_level": 0.95,
        }

    @classmethod
    def from_dict(cls, values: dict) -> SafetySettings:
        """The settings :meth:`to_dict` printed (a per-patient table keeps them as JSON).

        Examples
        --------
        >>> SafetySettings.from_dict(SafetySettings(late_session=5).to_dict()).late_session
        5
        """
        return cls(
            bp=BPSettings(**values["blood_pressure"]),
            session_band_edges=tuple(int(e) for e in values["session_band_edges"]),
            mg_per_kg_edges=tuple(float(e) for e in values["mg_per_kg_edges"]),
            late_session=int(values["late_session"]),
            ci_method=str(values["ci_method"]),
        )


def check_edges(edges, name: str) -> None:
    """Raise ``ValueError`` unless ``edges`` is a non-empty, strictly increasing sequence."""
    values = list(edges)
    if not values:
        raise ValueError(f"{name} must not be empty")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {tuple(values)!r}")


# ---------------------------------------------------------------------------------------------
# Labels and bands


def effect_label(code: str) -> str:
    """A display label for an effect code.

    The session yes/no fields and the reported effects that share their name come first (so
    the two are never shown by one name), then the shared vocabulary
    (:mod:`analytics.ingest.vocabularies`), then the SPRAVATO label's own term, then the code
    with underscores as spaces. Labels never change a number.

    Examples
    --------
    >>> effect_label("dissociation"), effect_label("dissociation_flag")
    ('Dissociation (reported side effect)', 'Dissociation at the session (REMS yes/no)')
    """
    if code in FLAG_LABELS:
        return FLAG_LABELS[code]
    if code in REPORT_LABELS:
        return REPORT_LABELS[code]
    from analytics.ingest.vocabularies import EFFECTS

    if code in EFFECTS:
        return str(EFFECTS[code])
    from analytics.reference.spravato_label import label_reference

    ref = label_reference().set_index("effect")["label"]
    if code in ref.index:
        return str(ref[code])
    return code.replace("_", " ").capitalize()


def session_band_labels(edges) -> list[str]:
    """The labels of the session-number bands starting at ``edges`` (``1``, ``2-3``, ``7+``)."""
    labels = []
    for i, low in enumerate(edges):
        if i + 1 == len(edges):
            labels.append(f"{int(low)}+")
        elif edges[i + 1] - 1 == low:
            labels.append(f"{int(low)}")
        else:
            labels.append(f"{int(low)}-{int(edges[i + 1] - 1)}")
    return labels


def session_number_band(session_number, *, edges=(1, 2, 4, 7)) -> pd.Series:
    """Session numbers put into bands: ``1``, ``2-3``, ``4-6``, ``7+`` by default.

    Parameters
    ----------
    session_number : array_like of int
        1 for the first session.
    edges : sequence of int
        First session number of each band, strictly increasing; the last band is open.

    Returns
    -------
    pandas.Series
        Ordered categorical; NaN below the first edge.

    Examples
    --------
    >>> session_number_band([1, 2, 3, 4, 6, 7, 30]).tolist()
    ['1', '2-3', '2-3', '4-6', '4-6', '7+', '7+']
    """
    check_edges(edges, "edges")
    values = pd.Series(session_number, dtype="float64")
    return pd.cut(
        values,
        bins=[*[float(e) for e in edges], np.inf],
        right=False,
        labels=session_band_labels(edges),
    )


def _edge_text(x: float) -> str:
    text = f"{x:g}"
    return text if "." in text or "e" in text else f"{text}.0"


def mg_per_kg_labels(edges) -> list[str]:
    """The labels of the mg/kg dose bands cut at ``edges`` (``<0.5 mg/kg`` ... ``>=1.0 mg/kg``)."""
    texts = [_edge_text(e) for e in edges]
    middle = [f"{a}-<{b}" for a, b in zip(texts, texts[1:])]
    return [f"{x} mg/kg" for x in [f"<{texts[0]}", *middle, f">={texts[-1]}"]]


def dose_band(sessions: pd.DataFrame, *, mg_per_kg_edges=(0.5, 0.75, 1.0)) -> pd.Series:
    """Each session's dose band.

    Esketamine (``route == "esketamine_nasal"``) is a fixed dose, banded by ``dose_mg``
    (``"esketamine 56 mg"``); every other session with ``dose_mg_per_kg`` recorded is banded by
    mg/kg (``"0.5-<0.75 mg/kg"``; left-closed, so 0.5 falls in ``0.5-<0.75``). IV and IM
    sessions share the mg/kg bands: group or filter by route as well to tell them apart.
    Anything else is ``"not recorded"``.

    Examples
    --------
    >>> s = pd.DataFrame({"route": ["iv_ketamine", "iv_ketamine", "esketamine_nasal"],
    ...                   "dose_mg": [40.0, 70.0, 84.0], "dose_mg_per_kg": [0.5, 1.0, None]})
    >>> dose_band(s).tolist()
    ['0.5-<0.75 mg/kg', '>=1.0 mg/kg', 'esketamine 84 mg']
    """
    check_edges(mg_per_kg_edges, "mg_per_kg_edges")
    per_kg = pd.to_numeric(sessions["dose_mg_per_kg"], errors="coerce").astype("float64")
    mg = pd.to_numeric(sessions["dose_mg"], errors="coerce").astype("float64")
    esketamine = (sessions["route"] == ESKETAMINE).fillna(False).astype(bool).to_numpy()
    kg_band = pd.cut(
        per_kg,
        bins=[-np.inf, *[float(e) for e in mg_per_kg_edges], np.inf],
        right=False,
        labels=mg_per_kg_labels(mg_per_kg_edges),
    ).astype("object")
    mg_band = mg.map({v: f"esketamine {v:g} mg" for v in mg.dropna().unique()})
    out = np.where(esketamine, mg_band.to_numpy(dtype=object), kg_band.to_numpy(dtype=object))
    return pd.Series(out, index=sessions.index, dtype="string").fillna(NOT_RECORDED)


def order_groups(present, preferred: list[str] | None) -> list[str]:
    """The groups ``present`` in display order.

    ``preferred`` first (those present, in its order), then the rest sorted; without
    ``preferred``, sorted with ``"not recorded"`` last.

    Examples
    --------
    >>> order_groups(["b", "not recorded", "a"], None)
    ['a', 'b', 'not recorded']
    """
    present = [str(g) for g in dict.fromkeys(present)]
    if preferred is None:
        rest = sorted(g for g in present if g != NOT_RECORDED)
        return rest + ([NOT_RECORDED] if NOT_RECORDED in present else [])
    first = [g for g in preferred if g in present]
    return first + sorted(g for g in present if g not in preferred)


_BAND_LOWER = re.compile(r"^\s*(?:>=?|≥)?\s*(\d{1,3})")


def older_patients(patients: pd.DataFrame, *, older_age: int = 65) -> pd.Series:
    """Whether each patient is known to be ``older_age`` or over.

    A numeric ``age`` column decides when present and parseable; otherwise an ``age_band``
    whose lower bound is at least ``older_age`` (``"65+"``, ``"65-74"``, ``">=65"``, ``"90+"``).
    A band that straddles the age (``"60-69"``), ``"<65"``, or no age at all gives False: the
    patient is not *known* to be older.

    Returns
    -------
    pandas.Series of bool, indexed like ``patients``.

    Examples
    --------
    >>> older_patients(pd.DataFrame({"age_band": ["65+", "60-69", "<65", None, "75-84"]})).tolist()
    [True, False, False, False, True]
    """
    result = pd.Series(False, index=patients.index)
    if "age_band" in patients:
        band = patients["age_band"].astype("string")
        # A handful of distinct bands: parse each once, not once per patient.
        distinct = pd.Series(band.dropna().unique(), dtype="string")
        lower = pd.to_numeric(distinct.str.extract(_BAND_LOWER, expand=False), errors="coerce")
        is_older = dict(zip(distinct, (lower >= older_age).fillna(False).astype(bool)))
        result = result | band.map(is_older).fillna(False).astype(bool)
    if "age" in patients:
        age = pd.to_numeric(patients["age"].astype("object"), errors="coerce")
        known = age.notna()
        result = result.where(~known, age >= older_age)
    return result.astype(bool)


def json_value(value):
    """``value`` as plain JSON: numpy scalars as Python numbers, NaN/NA/inf as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value
