"""The benchmark's machinery on a tiny clinic: it runs, and DuckDB agrees with us exactly.

No timing is asserted: times depend on the machine.
"""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from bench import generate, steps

N = 200


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory, monkeypatch_module):
    """A 200-patient benchmark clinic in a temporary ``bench/data``."""
    root = tmp_path_factory.mktemp("bench_data")
    monkeypatch_module.setattr(generate, "DATA_DIR", root)
    steps.prepare(N)
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_maintenance_sessions_reach_the_floor():
    sessions = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b"],
            "session_date": ["2024-01-01", "2024-01-03", "2024-02-01"],
            "phase": ["induction", "induction", "induction"],
            "dissociation_cadss": pd.array([5, 6, 7], dtype="Int64"),
            "sedation": pd.array(["no", "yes", "no"], dtype="string"),
            "dissociation": pd.array(["no", "no", "no"], dtype="string"),
        }
    )
    out = generate.add_maintenance_sessions(sessions, min_sessions=4, interval=14)
    assert out.groupby("patient_id").size().to_dict() == {"a": 4, "b": 4}
    # a's last session 2024-01-03 + 14 and + 28 days; b's 2024-02-01 + 14, 28, 42.
    assert out.loc[out["patient_id"] == "a", "session_date"].tolist()[2:] == [
        "2024-01-17",
        "2024-01-31",
    ]
    assert out.loc[out["patient_id"] == "b", "session_date"].tolist()[-1] == "2024-03-14"
    assert out["dissociation_cadss"].isna().sum() == 5  # appended rows record none
    assert out["dissociation_cadss"].dtype == "Int64"


@pytest.mark.parametrize(
    ("min_sessions", "interval"),
    [(0, 14), (20, 0)],
)
def test_maintenance_sessions_refuse_bad_settings(min_sessions, interval):
    with pytest.raises(ValueError, match="min_sessions and interval must be at least 1"):
        generate.add_maintenance_sessions(
            pd.DataFrame({"patient_id": [], "session_date": []}),
            min_sessions=min_sessions,
            interval=interval,
        )


def test_split_large_files_keeps_every_line(tmp_path):
    lines = [f"{i},{'x' * 20}\n" for i in range(100)]
    (tmp_path / "sessions.csv").write_text("id,text\n" + "".join(lines))
    parts = generate.split_large_files(tmp_path, part_bytes=500)
    assert len(parts) > 1 and not (tmp_path / "sessions.csv").exists()
    body = []
    for part in parts:
        text = part.read_text().splitlines(keepends=True)
        assert text[0] == "id,text\n"
        body += text[1:]
    assert body == lines


def test_generated_clinic_imports_with_the_session_floor(bench_data):
    result = import_folder(generate.clinic_dir(N))
    assert result.ok
    per_patient = result.data.sessions.groupby("patient_id").size()
    assert per_patient.min() >= generate.MIN_SESSIONS
    assert len(result.data.patients) == N


def test_every_step_runs(bench_data):
    have_duckdb = importlib.util.find_spec("duckdb") is not None
    for step in steps.STEPS:
        if step.startswith("week4_duckdb") and not have_duckdb:
            continue  # benchmark-only dependency
        report = steps.run_step(step, N, runs=1)
        assert report["runs"] == 1 and len(report["times"]) == 1
        assert report["peak_mb"] > 0


def test_duckdb_equals_our_week4_response(bench_data):
    pytest.importorskip("duckdb")
    from bench.reference_duckdb import week_response_duckdb

    data = steps.load_clinic(N)
    ours = steps.week4_response(data)
    scores = generate.work_dir(N) / "canonical_scores.csv"
    assert ours.n > 0
    assert week_response_duckdb(scores) == (ours.k, ours.n)


@pytest.mark.parametrize(
    "changes",
    [
        {"response": "points:10"},  # the NCPTSD 10-point rule
        {"response": "pct:50"},
        {"baseline_lookback_days": 7},
    ],
)
def test_duckdb_follows_the_definitions(bench_data, changes):
    pytest.importorskip("duckdb")
    from bench.reference_duckdb import week_response_duckdb

    definitions = OutcomeDefinitions(**changes)
    ours = steps.week4_response(steps.load_clinic(N), definitions)
    scores = generate.work_dir(N) / "canonical_scores.csv"
    assert week_response_duckdb(scores, definitions) == (ours.k, ours.n)


def test_duckdb_tie_and_boundary_rules(tmp_path):
    """Hand-made scores: nearest to day 28 with the earlier day on a tie; exactly 30% counts;
    a baseline of 0 never responds; the latest baseline within 30 days wins."""
    pytest.importorskip("duckdb")
    from bench.reference_duckdb import week_response_duckdb

    rows = [
        # a: baseline 50 (day 0 beats day -5); days 25 and 31 tie at 3 from 28 -> day 25 (35,
        # exactly 30% lower: responds)
        ("a", -5, 40.0), ("a", 0, 50.0), ("a", 25, 35.0), ("a", 31, 10.0),
        # b: baseline 0 cannot respond
        ("b", 0, 0.0), ("b", 28, 0.0),
        # c: baseline 40 days before: none, so not observed
        ("c", -40, 50.0), ("c", 28, 10.0),
        # d: blank total is not a score; day 36 is outside the window
        ("d", 0, 50.0), ("d", 27, np.nan), ("d", 36, 10.0),
        # e: 20% better: observed, not a responder
        ("e", -1, 50.0), ("e", 30, 40.0),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    path = tmp_path / "scores.csv"
    frame[["patient_id", "day", "instrument", "total"]].to_csv(path, index=False)
    # Observed: a, b, e (n = 3); responders: a (k = 1).
    assert week_response_duckdb(path) == (1, 3)


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step 'nope'"):
        steps.run_step("nope", N, runs=1)
