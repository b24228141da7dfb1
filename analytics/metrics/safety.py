"""Safety analytics: side-effect frequencies, blood pressure, dissociation, serious events.

Counting rules (the same everywhere in this module):

* **Per patient**: patients with at least one report / patients with at least one session. This
  is what the SPRAVATO label reports. A patient with sessions but no side effects is in every
  per-patient denominator.
* **Per session**: sessions with the effect / sessions given. Two rows of the same effect at one
  session count once.
* The two are never mixed: each row of a result says its ``level``.
* A side-effect row that matches no session is ignored (the importer rejects such rows, so this
  only matters for hand-built data).
* The sessions' own ``sedation`` and ``dissociation`` yes/no fields (the REMS monitoring form) are
  **not** merged with effect reports: they have a different denominator (sessions where the field
  was recorded) and a clinic may record both. They are reported as separate rows with the codes
  ``sedation_flag`` and ``dissociation_flag``.

Grouping (``by``) for the rates:

* ``"route"``: the session's route. Per session: sessions of that route. Per patient: patients
  exposed to that route (at least one session of it) and, among them, those with a report at a
  session of that route. A patient who switched routes is in both groups.
* ``"first_route"``: the route of the patient's first session (``patients.route``).
* ``"dose_band"``: IV/IM ketamine by mg/kg (bands from :class:`SafetySettings`), esketamine by
  fixed dose (``"esketamine 56 mg"``, ``"esketamine 84 mg"``), like ``"route"``.
* ``"session_band"``: session number bands ``1``, ``2-3``, ``4-6``, ``7+`` by default.
* any other ``sessions`` column (``site``, ``clinician``, ``phase``), like ``"route"``;
* any ``patients`` column (``age_band``, ``sex``, a diagnosis ...): the patient's value.
* ``"severity"`` or ``"serious"``: a property of the report, so the denominators are *all*
  patients with a session and *all* sessions.

Missing group values become the group ``"not recorded"``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from analytics.core.contract import ClinicData
from analytics.core.ids import factorize_ids, isin_ids, lookup_by_id, text_of
from analytics.core.stats import CI_METHODS, mean_ci, proportion_ci, rate
from analytics.metrics.timepoints import remembered

__all__ = [
    "BPSettings",
    "DissociationTrend",
    "SafetySettings",
    "blood_pressure_rates",
    "blood_pressure_sessions",
    "bp_rise_distribution",
    "cadss_by_session_band",
    "cadss_distribution",
    "cadss_trend",
    "dose_band",
    "effect_label",
    "effect_rates",
    "older_patients",
    "safety_summary",
    "serious_events",
    "session_number_band",
    "side_effect_summary",
]

NOT_RECORDED = "not recorded"
ALL = "all"
PATIENT = "patient"
SESSION = "session"

# Session yes/no fields reported beside effect reports, never merged into them.
SESSION_FLAGS = {"sedation": "sedation_flag", "dissociation": "dissociation_flag"}
FLAG_LABELS = {
    "sedation_flag": "Sedation (session yes/no)",
    "dissociation_flag": "Dissociation (session yes/no)",
}
EFFECT_LEVEL_GROUPS = ("severity", "serious")
RATE_COLUMNS = ["k", "n", "rate", "ci_low", "ci_high"]
ESKETAMINE = "esketamine_nasal"


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
    """Choices behind the safety numbers (all printed in :func:`safety_summary`).

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
        _check_edges(self.session_band_edges, "session_band_edges")
        if self.session_band_edges[0] < 1:
            raise ValueError("session_band_edges must start at 1 or later")
        _check_edges(self.mg_per_kg_edges, "mg_per_kg_edges")
        if int(self.late_session) != self.late_session or self.late_session < 2:
            raise ValueError(f"late_session must be an integer >= 2, got {self.late_session!r}")
        if self.ci_method not in CI_METHODS:
            raise ValueError(f"ci_method must be one of {CI_METHODS}, got {self.ci_method!r}")

    def to_dict(self) -> dict:
        """Every setting as JSON-ready values, band labels included."""
        return {
            "blood_pressure": self.bp.to_dict(),
            "session_band_edges": [int(e) for e in self.session_band_edges],
            "session_bands": _session_band_labels(self.session_band_edges),
            "mg_per_kg_edges": [float(e) for e in self.mg_per_kg_edges],
            "late_session": int(self.late_session),
            "ci_method": self.ci_method,
            "ci_level": 0.95,
        }


def _check_edges(edges, name: str) -> None:
    values = list(edges)
    if not values:
        raise ValueError(f"{name} must not be empty")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {tuple(values)!r}")


# ---------------------------------------------------------------------------------------------
# Labels and bands


def effect_label(code: str) -> str:
    """A display label for an effect code.

    The shared vocabulary (:mod:`analytics.ingest.vocabularies`) wins when it knows the code; then the label's
    own term; then the code with underscores as spaces. Labels never change a number.
    """
    if code in FLAG_LABELS:
        return FLAG_LABELS[code]
    try:
        from analytics.ingest.vocabularies import (
            EFFECTS,  # optional: the vocabulary module may be absent
        )
    except ImportError:
        EFFECTS = {}
    if code in EFFECTS:
        return str(EFFECTS[code])
    from analytics.reference.spravato_label import label_reference

    ref = label_reference().set_index("effect")["label"]
    if code in ref.index:
        return str(ref[code])
    return code.replace("_", " ").capitalize()


def _session_band_labels(edges) -> list[str]:
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
    _check_edges(edges, "edges")
    values = pd.Series(session_number, dtype="float64")
    return pd.cut(
        values,
        bins=[*[float(e) for e in edges], np.inf],
        right=False,
        labels=_session_band_labels(edges),
    )


def _edge_text(x: float) -> str:
    text = f"{x:g}"
    return text if "." in text or "e" in text else f"{text}.0"


def _mg_per_kg_labels(edges) -> list[str]:
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
    _check_edges(mg_per_kg_edges, "mg_per_kg_edges")
    per_kg = pd.to_numeric(sessions["dose_mg_per_kg"], errors="coerce").astype("float64")
    mg = pd.to_numeric(sessions["dose_mg"], errors="coerce").astype("float64")
    esketamine = (sessions["route"] == ESKETAMINE).fillna(False).astype(bool).to_numpy()
    kg_band = pd.cut(
        per_kg,
        bins=[-np.inf, *[float(e) for e in mg_per_kg_edges], np.inf],
        right=False,
        labels=_mg_per_kg_labels(mg_per_kg_edges),
    ).astype("object")
    mg_band = mg.map({v: f"esketamine {v:g} mg" for v in mg.dropna().unique()})
    out = np.where(esketamine, mg_band.to_numpy(dtype=object), kg_band.to_numpy(dtype=object))
    return pd.Series(out, index=sessions.index, dtype="string").fillna(NOT_RECORDED)


def _band_order(edges_labels: list[str]) -> list[str]:
    return [*edges_labels, NOT_RECORDED]


# ---------------------------------------------------------------------------------------------
# Grouping machinery


def _sessions_with_group(
    data: ClinicData, by: str | None, settings: SafetySettings
) -> tuple[pd.DataFrame, str, list[str] | None, pd.Index]:
    """Sessions at risk, each with a ``group``.

    Returns the frame (``patient_id`` as integer codes into the returned index of ids, so that
    millions of rows group and join on integers), the kind of grouping (``"none"``,
    ``"session"``, ``"patient"`` or ``"effect"``), a preferred group order, and the ids.
    """
    # Side effects and blood pressure both start here: built once per summary.
    key = (by, tuple(settings.session_band_edges), tuple(settings.mg_per_kg_edges))
    return remembered(
        "safety_sessions_with_group",
        (data.sessions, data.patients),
        key,
        lambda: _build_sessions_with_group(data, by, settings),
    )


def _build_sessions_with_group(
    data: ClinicData, by: str | None, settings: SafetySettings
) -> tuple[pd.DataFrame, str, list[str] | None, pd.Index]:
    s = data.sessions
    codes, ids = factorize_ids(s["patient_id"].astype("string"))
    out = pd.DataFrame(
        {
            "patient_id": codes,
            "day": s["day"].to_numpy(dtype="int64"),
            "session_number": s["session_number"].to_numpy(dtype="int64"),
        }
    )
    for column in SESSION_FLAGS:
        out[column] = s[column].astype("boolean").array
    ids = pd.Index(ids)
    kind, preferred = "session", None
    if by is None or by in EFFECT_LEVEL_GROUPS:
        group = None  # one group, ALL: set from codes below
        kind = "none" if by is None else "effect"
        if by == "severity":
            preferred = ["mild", "moderate", "severe", NOT_RECORDED]
        elif by == "serious":
            preferred = ["serious", "not serious", NOT_RECORDED]
    elif by == "session_band":
        band = session_number_band(out["session_number"], edges=settings.session_band_edges)
        group = band.astype("string").fillna(NOT_RECORDED).to_numpy()
        preferred = _band_order(_session_band_labels(settings.session_band_edges))
    elif by == "dose_band":
        group = dose_band(s, mg_per_kg_edges=settings.mg_per_kg_edges).to_numpy()
        preferred = _band_order(_mg_per_kg_labels(settings.mg_per_kg_edges))
    elif by == "first_route":
        group, kind = _patient_group(data.patients, "route", ids)[codes], "patient"
    elif by in s.columns and by not in ("patient_id", "day"):
        group = s[by].astype("string").fillna(NOT_RECORDED).to_numpy()
    elif by in data.patients.columns and by != "patient_id":
        group, kind = _patient_group(data.patients, by, ids)[codes], "patient"
    else:
        valid = sorted(
            {"session_band", "dose_band", "first_route", *EFFECT_LEVEL_GROUPS}
            | {c for c in s.columns if c not in ("patient_id", "day")}
            | {c for c in data.patients.columns if c != "patient_id"}
        )
        raise ValueError(f"cannot group by {by!r}; valid: {', '.join(valid)}")
    if kind in ("none", "effect"):
        # One group: codes directly, not a categorical built from millions of equal strings.
        out["group"] = pd.Categorical.from_codes(np.zeros(len(out), dtype="int8"), [ALL])
    else:
        out["group"] = pd.Categorical(np.asarray(group, dtype=object))
    return out, kind, preferred, ids


def _patient_group(patients: pd.DataFrame, column: str, ids: pd.Index) -> np.ndarray:
    """The patients' ``column`` values aligned to ``ids``; "not recorded" when missing."""
    lookup = patients.drop_duplicates("patient_id")
    values = pd.Series(
        lookup[column].astype("string").to_numpy(),
        index=lookup["patient_id"].astype("string").to_numpy(),
    )
    return values.reindex(ids).fillna(NOT_RECORDED).to_numpy(dtype=object)


def _effect_group(effects: pd.DataFrame, by: str) -> pd.Series:
    if by == "serious":
        flag = effects["serious"].astype("boolean")
        text = flag.map({True: "serious", False: "not serious"}, na_action="ignore")
        return text.astype("string").fillna(NOT_RECORDED)
    return effects[by].astype("string").fillna(NOT_RECORDED)


def _order_groups(groups, preferred: list[str] | None) -> list[str]:
    if isinstance(getattr(groups, "dtype", None), pd.CategoricalDtype):
        # The categories seen, read from the codes (the order is set below either way).
        groups = pd.Series(groups, copy=False)
        codes = np.unique(np.asarray(groups.cat.codes))
        present = [str(g) for g in groups.cat.categories[codes[codes >= 0]]]
    else:
        present = [str(g) for g in pd.unique(pd.Series(groups, dtype=object))]
    if preferred is None:
        rest = sorted(g for g in present if g != NOT_RECORDED)
        return rest + ([NOT_RECORDED] if NOT_RECORDED in present else [])
    first = [g for g in preferred if g in present]
    return first + sorted(g for g in present if g not in preferred)


def _with_ci(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """Add ``rate``, ``ci_low``, ``ci_high`` to a frame with integer ``k`` and ``n``."""
    k = frame["k"].to_numpy(dtype=float)
    n = frame["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    if len(frame):
        low, high = proportion_ci(k, n, method=method)
        frame["ci_low"], frame["ci_high"] = np.atleast_1d(low), np.atleast_1d(high)
    else:
        frame["ci_low"] = pd.Series(dtype="float64")
        frame["ci_high"] = pd.Series(dtype="float64")
    frame["k"] = frame["k"].astype("int64")
    frame["n"] = frame["n"].astype("int64")
    return frame


def _event_counts(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Numerators per ``keys`` at both levels from one row per (keys, patient, session)."""
    k_session = events.groupby(keys, observed=True).size()
    k_patient = events.drop_duplicates([*keys, "patient_id"]).groupby(keys, observed=True).size()
    parts = []
    for level, k in ((PATIENT, k_patient), (SESSION, k_session)):
        frame = k.rename("k").reset_index()
        frame["group"] = frame["group"].astype(object)
        frame["level"] = level
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _complete_grid(
    counts: pd.DataFrame, items: list[str], groups: list[str], denominators: pd.DataFrame
) -> pd.DataFrame:
    """Every (item, group, level), with k = 0 where nothing was counted."""
    if not items or not groups:
        return pd.DataFrame(
            {
                "item": pd.Series(dtype=object),
                "group": pd.Series(dtype=object),
                "level": pd.Series(dtype=object),
                "k": pd.Series(dtype="int64"),
                "n": pd.Series(dtype="int64"),
            }
        )
    grid = pd.MultiIndex.from_product(
        [items, groups, [PATIENT, SESSION]], names=["item", "group", "level"]
    ).to_frame(index=False)
    merged = grid.merge(counts[["item", "group", "level", "k"]], how="left")
    merged = merged.merge(denominators, on=["item", "group", "level"], how="left")
    merged["k"] = merged["k"].fillna(0).astype("int64")
    merged["n"] = merged["n"].fillna(0).astype("int64")
    return merged


# ---------------------------------------------------------------------------------------------
# Side effects


def _positions(values, ids: pd.Index) -> np.ndarray:
    """``ids.get_indexer(values)`` for unique ids, by integer codes (-1 when absent)."""
    found = lookup_by_id(values, ids, np.arange(len(ids), dtype="float64"))
    return np.where(np.isnan(found), -1, found).astype("int64")


def _effect_events(
    data: ClinicData, exposed: pd.DataFrame, ids: pd.Index, by: str | None, kind: str
) -> pd.DataFrame:
    """One row per (group, effect, patient, session) reported at a session in ``exposed``."""
    e = data.side_effects
    e = e.loc[e["effect"].notna()]
    events = pd.DataFrame(
        {
            "patient_id": _positions(e["patient_id"], ids),
            "day": e["day"].to_numpy(dtype="int64"),
            "effect": e["effect"].astype("string").to_numpy(dtype=object),
        }
    )
    if kind == "effect":
        events["group"] = _effect_group(e, by).to_numpy(dtype=object)
        events = events.merge(exposed[["patient_id", "day"]], on=["patient_id", "day"])
    else:
        events = events.merge(exposed[["patient_id", "day", "group"]], on=["patient_id", "day"])
    return events.drop_duplicates(["group", "effect", "patient_id", "day"])


def effect_rates(
    data: ClinicData,
    *,
    by: str | None = None,
    settings: SafetySettings | None = None,
    session_flags: bool = True,
) -> pd.DataFrame:
    """Per-patient and per-session rates of every side effect seen.

    Parameters
    ----------
    data : ClinicData
        The canonical tables.
    by : str, optional
        Grouping (see the module docstring): ``"route"``, ``"first_route"``, ``"dose_band"``,
        ``"session_band"``, ``"severity"``, ``"serious"``, a ``sessions`` column or a
        ``patients`` column.
    settings : SafetySettings, optional
        Bands and interval method.
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
    sessions (in the group). Intervals: Wilson score by default
    (:func:`analytics.core.stats.proportion_ci`).

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
    settings = settings or SafetySettings()
    exposed, kind, preferred, ids = _sessions_with_group(data, by, settings)
    events = _effect_events(data, exposed, ids, by, kind)

    overall = events.drop_duplicates(["effect", "patient_id"])["effect"].value_counts()
    effects = sorted(overall.index, key=lambda code: (-overall[code], code))
    counts = _event_counts(events, ["group", "effect"]).rename(columns={"effect": "item"})

    if kind == "effect":
        groups = _order_groups(events["group"], preferred)
        if not groups:
            groups = [ALL]
        n_patients = exposed["patient_id"].nunique()
        denominators = pd.DataFrame(
            {
                "item": np.repeat(effects, 2 * len(groups)),
                "group": np.tile(np.repeat(groups, 2), len(effects)),
                "level": np.tile([PATIENT, SESSION], len(effects) * len(groups)),
            }
        )
        denominators["n"] = np.where(
            denominators["level"] == PATIENT, n_patients, len(exposed)
        ).astype("int64")
    else:
        groups = _order_groups(exposed["group"], preferred)
        n_p, n_s = _per_group(exposed, np.ones(len(exposed), dtype=bool))
        n_p, n_s = n_p[n_s > 0], n_s[n_s > 0]  # the groups seen, as groupby(observed=True)
        denominators = pd.concat(
            [
                pd.DataFrame({"group": n_p.index.astype(object), "level": PATIENT, "n": n_p}),
                pd.DataFrame({"group": n_s.index.astype(object), "level": SESSION, "n": n_s}),
            ]
        )
        denominators = pd.DataFrame({"item": effects}).merge(denominators, how="cross")

    frame = _complete_grid(counts, effects, groups, denominators)
    if session_flags and kind != "effect":
        flags = _flag_counts(exposed, groups)
        if len(flags):
            frame = pd.concat([frame, flags], ignore_index=True)
    frame = frame.rename(columns={"item": "effect"})
    frame = _with_ci(frame, settings.ci_method)
    columns = ["effect", "group", "level", *RATE_COLUMNS]
    if by is None:
        columns.remove("group")
    return frame[columns].reset_index(drop=True)


def _known_and_yes(flags) -> tuple[np.ndarray, np.ndarray]:
    """Rows where a nullable yes/no flag was recorded, and rows where it is yes."""
    flags = pd.array(flags, dtype="boolean")
    known = ~np.asarray(flags.isna(), dtype=bool)
    return known, known & np.asarray(flags.fillna(False), dtype=bool)


def _group_keys(exposed: pd.DataFrame) -> tuple:
    """Integer group codes (-1: no group), patient codes, their width and the groups of
    ``exposed``, computed once for several :func:`_per_group` calls."""
    group = pd.Categorical(exposed["group"])
    codes = np.asarray(group.codes).astype("int64")
    patient = exposed["patient_id"].to_numpy(dtype="int64")
    top = int(patient.max(initial=-1))
    # A missing id (code -1) is one distinct value of its own, as nunique counts it.
    patient = np.where(patient < 0, top + 1, patient)
    return codes, patient, max(top + 2, 1), group.categories


def _per_group(
    exposed: pd.DataFrame, mask: np.ndarray, keys: tuple | None = None
) -> tuple[pd.Series, pd.Series]:
    """Distinct patients and rows per category of ``exposed["group"]`` among ``mask`` rows.

    The same counts as ``groupby("group")["patient_id"].nunique()`` and ``.size()`` (zero for a
    group without rows), by counting integer codes instead of hashing groups. ``keys`` are
    :func:`_group_keys` of ``exposed`` when already computed.
    """
    codes, patient, width, index = keys if keys is not None else _group_keys(exposed)
    n_groups = len(index)
    keep = np.asarray(mask, dtype=bool) & (codes >= 0)  # a missing group is no group
    codes, patient = codes[keep], patient[keep]
    if n_groups * width <= 1 << 25:  # a bitmap of (group, patient) seen
        seen = np.zeros(n_groups * width, dtype=bool)
        seen[codes * width + patient] = True
        patients = seen.reshape(n_groups, width).sum(axis=1)
    else:
        pairs = np.unique(codes * width + patient)
        patients = np.bincount(pairs // width, minlength=n_groups)
    sessions = np.bincount(codes, minlength=n_groups)
    return (
        pd.Series(patients.astype("int64"), index=index),
        pd.Series(sessions.astype("int64"), index=index),
    )


def _flag_counts(exposed: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    parts = []
    keys = _group_keys(exposed)
    for column, code in SESSION_FLAGS.items():
        known, yes = _known_and_yes(exposed[column])
        if not known.any():
            continue
        yes_patients, yes_sessions = _per_group(exposed, yes, keys)
        known_patients, known_sessions = _per_group(exposed, known, keys)
        for level, k, n in (
            (PATIENT, yes_patients, known_patients),
            (SESSION, yes_sessions, known_sessions),
        ):
            part = pd.DataFrame({"group": groups})
            part["item"] = code
            part["level"] = level
            part["k"] = part["group"].map(k).fillna(0).astype("int64")
            part["n"] = part["group"].map(n).fillna(0).astype("int64")
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["item", "group", "level", "k", "n"])
    out = pd.concat(parts, ignore_index=True)
    out["_level"] = (out["level"] == SESSION).astype(int)
    out["_group"] = out["group"].map({g: i for i, g in enumerate(groups)})
    out = out.sort_values(["item", "_group", "_level"], kind="stable")
    return out.drop(columns=["_level", "_group"])[["item", "group", "level", "k", "n"]]


def serious_events(data: ClinicData) -> pd.DataFrame:
    """Every side-effect report marked serious, one row each.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``day``, ``session_number``, ``route`` (the session's), ``effect``,
        ``severity``; sorted by patient and day. Reports with ``serious`` not recorded are not
        listed.
    """
    e = data.side_effects
    serious = e.loc[e["serious"].astype("boolean").fillna(False).astype(bool)]
    routes = data.sessions[["patient_id", "day", "route"]].astype({"patient_id": "string"})
    out = serious[["patient_id", "day", "session_number", "effect", "severity"]].astype(
        {"patient_id": "string"}
    )
    # Only the sessions of patients with a serious report can match: join millions of rows less.
    routes = routes[isin_ids(routes["patient_id"], out["patient_id"])]
    out = out.merge(routes, on=["patient_id", "day"], how="left")
    out = out[["patient_id", "day", "session_number", "route", "effect", "severity"]]
    return out.sort_values(["patient_id", "day", "effect"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Blood pressure

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


def blood_pressure_sessions(data: ClinicData, settings: BPSettings | None = None) -> pd.DataFrame:
    """One row per session with its blood-pressure flags and rises.

    Parameters
    ----------
    data : ClinicData
    settings : BPSettings, optional

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``day``, ``session_number``, ``route``, the four readings,
        ``older`` (patient known to be ``older_age``+), ``systolic_limit`` (the pre-dose limit
        applied), ``pre_dose_above``, ``systolic_rise``, ``diastolic_rise`` (peak minus
        pre-dose, mmHg), ``systolic_rise_flag``, ``diastolic_rise_flag``, ``rise_flag``.
        Flags are nullable booleans, NA when a reading they need is missing.

    Notes
    -----
    * ``pre_dose_above``: systolic > limit or diastolic > ``diastolic_pre_max``; needs both
      pre-dose readings. Requiring the pair keeps the rate unbiased: otherwise a lone high
      systolic would count while a lone normal one could not.
    * ``systolic_rise_flag``: peak - pre >= ``rise_systolic`` (needs both systolic readings);
      ``diastolic_rise_flag`` likewise; ``rise_flag`` (either) needs all four readings.
    """
    settings = settings or BPSettings()
    s = data.sessions
    out = s[
        [
            "patient_id",
            "day",
            "session_number",
            "route",
            "bp_systolic_pre",
            "bp_diastolic_pre",
            "bp_systolic_peak",
            "bp_diastolic_peak",
        ]
    ]  # a new frame: copy-on-write keeps data.sessions unchanged
    out["patient_id"] = out["patient_id"].astype("string")
    patients = data.patients.drop_duplicates("patient_id")
    older = older_patients(patients, older_age=settings.older_age).to_numpy(dtype="float64")
    older = lookup_by_id(out["patient_id"], patients["patient_id"].astype("string"), older)
    out["older"] = older == 1.0  # a session of a patient not in data.patients: not older
    out["systolic_limit"] = np.where(
        out["older"], settings.systolic_pre_max_older, settings.systolic_pre_max
    )
    sp, dp = out["bp_systolic_pre"].astype(float), out["bp_diastolic_pre"].astype(float)
    sk, dk = out["bp_systolic_peak"].astype(float), out["bp_diastolic_peak"].astype(float)
    above = (sp > out["systolic_limit"]) | (dp > settings.diastolic_pre_max)
    out["pre_dose_above"] = _flag(above, sp.notna() & dp.notna())
    out["systolic_rise"] = sk - sp
    out["diastolic_rise"] = dk - dp
    sys_flag = out["systolic_rise"] >= settings.rise_systolic
    dia_flag = out["diastolic_rise"] >= settings.rise_diastolic
    sys_known, dia_known = out["systolic_rise"].notna(), out["diastolic_rise"].notna()
    out["systolic_rise_flag"] = _flag(sys_flag, sys_known)
    out["diastolic_rise_flag"] = _flag(dia_flag, dia_known)
    out["rise_flag"] = _flag(sys_flag | dia_flag, sys_known & dia_known)
    return out.reset_index(drop=True)


def _flag(values: pd.Series, known: pd.Series) -> pd.Series:
    flag = pd.Series(values.to_numpy(dtype=bool), index=values.index, dtype="boolean")
    flag[~known.to_numpy(dtype=bool)] = pd.NA
    return flag


BP_MEASURES = {
    "pre_dose_above": "pre_dose_above",
    "rise": "rise_flag",
    "systolic_rise": "systolic_rise_flag",
    "diastolic_rise": "diastolic_rise_flag",
}


def blood_pressure_rates(
    data: ClinicData, settings: SafetySettings | None = None, *, by: str | None = None
) -> pd.DataFrame:
    """Per-session and per-patient rates of the blood-pressure flags.

    Parameters
    ----------
    data : ClinicData
    settings : SafetySettings, optional
        ``settings.bp`` holds the thresholds.
    by : str, optional
        A session or patient grouping as for :func:`effect_rates` (not ``severity``/``serious``).

    Returns
    -------
    pandas.DataFrame
        ``measure`` (``pre_dose_above``, ``rise``, ``systolic_rise``, ``diastolic_rise``),
        ``group`` (only with ``by``), ``level``, ``k``, ``n``, ``rate``, ``ci_low``, ``ci_high``.
        Sessions missing a reading the measure needs are left out of its denominator; a patient
        is in the per-patient denominator when at least one of their sessions is.
    """
    settings = settings or SafetySettings()
    if by in EFFECT_LEVEL_GROUPS:
        raise ValueError(f"blood pressure cannot be grouped by {by!r}")
    return _blood_pressure_rates(data, blood_pressure_sessions(data, settings.bp), settings, by)


def _blood_pressure_rates(
    data: ClinicData, bp: pd.DataFrame, settings: SafetySettings, by: str | None
) -> pd.DataFrame:
    exposed, _, preferred, _ = _sessions_with_group(data, by, settings)
    for column in BP_MEASURES.values():
        # Both frames keep the row order of data.sessions.
        exposed[column] = bp[column].array
    groups = _order_groups(exposed["group"], preferred)
    parts = []
    keys = _group_keys(exposed)
    for measure, column in BP_MEASURES.items():
        known, yes = _known_and_yes(exposed[column])
        yes_patients, yes_sessions = _per_group(exposed, yes, keys)
        known_patients, known_sessions = _per_group(exposed, known, keys)
        for level, k, n in (
            (PATIENT, yes_patients, known_patients),
            (SESSION, yes_sessions, known_sessions),
        ):
            part = pd.DataFrame({"group": groups})
            part["measure"] = measure
            part["level"] = level
            part["k"] = part["group"].map(k).fillna(0).astype("int64")
            part["n"] = part["group"].map(n).fillna(0).astype("int64")
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        frame = pd.DataFrame(columns=["measure", "group", "level", "k", "n"])
    else:
        frame["_g"] = frame["group"].map({g: i for i, g in enumerate(groups)})
        frame["_m"] = frame["measure"].map({m: i for i, m in enumerate(BP_MEASURES)})
        frame["_l"] = (frame["level"] == SESSION).astype(int)
        frame = frame.sort_values(["_m", "_g", "_l"], kind="stable").drop(
            columns=["_g", "_m", "_l"]
        )
    frame = _with_ci(frame.reset_index(drop=True), settings.ci_method)
    columns = ["measure", "group", "level", *RATE_COLUMNS]
    if by is None:
        columns.remove("group")
    return frame[columns]


def _describe(values: pd.Series) -> dict:
    v = pd.Series(values, copy=False).to_numpy(dtype=float, na_value=np.nan)
    v = v[~np.isnan(v)]  # dropna, in numpy
    n = len(v)
    return {
        "n": n,
        "mean": float(v.mean()) if n else np.nan,
        "sd": float(v.std(ddof=1)) if n > 1 else np.nan,
        "median": float(np.median(v)) if n else np.nan,
        "p90": float(np.quantile(v, 0.9)) if n else np.nan,
        "min": float(v.min()) if n else np.nan,
        "max": float(v.max()) if n else np.nan,
    }


def bp_rise_distribution(bp_sessions: pd.DataFrame) -> pd.DataFrame:
    """Distribution of peak minus pre-dose blood pressure over sessions.

    Parameters
    ----------
    bp_sessions : pandas.DataFrame
        The output of :func:`blood_pressure_sessions`.

    Returns
    -------
    pandas.DataFrame
        One row per ``measure`` (``systolic_rise``, ``diastolic_rise``): ``n`` (sessions with
        both readings), ``mean``, ``sd`` (n - 1), ``median``, ``p90`` (linear interpolation,
        numpy's default), ``min``, ``max``; mmHg.
    """
    rows = [
        {"measure": m, **_describe(bp_sessions[m])} for m in ("systolic_rise", "diastolic_rise")
    ]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Dissociation (CADSS)


def _cadss_sessions(data: ClinicData, settings: SafetySettings) -> pd.DataFrame:
    s = data.sessions
    cadss = pd.to_numeric(s["dissociation_cadss"], errors="coerce").to_numpy(dtype=float)
    recorded = ~np.isnan(cadss)
    out = pd.DataFrame(
        {
            # Integer codes: only counted and grouped on, never shown.
            "patient_id": factorize_ids(s["patient_id"])[0][recorded],
            "session_number": s["session_number"].to_numpy(dtype="int64")[recorded],
            "cadss": cadss[recorded],
        },
        index=s.index[recorded],
    )
    band = session_number_band(out["session_number"], edges=settings.session_band_edges).array
    # astype("string").fillna(NOT_RECORDED), from the codes: a few labels taken in Arrow
    labels = pa.array([*map(str, band.categories), NOT_RECORDED], type=pa.large_string())
    codes = np.where(band.codes < 0, len(band.categories), band.codes)
    out["band"] = pd.Series(text_of(labels, codes), index=out.index)
    return out


def cadss_distribution(data: ClinicData, settings: SafetySettings | None = None) -> dict:
    """CADSS (0-92) over all sessions where it was recorded.

    Returns
    -------
    dict
        ``n_sessions``, ``n_patients``, ``mean``, ``sd`` (n - 1), ``median``, ``p90``, ``min``,
        ``max``; NaN statistics when nothing was recorded. Sessions, not patients, are the unit.
    """
    return _cadss_distribution(_cadss_sessions(data, settings or SafetySettings()))


def _cadss_distribution(c: pd.DataFrame) -> dict:
    d = _describe(c["cadss"])
    return {
        "n_sessions": d.pop("n"),
        "n_patients": int(c["patient_id"].nunique()),
        **d,
    }


def cadss_by_session_band(data: ClinicData, settings: SafetySettings | None = None):
    """Mean CADSS per session-number band, with a t-based 95% interval.

    Does dissociation wane over a course? Each patient contributes one value per band (the mean
    of their CADSS scores in that band), so the interval does not treat repeated sessions of
    one patient as independent. In the first band each patient has one session.

    Returns
    -------
    pandas.DataFrame
        ``band``, ``n_sessions``, ``n_patients``, ``mean`` (mean of patient means), ``sd`` (of
        patient means), ``ci_low``, ``ci_high`` (mean ± t(0.975, n_patients - 1) · sd /
        sqrt(n_patients); NaN with fewer than 2 patients), ``session_mean`` (mean over
        sessions). Bands with no CADSS are left out.
    """
    settings = settings or SafetySettings()
    return _cadss_by_session_band(_cadss_sessions(data, settings), settings)


def _cadss_by_session_band(c: pd.DataFrame, settings: SafetySettings) -> pd.DataFrame:
    per_patient = c.groupby(["band", "patient_id"], observed=True)["cadss"].mean().reset_index()
    g = per_patient.groupby("band", observed=True)["cadss"]
    out = pd.DataFrame(
        {
            "n_sessions": c.groupby("band", observed=True).size(),
            "n_patients": g.size(),
            "mean": g.mean(),
            "sd": g.std(ddof=1),
            "session_mean": c.groupby("band", observed=True)["cadss"].mean(),
        }
    )
    out.index.name = "band"
    out = out.reset_index()
    low, high = mean_ci(
        out["mean"].to_numpy(float), out["sd"].to_numpy(float), out["n_patients"].to_numpy()
    )
    out["ci_low"], out["ci_high"] = low, high
    order = _session_band_labels(settings.session_band_edges) + [NOT_RECORDED]
    out["_o"] = out["band"].map({b: i for i, b in enumerate(order)})
    out = out.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    out["n_sessions"] = out["n_sessions"].astype("int64")
    out["n_patients"] = out["n_patients"].astype("int64")
    return out[
        ["band", "n_sessions", "n_patients", "mean", "sd", "ci_low", "ci_high", "session_mean"]
    ]


@dataclass(frozen=True)
class DissociationTrend:
    """Whether CADSS changes with session number.

    Attributes
    ----------
    n_sessions, n_patients : int
        Sessions with a CADSS score, and their patients.
    spearman_rho, spearman_p : float or None
        Spearman correlation of CADSS with session number over sessions. Descriptive: sessions
        of one patient are not independent, so the p value is too small when patients have
        many sessions.
    paired_n : int
        Patients with a CADSS at session 1 and at least one at session ``late_session`` or
        later.
    first_mean, late_mean : float or None
        Their mean CADSS at session 1, and the mean of each patient's late-session mean.
    mean_change : float or None
        Mean of (late - first); negative when dissociation wanes.
    change_ci_low, change_ci_high : float or None
        t-based 95% interval of the mean change.
    paired_p : float or None
        Two-sided paired t-test p value (Student 1908), patients as the unit.
    late_session : int
        The session number from which sessions are "late".
    """

    n_sessions: int
    n_patients: int
    spearman_rho: float | None
    spearman_p: float | None
    paired_n: int
    first_mean: float | None
    late_mean: float | None
    mean_change: float | None
    change_ci_low: float | None
    change_ci_high: float | None
    paired_p: float | None
    late_session: int

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (None where not computable)."""
        return {k: _json_value(v) for k, v in asdict(self).items()}


def cadss_trend(data: ClinicData, settings: SafetySettings | None = None) -> DissociationTrend:
    """Does dissociation wane? Spearman over sessions and a paired first-vs-late comparison.

    Notes
    -----
    Spearman's rho is the Pearson correlation of the ranks (ties get mean ranks). The paired
    comparison takes, per patient, the CADSS at session 1 and the mean of their CADSS at
    sessions >= ``late_session``; change = late - first; mean change ± t(0.975, n - 1) · SD /
    sqrt(n), with the paired t-test.

    References
    ----------
    .. [1] Spearman C (1904). The proof and measurement of association between two things.
       Am J Psychol 15:72-101. doi:10.2307/1412159
    .. [2] Student (1908). The probable error of a mean. Biometrika 6:1-25.
       doi:10.1093/biomet/6.1.1
    """
    settings = settings or SafetySettings()
    return _cadss_trend(_cadss_sessions(data, settings), settings)


def _cadss_trend(c: pd.DataFrame, settings: SafetySettings) -> DissociationTrend:
    n_sessions = len(c)
    rho = p = None
    if n_sessions >= 3 and c["session_number"].nunique() > 1 and c["cadss"].nunique() > 1:
        result = stats.spearmanr(c["session_number"], c["cadss"])
        rho, p = float(result.statistic), float(result.pvalue)
    first = c.loc[c["session_number"] == 1].groupby("patient_id")["cadss"].mean()
    late = c.loc[c["session_number"] >= settings.late_session].groupby("patient_id")["cadss"]
    paired = pd.concat([first.rename("first"), late.mean().rename("late")], axis=1).dropna()
    change = (paired["late"] - paired["first"]).to_numpy(float)
    n = len(change)
    first_mean = float(paired["first"].mean()) if n else None
    late_mean = float(paired["late"].mean()) if n else None
    mean_change = float(change.mean()) if n else None
    ci_low = ci_high = paired_p = None
    if n >= 2:
        sd = change.std(ddof=1)
        ci_low, ci_high = mean_ci(change.mean(), sd, n)
        if sd > 0:
            paired_p = float(stats.ttest_rel(paired["late"], paired["first"]).pvalue)
    return DissociationTrend(
        n_sessions=int(n_sessions),
        n_patients=int(c["patient_id"].nunique()),
        spearman_rho=rho,
        spearman_p=p,
        paired_n=int(n),
        first_mean=first_mean,
        late_mean=late_mean,
        mean_change=mean_change,
        change_ci_low=ci_low,
        change_ci_high=ci_high,
        paired_p=paired_p,
        late_session=int(settings.late_session),
    )


# ---------------------------------------------------------------------------------------------
# Headless summary


def _json_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _first_rates(frame: pd.DataFrame, key: str, method: str):
    """A function ``(value, level) -> RATE dict`` of the first row of ``frame`` with ``key``
    equal to ``value`` at ``level`` (k = n = 0 when there is none); the rows are read once."""
    first = {}
    for value, level, k, n in zip(frame[key], frame["level"], frame["k"], frame["n"]):
        first.setdefault((value, level), (int(k), int(n)))

    def rate_of(value: str, level: str) -> dict:
        if (value, level) not in first:
            return rate(0, 0, method=method).to_dict()
        k, n = first[(value, level)]
        return _json_value(rate(k, n, method=method).to_dict())

    return rate_of


def _side_effects(rates: pd.DataFrame, method: str) -> list[dict]:
    rate_of = _first_rates(rates, "effect", method)
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


def side_effect_summary(data: ClinicData, settings: SafetySettings | None = None) -> list[dict]:
    """``safety_summary(data, settings)["side_effects"]``, without the rest of the summary.

    For a cohort's own side-effect rates (a summary split by route, say): blood pressure and
    dissociation are not computed.
    """
    settings = settings or SafetySettings()
    return _side_effects(effect_rates(data, settings=settings), settings.ci_method)


def safety_summary(data: ClinicData, settings: SafetySettings | None = None) -> dict:
    """Every safety number of a clinic as a JSON-serialisable dict (None for missing).

    Returns
    -------
    dict
        ``settings``: the thresholds and bands used.
        ``exposure``: ``{"patients", "sessions"}``, the side-effect denominators (reported even
        when no effect was).
        ``side_effects``: one entry per effect seen, most patients first, then the session
        flags: ``{"effect", "label", "basis", "patients": RATE, "sessions": RATE}``, ``basis``
        being ``"report"`` or ``"session flag"`` (rate among sessions where recorded).
        ``blood_pressure``: ``{"thresholds", "pre_dose_above", "rise", "systolic_rise",
        "diastolic_rise"`` (each ``{"sessions": RATE, "patients": RATE}``),
        ``"rise_distribution"`` (``{"systolic": {...}, "diastolic": {...}}``),
        ``"label_reference"``}.
        ``dissociation``: CADSS ``n_sessions``, ``n_patients``, ``mean``, ``sd``, ``median``,
        ``p90``, ``by_session_band`` (list), ``trend``, ``session_flag``.
        ``serious_events``: list of ``{"patient_id", "day", "session_number", "route",
        "effect", "severity"}``.
        ``label_reference``: the SPRAVATO label table as a list of dicts.
        RATE is ``{"k", "n", "rate", "ci_low", "ci_high"}``.

    Notes
    -----
    Counts here are not suppressed for small cells; a published export must apply its own
    small-cell rule.
    """
    from analytics.reference.spravato_label import LABEL_BP_RISE, label_reference

    settings = settings or SafetySettings()
    method = settings.ci_method
    rates = effect_rates(data, settings=settings)
    rate_of = _first_rates(rates, "effect", method)
    side_effects = _side_effects(rates, method)

    bp = blood_pressure_sessions(data, settings.bp)
    bp_rates = _blood_pressure_rates(data, bp, settings, None)
    rise = bp_rise_distribution(bp).set_index("measure")
    bp_rate_of = _first_rates(bp_rates, "measure", method)
    blood_pressure = {
        "thresholds": settings.bp.to_dict(),
        **{
            measure: {
                "sessions": bp_rate_of(measure, SESSION),
                "patients": bp_rate_of(measure, PATIENT),
            }
            for measure in BP_MEASURES
        },
        "rise_distribution": {
            "systolic": _json_value(rise.loc["systolic_rise"].to_dict()),
            "diastolic": _json_value(rise.loc["diastolic_rise"].to_dict()),
        },
        "label_reference": _json_value(dict(LABEL_BP_RISE)),
    }
    for part in blood_pressure["rise_distribution"].values():
        part["n"] = int(part["n"])

    cadss = _cadss_sessions(data, settings)
    distribution = _cadss_distribution(cadss)
    bands = _cadss_by_session_band(cadss, settings)
    flag = "dissociation_flag"
    dissociation = {
        **_json_value(distribution),
        "by_session_band": _json_value(bands.to_dict(orient="records")),
        "trend": _cadss_trend(cadss, settings).to_dict(),
        "session_flag": {
            "sessions": rate_of(flag, SESSION),
            "patients": rate_of(flag, PATIENT),
        },
    }

    serious = serious_events(data).astype(object)
    serious = serious.where(serious.notna(), None)
    sessions = data.sessions
    summary = {
        "settings": settings.to_dict(),
        "exposure": {
            "patients": len(factorize_ids(sessions["patient_id"])[1]),  # nunique
            "sessions": int(len(sessions)),
        },
        "side_effects": side_effects,
        "blood_pressure": blood_pressure,
        "dissociation": dissociation,
        "serious_events": _json_value(serious.to_dict(orient="records")),
        "label_reference": _json_value(label_reference().to_dict(orient="records")),
    }
    json.dumps(summary, allow_nan=False)  # fail here, not in the caller, if anything slipped
    return summary
