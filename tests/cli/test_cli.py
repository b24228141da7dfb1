"""The headless entry point, run as a real subprocess on real files (what a nightly job does)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "data" / "broken"
RATE_KEYS = {"k", "n", "rate", "ci_low", "ci_high"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def sample_summary() -> dict:
    done = run("summary", str(SAMPLE), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def route_summary() -> dict:
    done = run("summary", str(SAMPLE), "--by", "route", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_validate_sample_is_clean():
    done = run("validate", str(SAMPLE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("error")]
    assert done.stdout.strip().splitlines()[-1].startswith("OK: 250 patients")


def test_validate_broken_folder_prints_each_problem_once_and_fails():
    done = run("validate", str(BROKEN))
    assert done.returncode == 1
    expected = (BROKEN / "expected.txt").read_text("utf-8").splitlines()
    lines = done.stdout.splitlines()
    assert lines[:-1] == expected
    assert lines[-1] == f"{len(expected)} error(s); nothing was imported."


def test_validate_json_report():
    done = run("validate", str(BROKEN), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert {p["file"] for p in report["problems"]} >= {"sessions.csv", "assessments.csv"}
    assert all(p["severity"] in ("error", "warning") for p in report["problems"])


def test_summary_json_has_the_contract(sample_summary):
    s = sample_summary
    assert set(s) >= {"counts", "instrument", "definitions", "baseline", "timepoints"}
    assert s["counts"] == {**s["counts"], "patients": 250}
    assert s["instrument"] == "PCL-5"
    assert "30%" in s["definitions"]["response"]
    labels = [tp["label"] for tp in s["timepoints"]]
    assert labels[:6] == ["24h", "week 1", "week 2", "week 3", "week 4", "week 8"]
    for tp in s["timepoints"]:
        assert tp["n"] > 0
        for key in ("response", "response_itt", "remission", "meaningful"):
            assert set(tp[key]) == RATE_KEYS
        assert tp["response_itt"]["n"] >= tp["response"]["n"]
        assert set(tp["reliable_change"]) >= {"n", "improved", "deteriorated", "threshold_points"}
    effects = {e["effect"]: e for e in s["side_effects"]}
    assert "nausea" in effects and set(effects["nausea"]["patients"]) == RATE_KEYS
    assert {"blood_pressure", "dissociation", "durability"} <= set(s)


def test_summary_by_route_has_groups(sample_summary, route_summary):
    groups = route_summary["groups"]
    assert set(groups) == {"iv_ketamine", "esketamine_nasal"}
    # the groups partition the cohort's baseline
    assert sum(g["baseline"]["n"] for g in groups.values()) == sample_summary["baseline"]["n"]


def test_sample_esketamine_side_effects_sit_near_the_label(route_summary):
    # The sample was generated at the Spravato label's per-patient frequencies (esketamine arm,
    # short-term trials, n = 346); each label figure should fall inside the sample's own 95% CI
    # for the esketamine patients, give or take sampling noise at n ~ 100.
    summary = route_summary
    label = {row["effect"]: row["esketamine_pct"] / 100 for row in summary["label_reference"]}
    clinic = {
        e["effect"]: e["patients"] for e in summary["groups"]["esketamine_nasal"]["side_effects"]
    }
    common = ["dissociation", "dizziness", "nausea", "sedation", "headache", "anxiety", "vomiting"]
    for effect in common:
        rate = clinic[effect]
        assert rate["ci_low"] - 0.05 <= label[effect] <= rate["ci_high"] + 0.05, effect


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--response", "pct:abc"], "response rule must look like"),
        (["--instrument", "HAM-D"], "unknown instrument 'HAM-D'"),
        (["--by", "favourite_colour"], "favourite_colour"),
        (["--extract-date", "2025-13-31"], "not a day written YYYY-MM-DD: '2025-13-31'"),
        (["--extract-date", "2999-01-01"], "an export cannot be taken in the future"),
    ],
)
def test_summary_bad_options_are_explained(args, message):
    done = run("summary", str(SAMPLE), "--json", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_summary_counts_patients_not_yet_due_and_worsening(sample_summary):
    s = sample_summary
    assert {"intention_to_treat", "data_cutoff", "km_band"} <= set(s["definitions"])
    for tp in s["timepoints"]:
        assert set(tp["deterioration"]) == RATE_KEYS
        assert tp["deterioration"]["n"] == tp["n"]  # among the observed patients
    week24 = s["timepoints"][-1]
    assert week24["label"] == "week 24" and week24["not_yet_due"] > 0


def test_extract_date_moves_the_cutoff(sample_summary):
    # A cutoff most of a year after the sample's last date (2025-12-30): everyone is followed
    # past week 24.
    done = run("summary", str(SAMPLE), "--json", "--extract-date", "2026-10-01")
    assert done.returncode == 0, done.stderr
    later = json.loads(done.stdout)
    assert all(tp["not_yet_due"] == 0 for tp in later["timepoints"])
    week24 = later["timepoints"][-1]["response_itt"]["n"]
    assert week24 > sample_summary["timepoints"][-1]["response_itt"]["n"]


def test_summary_response_option_changes_the_rule():
    done = run("summary", str(SAMPLE), "--json", "--response", "points:10")
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert "10-point" in s["definitions"]["response"]


def test_convert_redcap_writes_canonical_assessments(tmp_path):
    export = tmp_path / "redcap.csv"
    items = ",".join(f"pcl5_{i}" for i in range(1, 21))
    export.write_text(
        f"record_id,redcap_event_name,{items},pcl_complete\n"
        f"101,baseline_arm_1,{','.join(['3'] * 20)},2\n"
        f"101,week_4_arm_1,{','.join(['1'] * 20)},2\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = run(
        "convert-redcap",
        str(export),
        "--events",
        "baseline_arm_1=0,week_4_arm_1=28",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    text = (out / "assessments.csv").read_text("utf-8").splitlines()
    assert text[0].startswith("patient_id,day,instrument")
    assert len(text) == 3
    # the converted folder validates as assessments-only data
    assert run("validate", str(out)).returncode == 0


def test_convert_redcap_unmapped_event_writes_nothing(tmp_path):
    export = tmp_path / "redcap.csv"
    export.write_text(
        "record_id,redcap_event_name,pcl5_1\n1,baseline_arm_1,2\n1,month_9_arm_1,1\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = run("convert-redcap", str(export), "--events", "baseline_arm_1=0", "--out", str(out))
    assert done.returncode == 1
    assert "month_9_arm_1" in done.stderr
    assert not out.exists()
