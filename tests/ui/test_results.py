"""Per-patient tables kept on disk across restarts: data only, whole or absent, pruned."""

import os
import time

import pandas as pd
import pandas.testing as pdt

from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from ui import results


def _table(n: int = 3) -> PatientTable:
    ids = [f"P{i}" for i in range(n)]
    facts = Facts(
        patients=pd.DataFrame({"x_score": [float(i) for i in range(n)]}),
        long={"x_long": pd.DataFrame({"code": [0, 0, n - 1], "value": [1, 2, 3]})},
        meta={"x_labels": ["a", "b"]},
    )
    return PatientTable.from_facts(PatientIndex(ids), [facts])


def test_a_kept_table_reads_back(tmp_path):
    table = _table()
    folder = tmp_path / "patients-a"
    results.keep_on_disk(table, folder)
    back = results.read_kept(folder)
    pdt.assert_frame_equal(back.patients, table.patients)
    pdt.assert_frame_equal(back.long["x_long"], table.long["x_long"])
    assert back.meta == table.meta
    assert back.keep(["P2"]).tolist() == [False, False, True]
    assert not list(tmp_path.glob(".part-*"))  # written beside, then renamed into place
    # data files only: Parquet and JSON, nothing that runs code when read
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".parquet", ".parquet"]


def test_a_missing_or_damaged_table_reads_as_none(tmp_path):
    assert results.read_kept(tmp_path / "patients-missing") is None
    folder = tmp_path / "patients-damaged"
    results.keep_on_disk(_table(), folder)
    (folder / "patients.parquet").write_bytes(b"not parquet")
    assert results.read_kept(folder) is None


def test_only_the_newest_tables_are_kept(tmp_path):
    now = time.time()
    for i in range(results.KEEP_TABLES + 3):
        folder = tmp_path / f"patients-{i}"
        results.keep_on_disk(_table(), folder)
        os.utime(folder, (now - 100 + i, now - 100 + i))
    results.keep_on_disk(_table(), tmp_path / "patients-newest")
    left = sorted(p.name for p in tmp_path.glob("patients-*"))
    assert len(left) == results.KEEP_TABLES
    assert "patients-newest" in left
    assert "patients-0" not in left


def test_a_read_only_folder_costs_only_a_recomputation(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    results.keep_on_disk(_table(), blocked / "patients-a")  # no exception
    assert results.read_kept(blocked / "patients-a") is None


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert results.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DASHBOARD_CACHE_DIR")
    assert results.cache_dir().parts[-2:] == ("var", "cache")
