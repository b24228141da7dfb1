"""The SPRAVATO label reference table and the clinic-versus-label comparison."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics.core.contract import clinic_from_frames
from analytics.metrics.safety import effect_rates
from analytics.reference.spravato_label import (
    LABEL_BP_RISE,
    LABEL_NOTE,
    label_comparison,
    label_reference,
)

# SPRAVATO (esketamine) prescribing information, Janssen, Adverse Reactions table "Adverse
# Reactions Occurring in >=2% of Patients with TRD Treated with SPRAVATO + Oral AD ...":
# percent of patients, esketamine + oral AD (n = 346) vs placebo + oral AD (n = 222).
LABEL_PERCENTS = [
    ("dissociation", 41.0, 9.0),
    ("dizziness", 29.0, 8.0),
    ("nausea", 28.0, 9.0),
    ("sedation", 23.0, 9.0),
    ("vertigo", 23.0, 3.0),
    ("headache", 20.0, 17.0),
    ("dysgeusia", 19.0, 14.0),
    ("hypoesthesia", 18.0, 2.0),
    ("anxiety", 13.0, 6.0),
    ("lethargy", 11.0, 5.0),
    ("blood_pressure_increased", 10.0, 3.0),
    ("vomiting", 9.0, 2.0),
    ("feeling_drunk", 5.0, 0.5),
]


@pytest.mark.parametrize(("effect", "esketamine_pct", "placebo_pct"), LABEL_PERCENTS)
def test_label_percentages(effect, esketamine_pct, placebo_pct):
    ref = label_reference().set_index("effect")
    assert ref.loc[effect, "esketamine_pct"] == esketamine_pct
    assert ref.loc[effect, "placebo_pct"] == placebo_pct
    assert ref.loc[effect, "n_esketamine"] == 346
    assert ref.loc[effect, "n_placebo"] == 222


def test_label_table_shape_and_note():
    ref = label_reference()
    assert list(ref.columns) == [
        "effect",
        "label",
        "esketamine_pct",
        "placebo_pct",
        "n_esketamine",
        "n_placebo",
        "source",
        "note",
    ]
    assert ref["effect"].tolist() == [row[0] for row in LABEL_PERCENTS]
    assert (ref["note"] == "different population and design: short-term trials, not a clinic").all()
    assert ref["source"].str.contains("SPRAVATO prescribing information").all()
    assert ref["effect"].is_unique


def test_label_dissociation_is_142_of_346():
    # The label's 41% is 142/346 = 41.04% (SPRAVATO prescribing information).
    assert (
        round(142 / 346 * 100)
        == label_reference().set_index("effect").loc["dissociation"]["esketamine_pct"]
    )


def test_label_reference_returns_a_fresh_frame():
    first = label_reference()
    first.loc[0, "esketamine_pct"] = -1
    assert label_reference().loc[0, "esketamine_pct"] == 41.0


def test_label_bp_rise():
    # SPRAVATO prescribing information, Increases in Blood Pressure: 8-19% vs 1-4% placebo had a
    # rise of >= 40 mmHg systolic and/or >= 25 mmHg diastolic.
    assert LABEL_BP_RISE["esketamine_pct_low"] == 8.0
    assert LABEL_BP_RISE["esketamine_pct_high"] == 19.0
    assert LABEL_BP_RISE["placebo_pct_low"] == 1.0
    assert LABEL_BP_RISE["placebo_pct_high"] == 4.0
    assert LABEL_BP_RISE["note"] == LABEL_NOTE


def _clinic_142_of_346():
    ids = [f"p{i:03d}" for i in range(346)]
    sessions = pd.DataFrame({"patient_id": ids, "day": 0, "route": "esketamine_nasal"})
    effects = pd.DataFrame({"patient_id": ids[:142], "day": 0, "effect": "dissociation"})
    return clinic_from_frames(sessions=sessions, side_effects=effects)


def test_label_comparison_142_of_346():
    out = label_comparison(effect_rates(_clinic_142_of_346())).set_index("effect")
    row = out.loc["dissociation"]
    assert (row["clinic_k"], row["clinic_n"]) == (142, 346)
    # Wilson 95% CI of 142/346: 36.0-46.3% (reference/clinical.md, Statistics check values).
    assert_allclose([row["clinic_ci_low"], row["clinic_ci_high"]], [0.360, 0.463], atol=5e-4)
    # The label's own 41% of 346 is rebuilt as 142/346, so the same interval.
    assert_allclose(
        [row["esketamine_ci_low"], row["esketamine_ci_high"]], [0.360, 0.463], atol=5e-4
    )
    # Not reported at this clinic: 0 of the same 346 patients, not missing.
    nausea = out.loc["nausea"]
    assert (nausea["clinic_k"], nausea["clinic_n"], nausea["clinic_rate"]) == (0, 346, 0.0)
    assert len(out) == len(LABEL_PERCENTS)


def test_label_comparison_without_sessions_has_no_clinic_numbers():
    empty = clinic_from_frames(sessions=pd.DataFrame({"patient_id": [], "day": []}))
    out = label_comparison(effect_rates(empty))
    assert out["clinic_n"].isna().all()
    assert np.isnan(out["clinic_ci_low"]).all()


def test_label_comparison_rejects_grouped_rates():
    rates = effect_rates(_clinic_142_of_346(), by="route")
    with pytest.raises(ValueError, match="label_comparison needs effect_rates without 'by'"):
        label_comparison(rates)
