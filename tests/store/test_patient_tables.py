"""Per-patient tables kept on disk across restarts: data only, whole or absent, pruned, read
back only when every file has the digest the database recorded."""

import os
import pickle
import time

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa

from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from store import content_hashes, get_engine
from store import patient_tables as kept
from store.config import cache_dir
from store.content import file_sha256
from store.db import dispose_engines
from store.models import ContentHash

VERSION = "db-test-1-0-0"


@pytest.fixture(name="database")
def database_fixture(tmp_path, monkeypatch):
    """A fresh store for the kept tables' content hashes."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    yield get_engine()
    dispose_engines()


def _table(n: int = 3) -> PatientTable:
    ids = [f"P{i}" for i in range(n)]
    facts = Facts(
        patients=pd.DataFrame({"x_score": [float(i) for i in range(n)]}),
        long={"x_long": pd.DataFrame({"code": [0, 0, n - 1], "value": [1, 2, 3]})},
        meta={"x_labels": ["a", "b"]},
    )
    return PatientTable.from_facts(PatientIndex(ids), [facts])


def test_a_kept_table_reads_back(database, tmp_path):
    table = _table()
    folder = tmp_path / "patients-a"
    kept.keep_table(table, folder, VERSION)
    back = kept.read_kept_table(folder)
    pdt.assert_frame_equal(back.patients, table.patients)
    pdt.assert_frame_equal(back.long["x_long"], table.long["x_long"])
    assert back.meta == table.meta
    assert back.keep(["P2"]).tolist() == [False, False, True]
    assert not list(tmp_path.glob(".part-*"))  # written beside, then renamed into place
    # data files only: Parquet and JSON, nothing that runs code when read
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".parquet", ".parquet"]
    # each file's digest recorded, with the clinic's data version
    recorded = content_hashes(kept.HASH_KIND, folder.name)
    assert recorded == {p.name: file_sha256(p) for p in folder.iterdir()}
    with database.connect() as conn:
        versions = conn.execute(sa.select(ContentHash.data_version).distinct()).scalars().all()
    assert versions == [VERSION]


def test_a_missing_or_damaged_table_reads_as_none(database, tmp_path):
    assert kept.read_kept_table(tmp_path / "patients-missing") is None
    folder = tmp_path / "patients-damaged"
    kept.keep_table(_table(), folder, VERSION)
    (folder / "patients.parquet").write_bytes(b"not parquet")
    assert kept.read_kept_table(folder) is None


class _Marker:
    """Unpickling this creates the marker file (as a crafted cache file could run any code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _alter_value(folder) -> None:
    """A valid Parquet file in place of the kept one, one patient's score changed."""
    frame = pd.read_parquet(folder / "patients.parquet")
    frame.loc[0, "x_score"] = 80.0
    frame.to_parquet(folder / "patients.parquet", index=False)


def _drop_records(folder) -> None:
    with get_engine().begin() as conn:
        conn.execute(sa.delete(ContentHash).where(ContentHash.key == folder.name))


def _add_pickle(folder) -> None:
    (folder / "patients.pkl").write_bytes(pickle.dumps(_Marker(folder.parent / "marker")))


@pytest.mark.parametrize(
    "tamper, logged",
    [
        (_alter_value, "patients.parquet does not match the content hash recorded"),
        (_drop_records, "no content hashes were recorded for it"),
        (lambda folder: (folder / "meta.json").unlink(), "meta.json is missing"),
        (_add_pickle, "patients.pkl has no recorded content hash"),
    ],
)
def test_an_unverified_kept_table_is_ignored_and_rebuilt(
    database, tmp_path, tamper, logged, caplog
):
    folder = tmp_path / "patients-a"
    kept.keep_table(_table(), folder, VERSION)
    tamper(folder)
    assert kept.read_kept_table(folder) is None
    assert f"ignoring the kept per-patient table patients-a: {logged}" in caplog.text
    assert not (tmp_path / "marker").exists()
    # kept again (as the page does after recomputing it): read back from then on
    kept.keep_table(_table(), folder, VERSION)
    back = kept.read_kept_table(folder)
    assert back.patients["x_score"].tolist() == [0.0, 1.0, 2.0]


def test_a_table_whose_digests_cannot_be_recorded_is_not_kept(database, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("the database is read-only"))

    monkeypatch.setattr("store.patient_tables.record_content_hashes", refuse)
    kept.keep_table(_table(), tmp_path / "patients-a", VERSION)
    assert not (tmp_path / "patients-a").exists()


def test_only_the_newest_tables_are_kept(database, tmp_path):
    now = time.time()
    for i in range(kept.KEEP_TABLES + 3):
        folder = tmp_path / f"patients-{i}"
        kept.keep_table(_table(), folder, VERSION)
        os.utime(folder, (now - 100 + i, now - 100 + i))
    kept.keep_table(_table(), tmp_path / "patients-newest", VERSION)
    left = sorted(p.name for p in tmp_path.glob("patients-*"))
    assert len(left) == kept.KEEP_TABLES
    assert "patients-newest" in left
    assert "patients-0" not in left
    # the pruned tables' records went with them
    with database.connect() as conn:
        keys = conn.execute(sa.select(ContentHash.key).distinct()).scalars().all()
    assert sorted(keys) == left


def test_a_read_only_folder_costs_only_a_recomputation(database, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    kept.keep_table(_table(), blocked / "patients-a", VERSION)  # no exception
    assert kept.read_kept_table(blocked / "patients-a") is None


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DASHBOARD_CACHE_DIR")
    assert cache_dir().parts[-2:] == ("var", "cache")
