"""Whole commands and DuckDB's floors on a small clinic: they run, and they count alike.

No timing is asserted: the numbers are the benchmark's, on the machine that runs it.
"""

import json
import sys

import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.summary import build_summary
from analytics.sample import TABLE_NAMES
from bench import generate, processes
from bench.__main__ import fitted_growth
from bench.floors_duckdb import TABLES, definition_parameters, table_files
from bench.multi_user import percentile

N = 120


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    """A 120-patient benchmark clinic in a temporary ``bench/data``."""
    root = tmp_path_factory.mktemp("bench_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generate, "DATA_DIR", root)
        mp.setattr(processes, "DATA_DIR", root)
        generate.ensure_clinic(N)
        yield root


def test_the_floors_tables_are_the_contracts():
    assert TABLES == tuple(TABLE_NAMES)


def test_table_files_finds_a_table_split_into_parts(tmp_path):
    for name in ("patients.csv", "sessions_1.csv", "sessions_2.csv", "notes.csv"):
        (tmp_path / name).write_text("patient_id\n")
    files = table_files(tmp_path)
    assert [p.rsplit("/", 1)[1] for p in files["sessions"]] == ["sessions_1.csv", "sessions_2.csv"]
    assert len(files["patients"]) == 1 and files["assessments"] == []


def test_duckdb_counts_from_the_csv_files_what_our_summary_counts(bench_data):
    pytest.importorskip("duckdb")
    from bench.floors_duckdb import count_from_csv

    folder = generate.clinic_dir(N)
    ours = processes.rates_of_summary(
        build_summary(import_folder(folder).data, OutcomeDefinitions())
    )
    theirs = count_from_csv(folder, definition_parameters())
    assert theirs["week_4_response"] == ours["week_4_response"]
    assert theirs["nausea_patients"] == ours["nausea_patients"]
    assert theirs["week_4_response"][1] > 0 and theirs["nausea_patients"][0] > 0
    assert theirs["patients"] == N


def test_the_duckdb_load_keeps_every_row(bench_data, tmp_path):
    pytest.importorskip("duckdb")
    from bench.floors_duckdb import load_into_database

    rows = load_into_database(generate.clinic_dir(N), tmp_path / "floor.db")
    assert rows["patients"] == N
    assert rows["sessions"] >= N * generate.MIN_SESSIONS


def test_a_monthly_export_adds_one_new_patient_in_ten(bench_data):
    folder = generate.monthly_export(N)
    first = import_folder(generate.clinic_dir(N)).data
    later = import_folder(folder).data
    assert len(later.patients) == N + N // 10
    added = later.patients["patient_id"][
        ~later.patients["patient_id"].isin(first.patients["patient_id"])
    ]
    assert added.str.startswith("N").all()
    assert len(later.sessions) == len(first.sessions) + len(
        first.sessions[first.sessions["patient_id"].isin(added.str[1:])]
    )
    assert generate.monthly_export(N) == folder  # made once


def test_the_whole_commands_run_and_report_the_summarys_rates(bench_data):
    steps = ("import_cli", "summary_db_cli", "summary_dir_cli", "reimport_monthly_cli")
    found = processes.time_process_steps(N, 1, steps)
    assert sorted(found) == sorted(f"{s}@{N}" for s in steps)
    for row in found.values():
        assert row["runs"] == 1 and row["peak_mb"] > 0 and row["median_cpu"] > 0
    expected = processes.rates_of_summary(
        build_summary(import_folder(generate.clinic_dir(N)).data, OutcomeDefinitions())
    )
    assert found[f"summary_db_cli@{N}"]["result"] == expected
    assert found[f"summary_dir_cli@{N}"]["result"] == expected


def test_a_summary_unlike_duckdbs_stops_the_benchmark():
    rates = {"week_4_response": [3, 10], "nausea_patients": [2, 20]}
    results = {
        "duckdb_counts@5": {"result": {**rates, "patients": 20}},
        "summary_db_cli@5": {"result": rates},
        "summary_dir_cli@5": {"result": {**rates, "week_4_response": [4, 10]}},
    }
    with pytest.raises(SystemExit, match=r"summary_dir_cli at 5: week_4_response is \[4, 10\]"):
        processes.check_against_duckdb(results, 5)
    del results["summary_dir_cli@5"]
    processes.check_against_duckdb(results, 5)  # agreeing: no exit


def test_a_failing_command_is_reported_with_its_output():
    with pytest.raises(RuntimeError, match="failed \\(3\\):\n.*went wrong"):
        processes.run_command(
            [sys.executable, "-c", "import sys; sys.stderr.write('went wrong'); sys.exit(3)"]
        )


def test_a_command_reports_its_output_cpu_and_memory():
    done = processes.run_command(
        [sys.executable, "-c", "import json; print(json.dumps(sum(range(10**6))))"]
    )
    assert json.loads(done["stdout"]) == sum(range(10**6))
    assert done["cpu"] > 0 and done["peak_mb"] > 1 and done["wall"] > 0


# numpy.percentile(values, q) (linear, R's type 7): hand-checked values
@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 95, 1.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),  # 4 + 0.8 * (5 - 4)
        ([10.0, 0.0, 5.0], 25, 2.5),  # sorted 0, 5, 10: position 0.5
    ],
)
def test_percentile_interpolates_between_order_statistics(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_growth_is_fitted_as_start_plus_a_cost_per_patient():
    # t = 2 + 0.001 n exactly: start 2 s, 1 ms a patient; slope 10k -> 100k log(102/12)/log(10)
    fit = fitted_growth([(1_000, 3.0), (10_000, 12.0), (100_000, 102.0)])
    assert fit["start"] == pytest.approx(2.0)
    assert fit["per_patient"] == pytest.approx(0.001)
    assert fit["exponent"] == pytest.approx(0.9294, abs=1e-4)
    assert fitted_growth([(1_000, 3.0)]) is None
