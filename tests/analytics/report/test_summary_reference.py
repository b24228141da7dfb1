"""The summary of the sample clinic and of a generated one, pinned to a reference file."""

import gzip
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.report.summary import build_summary
from tests.conftest import SAMPLE
from tests.numbers import differences

# ---------------------------------------------------------------------------------------------
# The whole summary, pinned: tests/data/sample_summary_reference.json.gz holds build_summary's
# output as computed by the plain pandas code (groupby, merge, isin on ids) before the integer
# code paths replaced it, on the sample clinic and on a generated clinic of 2,000 patients.
# A deliberate change to a number must regenerate it: PYTHONPATH=. python tests/analytics/report/test_summary_reference.py

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "sample_summary_reference.json.gz"


def _clinics() -> dict:
    from analytics.ingest.importer import import_folder
    from analytics.sample import generate_clinic, write_clinic

    sample = import_folder(SAMPLE).data
    with tempfile.TemporaryDirectory() as folder:
        write_clinic(folder, generate_clinic(2000))
        generated = import_folder(folder).data
    return {"sample": sample, "gen2000": generated}


CASES = {
    "sample-pcl": ("sample", OutcomeDefinitions(), None),
    "sample-phq": ("sample", OutcomeDefinitions(instrument="PHQ-9"), None),
    "sample-route": ("sample", OutcomeDefinitions(), "route"),
    "gen2000-pcl": ("gen2000", OutcomeDefinitions(), None),
    "gen2000-route": ("gen2000", OutcomeDefinitions(), "route"),
}


def _summaries(clinics: dict) -> dict:
    return {
        name: build_summary(clinics[clinic], definitions, by=by)
        for name, (clinic, definitions, by) in CASES.items()
    }


@pytest.fixture(scope="module")
def clinics():
    return _clinics()


def test_summary_equals_the_reference(clinics):
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        reference = json.load(f)
    got = json.loads(json.dumps(_summaries(clinics), allow_nan=False))
    assert got.keys() == reference.keys()
    for name in CASES:
        assert differences(got[name], reference[name]) == [], name


def test_cohort_side_effects_equal_the_safety_summary(clinics):
    from analytics.metrics.safety import safety_summary, side_effect_summary

    data = clinics["sample"]
    ids = data.patients["patient_id"]
    for cohort in (data, data.with_patients(ids[data.patients["route"] == "iv_ketamine"])):
        assert side_effect_summary(cohort) == safety_summary(cohort)["side_effects"]


if __name__ == "__main__":  # regenerate the reference after a deliberate change of a number
    summaries = json.loads(json.dumps(_summaries(_clinics()), allow_nan=False))
    text = json.dumps(summaries, sort_keys=True, separators=(",", ":")).encode()
    with gzip.GzipFile(REFERENCE, "wb", mtime=0) as f:
        f.write(text)


def test_timepoint_scores_pick_the_nearest_then_earlier_score():
    from analytics.core.contract import clinic_from_frames
    from analytics.metrics.timepoints import timepoint_scores

    rows = [
        ("a", 0, 50.0),
        ("a", 26, 40.0),  # 2 days before week 4 ...
        ("a", 30, 30.0),  # ... and 2 after: the earlier wins
        ("b", 0, 40.0),
        ("b", 21, 35.0),
        ("b", 33, 20.0),  # nearer to day 28 than day 21
        ("c", 0, 30.0),  # no score in any window
        ("d", -3, 60.0),
        ("d", 28, 10.0),  # exactly on target
        ("d", 1, 55.0),
    ]
    assessments = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(
        instrument="PCL-5"
    )
    tp = timepoint_scores(clinic_from_frames(assessments=assessments), OutcomeDefinitions())
    week4 = tp[tp["timepoint"] == "week 4"].set_index("patient_id")["day"].to_dict()
    assert week4 == {"a": 26, "b": 33, "d": 28}
    assert tp.loc[tp["timepoint"] == "24h", "patient_id"].tolist() == ["d"]
