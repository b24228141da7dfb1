"""Columnar snapshots: load_clinic gives the same ClinicData from a snapshot as from SQL.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture); snapshots go to the
test's own folder.
"""

import shutil

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from analytics.ingest.importer import import_folder
from store import snapshot as snapshots
from store.clinic import load_clinic
from store.conflicts import list_conflicts, resolve_conflicts
from store.imports import import_upload
from store.rollbacks import rollback
from store.rows import typed_column
from tests.store.fixtures import (  # noqa: F401
    ASSESSMENTS,
    DIRECTOR,
    SAMPLE,
    SESSIONS,
    TABLES,
    assert_same_clinic,
    engine_fixture,
    sample_files,
    upload,
)

PATIENTS = "patient_id,site,sex\nA,north,F\nB,,M\nC,south,\n"


def snapshot_dirs(engine) -> list[str]:
    folder = snapshots.snapshot_folder(engine)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def current_snapshot(engine):
    folder = snapshots.snapshot_folder(engine)
    (name,) = snapshot_dirs(engine)
    return folder / name


def assert_snapshot_matches_sql(engine):
    """The snapshot is served, and equals what SQL gives."""
    from_sql = load_clinic(engine, snapshot=False)
    assert len(snapshot_dirs(engine)) == 1
    assert_same_clinic(load_clinic(engine), from_sql)
    return from_sql


def test_an_import_writes_a_snapshot_equal_to_sql_and_the_importer(engine):
    result = import_upload(sample_files(), DIRECTOR, engine=engine)
    assert result.ok
    # Written right after the commit, so the first load reads it.
    assert len(snapshot_dirs(engine)) == 1
    clinic = load_clinic(engine)
    assert_same_clinic(clinic, import_folder(SAMPLE).data)
    assert_same_clinic(load_clinic(engine, snapshot=False), clinic)


def test_extra_patient_columns_and_missing_values_survive_the_snapshot(engine):
    import_upload(upload(patients=PATIENTS), DIRECTOR, engine=engine)
    clinic = assert_snapshot_matches_sql(engine)
    assert clinic.extra_patient_columns == ("site", "sex")
    assert clinic.patients["site"].isna().tolist() == [False, True, False]
    assert clinic.patients["first_session_year"].isna().tolist() == [False, False, True]


def test_a_superseding_import_and_its_resolution_give_new_snapshots(engine):
    import_upload(upload(), DIRECTOR, engine=engine)
    first = current_snapshot(engine).name
    changed = ASSESSMENTS.replace("A,2025-01-20,PCL-5,30", "A,2025-01-20,PCL-5,31")
    second = import_upload(upload(assessments=changed), DIRECTOR, engine=engine)
    assert second.conflicts == 1
    pending = current_snapshot(engine).name
    assert pending != first  # a new batch is a new key; the old snapshot is pruned
    assert_snapshot_matches_sql(engine)
    resolve_conflicts(second.batch_id, "replace", DIRECTOR, engine=engine)
    assert current_snapshot(engine).name != pending
    clinic = assert_snapshot_matches_sql(engine)
    assert clinic.assessments["total"].tolist() == [50.0, 31.0, 45.0]
    assert list_conflicts(second.batch_id, engine=engine)["status"].tolist() == ["replaced"]


def test_rollback_gives_the_earlier_clinic_from_a_new_snapshot(engine):
    import_upload(upload(), DIRECTOR, engine=engine)
    before = load_clinic(engine)
    more = SESSIONS + "C,2025-03-03,Spravato,56\n"
    second = import_upload(upload(sessions=more), DIRECTOR, engine=engine)
    assert len(load_clinic(engine).patients) == 3
    rollback(second.batch_id, DIRECTOR, engine=engine)
    assert_same_clinic(assert_snapshot_matches_sql(engine), before)


def test_a_snapshot_of_an_older_version_is_never_served(engine, tmp_path):
    import_upload(upload(), DIRECTOR, engine=engine)
    old = current_snapshot(engine)
    kept = tmp_path / "kept"
    shutil.copytree(old, kept)
    more = SESSIONS + "C,2025-03-03,Spravato,56\n"
    import_upload(upload(sessions=more), DIRECTOR, engine=engine)
    # The old snapshot put back under its own key (as if never pruned) is not the current one.
    shutil.rmtree(current_snapshot(engine))
    shutil.move(kept, old)
    clinic = load_clinic(engine)
    assert clinic.patients["patient_id"].tolist() == ["A", "B", "C"]


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "delete", "meta", "swap"],
)
def test_a_damaged_snapshot_is_ignored_and_replaced(engine, damage, caplog):
    import_upload(sample_files(), DIRECTOR, engine=engine)
    folder = current_snapshot(engine)
    sessions = folder / "sessions.arrow"
    if damage == "truncate":
        data = sessions.read_bytes()
        sessions.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        sessions.write_bytes(b"not an arrow file" * 1000)
    elif damage == "delete":
        sessions.unlink()
    elif damage == "meta":
        (folder / "meta.json").write_text("{not json")
    else:  # a valid file of another table in its place
        shutil.copy(folder / "side_effects.arrow", sessions)
    from_sql = load_clinic(engine, snapshot=False)
    assert_same_clinic(load_clinic(engine), from_sql)
    if damage != "delete":
        assert "ignoring (and removing) the clinic snapshot" in caplog.text
    # The damaged snapshot was replaced by a sound one, which is now served.
    caplog.clear()
    assert_same_clinic(load_clinic(engine), from_sql)
    assert "ignoring" not in caplog.text
    assert_same_clinic(from_sql, import_folder(SAMPLE).data)


def test_snapshots_can_be_turned_off(engine, monkeypatch):
    monkeypatch.setenv("SNAPSHOT_DIR", "off")
    assert snapshots.snapshot_folder(engine) is None
    import_upload(upload(), DIRECTOR, engine=engine)
    assert load_clinic(engine).patients["patient_id"].tolist() == ["A", "B"]


def test_an_empty_store_loads_the_empty_clinic_without_a_snapshot(engine):
    clinic = load_clinic(engine)
    assert clinic.patients.empty and clinic.sessions.empty
    folder = snapshots.snapshot_folder(engine)
    assert not folder.exists() or not any(folder.iterdir())


def test_an_unwritable_folder_only_skips_the_snapshot(engine, monkeypatch, tmp_path):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("SNAPSHOT_DIR", str(blocker))
    import_upload(upload(), DIRECTOR, engine=engine)
    assert load_clinic(engine).patients["patient_id"].tolist() == ["A", "B"]


def test_snapshot_folder_places():
    import sqlalchemy as sa

    file_engine = sa.create_engine("sqlite:///var/x/clinic.sqlite")
    assert snapshots.snapshot_folder(file_engine).name == "clinic.sqlite-snapshots"
    assert snapshots.snapshot_folder(sa.create_engine("sqlite://")) is None
    pg = sa.create_engine("postgresql+psycopg://u:secret@db/clinic")
    folder = snapshots.snapshot_folder(pg)
    assert folder.parent.name == "snapshots" and len(folder.name) == 16
    same_but_password = sa.create_engine("postgresql+psycopg://u:other@db/clinic")
    assert snapshots.snapshot_folder(same_but_password) == folder


@pytest.mark.parametrize(
    "values, dtype, expected",
    [
        ((1.5, None, 2.0), "float64", np.array([1.5, np.nan, 2.0])),
        ((3, 0), "int64", np.array([3, 0], dtype="int64")),
        ((1, 0), "bool", np.array([True, False])),
        (("a", None), "string", pd.array(["a", None], dtype="string")),
        ((1, None, 0), "boolean", pd.array([True, None, False], dtype="boolean")),
        ((2024, None), "Int64", pd.array([2024, None], dtype="Int64")),
        ((), "string", pd.array([], dtype="string")),
        ((), "float64", np.array([], dtype="float64")),
    ],
)
def test_sqlite_values_are_typed_as_the_contract_says(values, dtype, expected):
    got = pd.Series(typed_column(values, dtype))
    pdt.assert_series_equal(got, pd.Series(expected))
