"""Safety analytics: side-effect frequencies, blood pressure, dissociation, serious events.

Each patient's safety facts are worked out once (:func:`safety_facts`, a part of the per-patient
table) and every number is an aggregation of the rows of a cohort (the ``*_from`` functions,
``(table, keep, definitions, ...)``). The ``(data)`` functions run the same aggregation on a
table of ``data`` for every patient.

Modules, one per concern: :mod:`.settings` (thresholds, bands, labels), :mod:`.facts`,
:mod:`.grouping`, :mod:`.effects` (side-effect rates and the sessions' yes/no fields),
:mod:`.blood_pressure`, :mod:`.dissociation` (CADSS), :mod:`.serious` and :mod:`.summary`.

Counting rules (the same everywhere in this package):

* **Per patient**: patients with at least one report / patients with at least one session. This
  is what the SPRAVATO label reports. A patient with sessions but no side effects is in every
  per-patient denominator.
* **Per session**: sessions with the effect / sessions given. Two rows of the same effect at one
  session count once.
* The two are never mixed: each row of a result says its ``level``.
* A side-effect row that matches no session is ignored (the importer rejects such rows, so this
  only matters for hand-built data).
* Three measures of dissociation are never merged and never share a name: the reported side
  effect ``dissociation`` ("Dissociation (reported side effect)"), the session's own yes/no
  field of the REMS monitoring form ``dissociation_flag`` ("Dissociation at the session (REMS
  yes/no)", among sessions where it was recorded) and the CADSS score. Sedation has the same
  report / session-field pair.

Grouping (``by``) for the rates:

* ``"route"``: the session's route. Per session: sessions of that route. Per patient: patients
  exposed to that route (at least one session of it) and, among them, those with a report at a
  session of that route. A patient who switched routes is in both groups.
* ``"first_route"``: the route of the patient's first session (``patients.route``).
* ``"dose_band"``: IV/IM ketamine by mg/kg (bands from :class:`SafetySettings`), esketamine by
  fixed dose (``"esketamine 56 mg"``, ``"esketamine 84 mg"``), like ``"route"``.
* ``"session_band"``: session number bands ``1``, ``2-3``, ``4-6``, ``7+`` by default.
* any other text column of ``sessions`` (``site``, ``clinician``, ``phase``), like ``"route"``;
* any ``patients`` column (``age_band``, ``sex``, a diagnosis ...): the patient's value.
* ``"severity"`` or ``"serious"``: a property of the report, so the denominators are *all*
  patients with a session and *all* sessions.

Missing group values become the group ``"not recorded"``.
"""

from analytics.metrics.safety.blood_pressure import (
    blood_pressure_rates,
    blood_pressure_rates_from,
    blood_pressure_sessions,
    blood_pressure_sessions_from,
    bp_rise_distribution,
    bp_rise_distribution_from,
    systolic_rises_from,
)
from analytics.metrics.safety.dissociation import (
    DissociationTrend,
    cadss_by_session_band,
    cadss_by_session_band_from,
    cadss_distribution,
    cadss_distribution_from,
    cadss_trend,
    cadss_trend_from,
)
from analytics.metrics.safety.effects import (
    effect_rates,
    effect_rates_from,
    side_effect_summary,
    side_effect_summary_from,
)
from analytics.metrics.safety.facts import safety_facts, safety_table
from analytics.metrics.safety.serious import serious_events, serious_events_from
from analytics.metrics.safety.settings import (
    BP_MEASURES,
    FLAG_LABELS,
    MEASURE_DEFINITIONS,
    NOT_RECORDED,
    REPORT_LABELS,
    SESSION_FLAGS,
    BPSettings,
    SafetySettings,
    dose_band,
    effect_label,
    older_patients,
    session_number_band,
)
from analytics.metrics.safety.summary import exposure_from, safety_summary, safety_summary_from

__all__ = [
    "BPSettings",
    "BP_MEASURES",
    "DissociationTrend",
    "FLAG_LABELS",
    "MEASURE_DEFINITIONS",
    "NOT_RECORDED",
    "REPORT_LABELS",
    "SESSION_FLAGS",
    "SafetySettings",
    "blood_pressure_rates",
    "blood_pressure_rates_from",
    "blood_pressure_sessions",
    "blood_pressure_sessions_from",
    "bp_rise_distribution",
    "bp_rise_distribution_from",
    "cadss_by_session_band",
    "cadss_by_session_band_from",
    "cadss_distribution",
    "cadss_distribution_from",
    "cadss_trend",
    "cadss_trend_from",
    "dose_band",
    "effect_label",
    "effect_rates",
    "effect_rates_from",
    "exposure_from",
    "older_patients",
    "safety_facts",
    "safety_summary",
    "safety_summary_from",
    "safety_table",
    "serious_events",
    "serious_events_from",
    "session_number_band",
    "side_effect_summary",
    "side_effect_summary_from",
    "systolic_rises_from",
]
