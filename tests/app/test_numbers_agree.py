"""Every number a dashboard page shows equals the summary of the same cohort.

Each page is run headless (Streamlit's AppTest, the real router and sidebar) with a cohort
chosen in the sidebar; each metric it draws, and the k/n and interval under each rate, is
compared with the same measure computed from scratch on that cohort cut out of the clinic:
``build_summary(data.with_patients(ids))`` for everything the JSON summary carries, and the
measure's own clinic-wide function for the rest (the attrition funnel, the claims check).
The cohort's ids are found here with plain pandas, not with the dashboard's filter code.

A metric whose label this test does not know fails it, so a new number on a page needs its
source named here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.metrics.attrition import attrition_flow
from analytics.metrics.claims import claims_summary
from analytics.report.summary import build_summary
from tests.conftest import TEST_USERS
from ui.components import format_rate

ROOT = Path(__file__).resolve().parents[2]
DEFS = OutcomeDefinitions.for_instrument("PCL-5")
PAGES = ("overview", "durability", "cohorts", "safety", "claims", "outcomes")

# Sidebar choices (widget key -> values) and the plain-pandas rule for the same patients.
COHORTS = {
    "everyone": {},
    "IV ketamine": {"filter_routes": ["iv_ketamine"]},
    "esketamine nasal": {"filter_routes": ["esketamine_nasal"]},
    "site North": {"filter_sites": ["North"]},
    "first sessions in 2025": {"filter_years": [2025]},
    # 16 patients: a small group, where rounding and empty cells show first
    "West, 2024, esketamine": {
        "filter_sites": ["West"],
        "filter_years": [2024],
        "filter_routes": ["esketamine_nasal"],
    },
}


def cohort_ids(data, choice: dict) -> pd.Series:
    p, s = data.patients, data.sessions
    keep = pd.Series(True, index=p.index)
    if "filter_routes" in choice:
        keep &= p["route"].isin(choice["filter_routes"])
    if "filter_years" in choice:
        keep &= p["first_session_year"].isin(choice["filter_years"])
    if "filter_sites" in choice:
        seen = set(s.loc[s["site"].isin(choice["filter_sites"]), "patient_id"])
        keep &= p["patient_id"].isin(seen)
    return p.loc[keep, "patient_id"]


def pct(rate: dict | None) -> str:
    if not rate or not rate.get("n"):
        return "–"
    return f"{100 * rate['rate']:.0f}%"


def days(km: dict) -> str:
    return f"{km['median_days']:.0f} days" if km.get("median_reached") else "not reached"


def flow_rate(flow: pd.DataFrame, step: str) -> dict:
    row = flow[(flow["route"] == "all routes") & (flow["step"] == step)].iloc[0]
    return {"k": int(row["k"]), "n": int(row["n"])} | {
        key: float(row[key]) for key in ("rate", "ci_low", "ci_high")
    }


def expected_numbers(data, ids) -> dict[str, tuple[str, dict | None]]:
    """Each metric label a page may show -> (the value it must show, the rate behind it)."""
    cut = data.with_patients(ids)
    summary = json.loads(json.dumps(build_summary(cut, DEFS)))
    week4 = {t["label"]: t for t in summary["timepoints"]}.get("week 4", {})
    flow = attrition_flow(cut, DEFS)
    durability = summary["durability"]
    bp = summary["blood_pressure"]
    out: dict[str, tuple[str, dict | None]] = {
        "Patients treated": (f"{summary['counts']['patients']:,}", None),
        "Sessions given": (f"{summary['counts']['sessions']:,}", None),
        "Assessments": (f"{summary['counts']['assessments']:,}", None),
        "PCL-5 baseline, mean": (
            f"{summary['baseline']['mean']:.1f}" if summary["baseline"]["n"] else "–",
            None,
        ),
        "Median time to response": (days(durability["time_to_response"]), None),
        "Median time to loss of response": (days(durability["loss_of_response"]), None),
        "Median time to relapse after remission": (
            days(durability["relapse_after_remission"]),
            None,
        ),
    }
    for label, key in (
        ("Response, observed", "response"),
        ("Response, intention to treat", "response_itt"),
        ("Remission, observed", "remission"),
        ("Remission, intention to treat", "remission_itt"),
    ):
        rate = week4.get(key, {"k": 0, "n": 0})
        out[label] = (pct(rate), rate)
    for label, step in (
        ("Completed induction", "completed_induction"),
        ("Scored at week 4, of patients who started and were due by then", "scored_week4"),
        ("Stopped after the first session", "stopped_after_first"),
    ):
        rate = flow_rate(flow, step)
        out[label] = (pct(rate), rate)
    for effect in summary["side_effects"]:
        if effect["basis"] == "report":
            out[effect["label"]] = (pct(effect["patients"]), effect["patients"])
    thresholds = bp["thresholds"]
    pre = (
        f"Pre-dose BP above {thresholds['systolic_pre_max']:.0f}/"
        f"{thresholds['diastolic_pre_max']:.0f} ({thresholds['systolic_pre_max_older']:.0f} "
        f"systolic at {thresholds['older_age']}+) (sessions)"
    )
    rise = (
        f"Rise of ≥ {thresholds['rise_systolic']:.0f} systolic and/or ≥ "
        f"{thresholds['rise_diastolic']:.0f} diastolic (sessions)"
    )
    out[pre] = (pct(bp["pre_dose_above"]["sessions"]), bp["pre_dose_above"]["sessions"])
    out[rise] = (pct(bp["rise"]["sessions"]), bp["rise"]["sessions"])
    claims = json.loads(json.dumps(claims_summary(cut, DEFS), default=float))
    for check in claims.values():
        if not isinstance(check, dict) or "change_label" not in check:
            continue
        change = check["mean_change"]
        out[check["change_label"]] = ("–" if change is None else f"{change:+.1f}", None)
        for label, key in (
            (check["scored_label"], "scored"),
            (check["response_label"], "response"),
            (check["response_itt_label"], "response_itt"),
        ):
            out[label] = (pct(check[key]), check[key])
        if check.get("still_responding") is not None:
            for label, key in (
                (check["still_responding_label"], "still_responding"),
                (check["still_responding_itt_label"], "still_responding_itt"),
            ):
                out[label] = (pct(check[key]), check[key])
    return out


MIN_PATIENTS = OutcomeDefinitions().min_patients


@pytest.fixture(scope="module")
def clinic(sample_dir):
    return import_folder(sample_dir).data


def _signed_in() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    name, password = TEST_USERS["director"]
    at.text_input(key="login_username").input(name)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


@pytest.mark.parametrize("cohort", list(COHORTS))
def test_every_number_on_every_page_equals_the_summary_of_the_cohort(app_env, clinic, cohort):
    choice = COHORTS[cohort]
    ids = cohort_ids(clinic, choice)
    expected = expected_numbers(clinic, ids)
    at = _signed_in()
    seen = 0
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
        for key, values in choice.items():
            at.multiselect(key=key).set_value(values)
        at.run()
        assert not at.exception, (page, [e.message for e in at.exception])
        captions = [c.value for c in at.caption]
        for metric in at.metric:
            assert metric.label in expected, f"{page}: no source named for {metric.label!r}"
            value, rate = expected[metric.label]
            # a value with a sign may be drawn with its own minus; compare the number
            shown = metric.value.replace("−", "-")
            # A rate of fewer patients than the definitions' minimum (10) is not a headline:
            # it reads "too few", its caption still giving the rate with k/n.
            few = rate is not None and 0 < int(rate.get("n") or 0) < MIN_PATIENTS
            if few:
                value = "too few"
            assert shown.lstrip("+") == value.lstrip("+"), (page, metric.label)
            if rate is not None:
                caption = format_rate(rate, min_n=MIN_PATIENTS)
                assert caption in captions or format_rate(rate) in captions, (
                    page,
                    metric.label,
                    caption,
                )
            seen += 1
    assert seen >= 20  # the pages did draw their numbers
    assert expected["Patients treated"][0] == f"{len(ids):,}"
