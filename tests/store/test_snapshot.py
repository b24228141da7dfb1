"""Columnar snapshots: load_clinic gives the same ClinicData from a snapshot as from SQL.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture); snapshots go to the
test's own folder.
"""

import json
import shutil
import struct

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa

from analytics.ingest.importer import import_folder
from cli.main import main
from store import snapshot as snapshots
from store.clinic import load_clinic
from store.conflicts import list_conflicts, resolve_conflicts
from store.content import content_hashes, file_sha256
from store.db import dispose_engines
from store.imports import import_upload
from store.models import ContentHash
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
    url_text,
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


def test_the_first_import_writes_its_snapshot_from_the_imported_clinic(engine, monkeypatch):
    # into an empty store, the clinic stored is the imported one: not read back through SQL
    import store.clinic

    def no_sql_read(*args, **kwargs):
        raise AssertionError("the snapshot of a first import was read back from SQL")

    with monkeypatch.context() as patched:
        patched.setattr(store.clinic, "read_rows", no_sql_read)
        assert import_upload(sample_files(), DIRECTOR, engine=engine).ok
    assert len(snapshot_dirs(engine)) == 1
    assert_snapshot_matches_sql(engine)
    # a second import reads back what it changed: the store is no longer the upload alone
    second = import_upload(upload(), DIRECTOR, engine=engine)
    assert second.ok
    assert_snapshot_matches_sql(engine)


SIDE_EFFECTS = "patient_id,date,effect\nA,2025-01-06,nausea\nA,2025-01-06,nausea\n"
# A later export: the same rows, a new patient C, patient A's next session, a PHQ-9 on a day
# that already has a PCL-5 (its order against the stored row is the order of arrival), a new
# report.
LATER_SESSIONS = SESSIONS + "A,2025-01-10,IV ketamine,45\nC,2025-03-03,Spravato,56\n"
LATER_ASSESSMENTS = ASSESSMENTS + (
    "A,2025-01-06,PHQ-9,12\nC,2025-03-03,PCL-5,60\nC,2025-03-31,PCL-5,20\n"
)
LATER_SIDE_EFFECTS = SIDE_EFFECTS + "A,2025-01-06,nausea\nC,2025-03-03,dizziness\n"


def _files(sessions, assessments, side_effects=None, patients=None) -> dict:
    files = upload(sessions, assessments, patients)
    if side_effects is not None:
        files["side_effects.csv"] = side_effects.encode()
    return files


FIRST = _files(SESSIONS, ASSESSMENTS, SIDE_EFFECTS, PATIENTS)


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(FIRST, id="the same export again"),
        pytest.param(
            _files(LATER_SESSIONS, LATER_ASSESSMENTS, LATER_SIDE_EFFECTS, PATIENTS + "D,east,F\n"),
            id="new rows and patients",
        ),
        pytest.param(
            _files(
                LATER_SESSIONS,
                LATER_ASSESSMENTS,
                None,
                "patient_id,site,sex,referral\nA,north,F,gp\nC,west,M,\n",
            ),
            id="a new extra column",
        ),
        pytest.param(
            _files(
                SESSIONS + "A,2025-06-30,IV ketamine,40\n",
                ASSESSMENTS.replace("A,2025-01-20,PCL-5,30", "A,2025-01-20,PCL-5,31"),
                SIDE_EFFECTS,
                PATIENTS,
            ),
            id="a later cutoff and a conflicting row",
        ),
        pytest.param(
            _files(
                SESSIONS.replace("B,2025-02-03", "B,2025-02-01") + "C,2025-03-03,Spravato,56\n",
                ASSESSMENTS,
                SIDE_EFFECTS,
                PATIENTS,
            ),
            id="a patient whose first session moved",
        ),
    ],
)
def test_a_later_import_grows_the_snapshot_by_what_it_adds(engine, monkeypatch, caplog, later):
    # The snapshot after a later import is the one before it with the added rows merged in,
    # never read back through SQL; it must equal what SQL gives exactly.
    import store.clinic

    assert import_upload(FIRST, DIRECTOR, engine=engine).ok
    with monkeypatch.context() as patched:
        patched.setattr(store.clinic, "_load_frames", _no_sql_read)
        assert import_upload(later, DIRECTOR, engine=engine).ok
    assert "snapshot" not in caplog.text  # no fallback, no failure
    with engine.connect() as conn, conn.begin():
        key = snapshots.snapshot_key(conn)
    assert snapshot_dirs(engine) == [key]  # written by the import, the earlier one pruned
    assert_snapshot_matches_sql(engine)


def _no_sql_read(*args, **kwargs):
    raise AssertionError("the snapshot of a later import was read back through SQL")


def test_a_snapshot_is_read_back_through_sql_when_the_earlier_one_is_gone(engine):
    assert import_upload(FIRST, DIRECTOR, engine=engine).ok
    shutil.rmtree(current_snapshot(engine))
    assert import_upload(_files(LATER_SESSIONS, ASSESSMENTS), DIRECTOR, engine=engine).ok
    assert_snapshot_matches_sql(engine)


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


def forge_total(folder, old: float = 50.0, new: float = 80.0) -> None:
    """Rewrite ``assessments.arrow`` at the same size with one total changed, as an attacker
    with write access to the snapshot folder (not the database) could: sizes, row counts and
    dtypes all still agree with ``meta.json``."""
    file = folder / "assessments.arrow"
    data = file.read_bytes()
    before, after = struct.pack("<d", old), struct.pack("<d", new)
    assert data.count(before) == 1
    file.write_bytes(data.replace(before, after))
    assert file.stat().st_size == len(data)


def drop_records(engine, key: str, files: tuple[str, ...] | None) -> None:
    """Delete the snapshot's recorded digests: all of them, or those of ``files``."""
    query = sa.delete(ContentHash).where(
        ContentHash.kind == snapshots.HASH_KIND, ContentHash.key == key
    )
    if files is not None:
        query = query.where(ContentHash.file.in_(files))
    with engine.begin() as conn:
        conn.execute(query)


def recorded_snapshot_keys(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ContentHash.key).where(ContentHash.kind == snapshots.HASH_KIND).distinct()
        )
        return sorted(rows.scalars())


def test_a_written_snapshot_has_every_file_s_digest_recorded(engine):
    import_upload(upload(), DIRECTOR, engine=engine)
    folder = current_snapshot(engine)
    recorded = content_hashes(snapshots.HASH_KIND, folder.name, engine=engine)
    assert recorded == {p.name: file_sha256(p) for p in folder.iterdir()}
    assert sorted(recorded) == sorted([*(f"{t}.arrow" for t in TABLES), "meta.json"])
    with engine.connect() as conn:
        versions = conn.execute(sa.select(ContentHash.data_version).distinct()).scalars().all()
    assert versions == [folder.name]


@pytest.mark.parametrize(
    "forged, dropped, logged",
    [
        # a value changed at the same size: only the digest tells
        (True, (), "assessments.arrow does not match the content hash recorded"),
        # no records at all (deleted, or never written): not trusted, forged or not
        (True, None, "no content hashes were recorded for it"),
        (False, None, "no content hashes were recorded for it"),
        # the record of the changed file alone removed
        (True, ("assessments.arrow",), "assessments.arrow has no recorded content hash"),
        (False, ("meta.json",), "meta.json has no recorded content hash"),
    ],
)
def test_an_unverified_snapshot_is_not_served_and_is_replaced(
    engine, forged, dropped, logged, caplog
):
    import_upload(upload(), DIRECTOR, engine=engine)
    folder = current_snapshot(engine)
    if forged:
        forge_total(folder)
    if dropped != ():
        drop_records(engine, folder.name, dropped)
    clinic = load_clinic(engine)
    assert clinic.assessments["total"].tolist() == [50.0, 30.0, 45.0]  # the database's
    assert_same_clinic(clinic, load_clinic(engine, snapshot=False))
    assert "ignoring (and removing) the clinic snapshot" in caplog.text
    assert logged in caplog.text
    assert "80.0" not in caplog.text  # the file is named, never the data
    # A sound snapshot, with its digests recorded, replaced it and is served from now on.
    assert current_snapshot(engine) == folder
    recorded = content_hashes(snapshots.HASH_KIND, folder.name, engine=engine)
    assert recorded == {p.name: file_sha256(p) for p in folder.iterdir()}
    caplog.clear()
    assert load_clinic(engine).assessments["total"].tolist() == [50.0, 30.0, 45.0]
    assert "ignoring" not in caplog.text


def test_the_summary_command_reports_the_database_not_a_forged_snapshot(
    engine, monkeypatch, capsys, caplog
):
    monkeypatch.setenv("DATABASE_URL", url_text(engine))
    import_upload(upload(), DIRECTOR, engine=engine)
    forge_total(current_snapshot(engine))
    try:
        assert main(["summary", "--json"]) == 0
    finally:
        dispose_engines()
    baseline = json.loads(capsys.readouterr().out)["baseline"]
    # A's baseline is 50 and B's 45 in the database; the forged file says A's is 80.
    assert (baseline["n"], baseline["mean"]) == (2, 47.5)
    assert "assessments.arrow does not match the content hash recorded" in caplog.text


def test_a_snapshot_whose_digests_cannot_be_recorded_is_removed(engine, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("the database is read-only"))

    monkeypatch.setattr(snapshots, "record_content_hashes", refuse)
    result = import_upload(upload(), DIRECTOR, engine=engine)
    assert result.ok  # the import is never failed by its snapshot
    assert snapshot_dirs(engine) == []
    assert "could not record the content hashes of the clinic snapshot" in caplog.text
    assert load_clinic(engine).assessments["total"].tolist() == [50.0, 30.0, 45.0]


def test_pruned_snapshots_lose_their_recorded_digests(engine):
    import_upload(upload(), DIRECTOR, engine=engine)
    first = current_snapshot(engine).name
    more = SESSIONS + "C,2025-03-03,Spravato,56\n"
    import_upload(upload(sessions=more), DIRECTOR, engine=engine)
    second = current_snapshot(engine).name
    assert second != first
    assert recorded_snapshot_keys(engine) == [second]


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
