"""Side-effect rates and the sessions' yes/no fields, against hand-worked clinics.

Every expected number below was counted by hand from the small frames built in each test.
"""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics.core.contract import clinic_from_frames
from analytics.metrics.safety import effect_rates, safety_summary
from tests.analytics.metrics.safety.helpers import pick, switched_route, three_patients


@pytest.mark.parametrize(
    ("effect", "level", "k", "n"),
    [
        # a's two nausea sessions: once per patient, twice per session; b (no effects) is in
        # every per-patient denominator; the duplicate row at a's day 0 counts once.
        ("nausea", "patient", 1, 3),
        ("nausea", "session", 2, 6),
        # c's two dizziness rows at one session count once.
        ("dizziness", "patient", 1, 3),
        ("dizziness", "session", 1, 6),
    ],
)
def test_effect_denominators(effect, level, k, n):
    row = pick(effect_rates(three_patients()), effect=effect, level=level)
    assert (row["k"], row["n"]) == (k, n)
    assert row["rate"] == pytest.approx(k / n)


def test_effect_rates_columns_and_order():
    rates = effect_rates(three_patients())
    assert list(rates.columns) == ["effect", "level", "k", "n", "rate", "ci_low", "ci_high"]
    # Equal patient counts: ties broken by code; an effect nobody reported is not listed.
    assert rates["effect"].tolist() == ["dizziness"] * 2 + ["nausea"] * 2
    assert rates["k"].dtype == "int64" and rates["n"].dtype == "int64"


def test_effect_rates_wilson_142_of_346_per_patient():
    # 346 patients with 3 sessions each; 142 report dissociation at sessions 1 and 2.
    ids = [f"p{i:03d}" for i in range(346)]
    sessions = pd.DataFrame(
        {"patient_id": np.repeat(ids, 3), "day": np.tile([0, 2, 4], 346), "route": "iv_ketamine"}
    )
    effects = pd.DataFrame(
        {
            "patient_id": np.repeat(ids[:142], 2),
            "day": np.tile([0, 2], 142),
            "effect": "dissociation",
        }
    )
    rates = effect_rates(clinic_from_frames(sessions=sessions, side_effects=effects))
    patient = pick(rates, effect="dissociation", level="patient")
    assert (patient["k"], patient["n"]) == (142, 346)
    # Wilson 95% CI of 142/346 = 36.0-46.3% (reference/clinical.md, Statistics check values).
    assert_allclose([patient["ci_low"], patient["ci_high"]], [0.360, 0.463], atol=5e-4)
    session = pick(rates, effect="dissociation", level="session")
    assert (session["k"], session["n"]) == (284, 1038)


def test_no_side_effects_lists_nothing_but_keeps_denominators():
    sessions = pd.DataFrame({"patient_id": ["a", "b"], "day": [0, 0], "route": "iv_ketamine"})
    data = clinic_from_frames(sessions=sessions)
    assert effect_rates(data).empty
    summary = safety_summary(data)
    assert summary["side_effects"] == []
    assert summary["exposure"] == {"patients": 2, "sessions": 2}


@pytest.mark.parametrize(
    ("by", "group", "level", "k", "n"),
    [
        # Session's route; per patient = patients exposed to the route (a is in both).
        ("route", "iv_ketamine", "patient", 1, 2),
        ("route", "iv_ketamine", "session", 1, 3),
        ("route", "esketamine_nasal", "patient", 1, 2),
        ("route", "esketamine_nasal", "session", 1, 2),
        # First-session route: a and b started on IV, c on esketamine.
        ("first_route", "iv_ketamine", "patient", 2, 2),
        ("first_route", "iv_ketamine", "session", 2, 4),
        ("first_route", "esketamine_nasal", "patient", 0, 1),
        ("first_route", "esketamine_nasal", "session", 0, 1),
        # A report's property: denominators are all 3 patients and all 5 sessions.
        ("severity", "moderate", "patient", 1, 3),
        ("severity", "moderate", "session", 1, 5),
        ("severity", "not recorded", "patient", 1, 3),
        ("serious", "serious", "session", 1, 5),
        ("serious", "not serious", "patient", 1, 3),
        # A patients column, missing value as its own group.
        ("sex", "F", "patient", 1, 1),
        ("sex", "M", "session", 1, 2),
        ("sex", "not recorded", "patient", 0, 1),
        # Session bands: first sessions of a, b, c; second sessions of a and b.
        ("session_band", "1", "session", 1, 3),
        ("session_band", "2-3", "session", 1, 2),
        ("session_band", "2-3", "patient", 1, 2),
    ],
)
def test_effect_rates_by(by, group, level, k, n):
    rates = effect_rates(switched_route(), by=by, session_flags=False)
    row = pick(rates, effect="nausea", group=group, level=level)
    assert (row["k"], row["n"]) == (k, n)


def test_effect_rates_by_lists_every_group():
    rates = effect_rates(switched_route(), by="session_band")
    assert rates["group"].tolist() == ["1", "1", "2-3", "2-3"]
    assert list(rates.columns) == [
        "effect",
        "group",
        "level",
        "k",
        "n",
        "rate",
        "ci_low",
        "ci_high",
    ]


def test_effect_rates_unknown_group():
    with pytest.raises(ValueError, match=r"cannot group by 'nope'; valid: .*first_route"):
        effect_rates(switched_route(), by="nope")


def test_per_patient_rates_match_a_naive_count():
    # A deliberately plain loop over patients, compared on seeded random data.
    rng = np.random.default_rng(7)
    ids = [f"p{i}" for i in range(60)]
    n_sessions = rng.integers(1, 6, len(ids))
    pid = np.repeat(ids, n_sessions)
    day = np.concatenate([np.arange(m) * 2 for m in n_sessions])
    route = rng.choice(["iv_ketamine", "esketamine_nasal"], len(pid))
    sessions = pd.DataFrame({"patient_id": pid, "day": day, "route": route})
    pick_rows = rng.choice(len(pid), 80)
    effects = pd.DataFrame(
        {
            "patient_id": pid[pick_rows],
            "day": day[pick_rows],
            "effect": rng.choice(["nausea", "headache"], len(pick_rows)),
        }
    )
    rates = effect_rates(clinic_from_frames(sessions=sessions, side_effects=effects), by="route")
    for r in ("iv_ketamine", "esketamine_nasal"):
        at_route = {(p, d) for p, d, rr in zip(pid, day, route) if rr == r}
        exposed = {p for p, _ in at_route}
        for effect in ("nausea", "headache"):
            hits = {
                (p, d)
                for p, d, e in zip(effects["patient_id"], effects["day"], effects["effect"])
                if e == effect and (p, d) in at_route
            }
            patient = pick(rates, effect=effect, group=r, level="patient")
            session = pick(rates, effect=effect, group=r, level="session")
            assert (patient["k"], patient["n"]) == (len({p for p, _ in hits}), len(exposed))
            assert (session["k"], session["n"]) == (len(hits), len(at_route))


def test_severity_counts_a_session_once_per_severity():
    # One session with nausea entered as mild and as moderate, and serious once each way:
    # by severity it counts in both groups; without a grouping, once.
    sessions = pd.DataFrame({"patient_id": ["a", "b"], "day": [0, 0], "route": "iv_ketamine"})
    effects = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a"],
            "day": [0, 0, 0],
            "effect": "nausea",
            "severity": ["mild", "moderate", "mild"],
            "serious": pd.array([False, False, True], dtype="boolean"),
        }
    )
    data = clinic_from_frames(sessions=sessions, side_effects=effects)
    by_severity = effect_rates(data, by="severity")
    assert by_severity["group"].tolist() == ["mild", "mild", "moderate", "moderate"]
    assert by_severity["k"].tolist() == [1, 1, 1, 1]
    by_serious = effect_rates(data, by="serious")
    assert pick(by_serious, group="serious", level="session")["k"] == 1
    assert pick(by_serious, group="not serious", level="session")["k"] == 1
    assert pick(effect_rates(data), level="session")[["k", "n"]].tolist() == [1, 2]


# ---------------------------------------------------------------------------------------------
# Session yes/no fields


def test_session_flags_count_only_recorded_sessions():
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "b"],
            "day": [0, 2, 4, 0, 2],
            "route": "esketamine_nasal",
            "sedation": pd.array([True, None, False, None, None], dtype="boolean"),
            "dissociation": pd.array([False, False, False, True, False], dtype="boolean"),
        }
    )
    data = clinic_from_frames(sessions=sessions)
    rates = effect_rates(data)
    # Sedation recorded at a's days 0 and 4 only; b never recorded, so not in the patient n.
    assert tuple(pick(rates, effect="sedation_flag", level="session")[["k", "n"]]) == (1, 2)
    assert tuple(pick(rates, effect="sedation_flag", level="patient")[["k", "n"]]) == (1, 1)
    assert tuple(pick(rates, effect="dissociation_flag", level="session")[["k", "n"]]) == (1, 5)
    assert tuple(pick(rates, effect="dissociation_flag", level="patient")[["k", "n"]]) == (1, 2)
    assert set(effect_rates(data, session_flags=False)) == set(rates.columns)
    assert effect_rates(data, session_flags=False).empty
    # The same counts per group: one route here.
    by_route = effect_rates(data, by="route")
    row = pick(by_route, effect="sedation_flag", group="esketamine_nasal", level="patient")
    assert (row["k"], row["n"]) == (1, 1)


def test_session_flags_absent_when_never_recorded():
    assert not effect_rates(three_patients())["effect"].str.endswith("_flag").any()
