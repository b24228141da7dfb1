"""Follow-up days per batch: stored outside the compared patient rows, read as the largest value
of the active batches whose days are the stored ones.

Every test runs on SQLite (a real file) and on PostgreSQL (the ``engine`` fixture).
"""

import json
import os
from dataclasses import replace

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa

from analytics.core.contract import FOLLOW_UP_COLUMN, PATIENT_BASE_COLUMNS, clinic_from_frames
from analytics.ingest.importer import ImportOptions
from store.clinic import follow_up_days, load_clinic
from store.conflicts import list_conflicts, resolve_conflicts
from store.content import file_sha256, record_content_hashes
from store.imports import FileRecord, import_upload, store_batch
from store.models import FollowUp
from store.rollbacks import rollback
from store.rows import IMPORT, utc_now
from store.sample import ensure_sample
from store.snapshot import HASH_KIND, read_snapshot, snapshot_folder, snapshot_key
from tests.store.fixtures import (  # noqa: F401
    DIRECTOR,
    SESSIONS,
    assert_same_clinic,
    engine_fixture,
    upload,
)

NA = None
# Three patients with sessions; A has a second session on day 2.
DAYS = {"A": [0, 2], "B": [0], "C": [0]}


def clinic(follow_up: dict, days: dict = DAYS, **extra):
    """A clinic whose patients have the given follow-up days (None: not known)."""
    sessions = pd.DataFrame(
        [(pid, day) for pid, ds in days.items() for day in ds], columns=["patient_id", "day"]
    ).assign(route="iv_ketamine", dose_mg=40.0)
    ids = list(days)
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "first_session_year": pd.array([2025] * len(ids), dtype="Int64"),
            FOLLOW_UP_COLUMN: pd.array([follow_up.get(p) for p in ids], dtype="Int64"),
            **{name: [values.get(p) for p in ids] for name, values in extra.items()},
        }
    )
    data = clinic_from_frames(sessions=sessions, patients=patients)
    assert FOLLOW_UP_COLUMN in data.patients  # the contract keeps the column
    return data


def store(engine, data, name: str = "export.csv"):
    """Store ``data`` as an import batch, as import_upload does once the importer has run."""
    return store_batch(
        engine,
        data,
        user=DIRECTOR,
        kind=IMPORT,
        records=(FileRecord(name, name.ljust(64, "0"), "sessions"),),
        options=ImportOptions(),
        problems=(),
        clock=utc_now,
    )


def loaded_follow_up(engine, **kwargs) -> dict:
    patients = load_clinic(engine, **kwargs).patients
    values = patients[FOLLOW_UP_COLUMN].astype(object).where(patients[FOLLOW_UP_COLUMN].notna())
    return dict(zip(patients["patient_id"], values.where(values.notna(), None), strict=True))


def stored_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        query = sa.select(FollowUp.batch_id, FollowUp.patient_id, FollowUp.follow_up_days)
        return sorted(conn.execute(query).all())


@pytest.mark.parametrize(
    "imports, expected",
    [
        # one import: its values, NA where the export had none
        ([{"A": 10, "B": 5}], {"A": 10, "B": 5, "C": NA}),
        # a later export (later cutoff): the larger values
        ([{"A": 10, "B": 5}, {"A": 40, "B": 35}], {"A": 40, "B": 35, "C": NA}),
        # an export with an earlier extract date does not shorten the follow-up
        ([{"A": 40}, {"A": 10}], {"A": 40, "B": NA, "C": NA}),
        # a later export without follow-up for a patient keeps the earlier value
        ([{"A": 10}, {"C": 3}], {"A": 10, "B": NA, "C": 3}),
        # the same export twice
        ([{"A": 10, "B": 5}, {"A": 10, "B": 5}], {"A": 10, "B": 5, "C": NA}),
    ],
)
def test_follow_up_is_the_largest_of_the_active_batches(engine, imports, expected):
    for i, follow_up in enumerate(imports):
        store(engine, clinic(follow_up), name=f"export{i}.csv")
    assert loaded_follow_up(engine, snapshot=False) == expected
    assert loaded_follow_up(engine) == expected


def test_follow_up_is_not_a_patient_value_and_never_a_conflict(engine):
    first = store(engine, clinic({"A": 10, "B": 5}))
    before = load_clinic(engine)
    second = store(engine, clinic({"A": 40, "B": 35}), name="later.csv")
    assert second.counts["patients"] == {"added": 0, "unchanged": 3, "conflicting": 0}
    assert second.conflicts == 0
    assert list_conflicts(engine=engine).empty
    after = load_clinic(engine)
    # Only the follow-up changed; every other column of every table is as before.
    pdt.assert_frame_equal(
        after.patients.drop(columns=FOLLOW_UP_COLUMN),
        before.patients.drop(columns=FOLLOW_UP_COLUMN),
    )
    assert stored_rows(engine) == [
        (first.batch_id, "A", 10),
        (first.batch_id, "B", 5),
        (second.batch_id, "A", 40),
        (second.batch_id, "B", 35),
    ]


def test_reimporting_the_same_data_changes_nothing(engine):
    store(engine, clinic({"A": 10, "B": 5}))
    before = load_clinic(engine)
    again = store(engine, clinic({"A": 10, "B": 5}), name="again.csv")
    assert again.rows_added == 0
    assert again.conflicts == 0
    assert list_conflicts(engine=engine).empty
    assert_same_clinic(load_clinic(engine), before)


def test_rolling_back_the_later_batch_brings_back_the_earlier_follow_up(engine):
    first = store(engine, clinic({"A": 10, "B": 5}))
    after_first = load_clinic(engine)
    second = store(engine, clinic({"A": 40, "B": 35, "C": 2}), name="later.csv")
    assert loaded_follow_up(engine) == {"A": 40, "B": 35, "C": 2}
    result = rollback(second.batch_id, DIRECTOR, engine=engine)
    # The batch added no data rows; its follow-up rows go with it.
    assert sum(result.removed.values()) == 0
    assert [r for r in stored_rows(engine) if r[0] == second.batch_id] == []
    assert loaded_follow_up(engine) == {"A": 10, "B": 5, "C": NA}
    assert_same_clinic(load_clinic(engine), after_first)
    assert_same_clinic(load_clinic(engine, snapshot=False), after_first)
    rollback(first.batch_id, DIRECTOR, engine=engine)
    assert stored_rows(engine) == []


def test_rolling_back_the_earlier_batch_keeps_the_later_follow_up(engine):
    first = store(engine, clinic({"A": 10}, days={"A": [0, 2]}))
    store(engine, clinic({"A": 40, "B": 6}), name="later.csv")
    rollback(first.batch_id, DIRECTOR, engine=engine)
    # A's data rows went with the first batch (the second found them unchanged and added none),
    # so A is gone; B and C came with the second batch.
    assert loaded_follow_up(engine) == {"B": 6, "C": NA}


def test_a_patient_without_follow_up_reads_na(engine):
    store(engine, clinic({}))
    patients = load_clinic(engine).patients
    assert str(patients[FOLLOW_UP_COLUMN].dtype) == "Int64"
    assert patients[FOLLOW_UP_COLUMN].isna().all()
    assert stored_rows(engine) == []


def test_follow_up_sits_between_the_base_and_the_extra_patient_columns(engine):
    store(engine, clinic({"A": 10}, site={"A": "north", "B": "south", "C": "north"}))
    data = load_clinic(engine)
    assert list(data.patients.columns) == [*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN, "site"]
    assert data.extra_patient_columns == ("site",)


def test_the_snapshot_round_trips_the_follow_up(engine):
    store(engine, clinic({"A": 10, "B": 5}))
    first = load_clinic(engine)  # written by the import's refresh, read back here
    folder = snapshot_folder(engine)
    with engine.connect() as conn, conn.begin():
        key = snapshot_key(conn)
        frames = read_snapshot(folder, key, (), conn)
    assert frames is not None
    assert list(frames["patients"].columns) == [*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN]
    pdt.assert_series_equal(
        frames["patients"][FOLLOW_UP_COLUMN],
        pd.Series(pd.array([10, 5, None], dtype="Int64"), name=FOLLOW_UP_COLUMN),
    )
    assert_same_clinic(first, load_clinic(engine, snapshot=False))


def test_a_snapshot_without_the_follow_up_is_not_read(engine, caplog):
    store(engine, clinic({"A": 10}))
    folder = snapshot_folder(engine)
    with engine.connect() as conn, conn.begin():
        key = snapshot_key(conn)
    # The layout before follow-up, sound in every other respect (sizes and dtypes recorded).
    old = load_clinic(engine, snapshot=False).patients.drop(columns=FOLLOW_UP_COLUMN)
    file, meta = folder / key / "patients.arrow", folder / key / "meta.json"
    temp = file.with_suffix(".new")
    old.to_feather(temp, compression="uncompressed")
    os.replace(temp, file)  # a new file: a reader may still map the old one
    recorded = json.loads(meta.read_text())
    recorded["tables"]["patients"].update(
        bytes=file.stat().st_size, dtypes=[str(d) for d in old.dtypes]
    )
    meta.write_text(json.dumps(recorded))
    # Its digests recorded too, so that only the layout check can refuse it.
    digests = {p.name: file_sha256(p) for p in (folder / key).iterdir()}
    record_content_hashes(HASH_KIND, key, digests, key, engine=engine)
    with engine.connect() as conn, conn.begin():
        assert read_snapshot(folder, key, (), conn) is None
    assert "patients.arrow does not have the canonical columns" in caplog.text
    assert loaded_follow_up(engine) == {"A": 10, "B": NA, "C": NA}


# A's day 0 moves (its stored day 2 is not in the export): a patient-level conflict.
SHIFTED = {"A": [0, 5, 7], "B": [0], "C": [0]}


@pytest.mark.parametrize(
    "decision, expected",
    [
        # the export's days replace the stored ones: its follow-up counts, earlier ones do not
        ("replace", {"A": 50, "B": 35, "C": NA}),
        # the stored days stay: so does the follow-up counted from them
        ("keep", {"A": 60, "B": 35, "C": NA}),
    ],
)
def test_follow_up_counts_from_the_stored_day_0(engine, decision, expected):
    store(engine, clinic({"A": 60, "B": 5}))
    second = store(engine, clinic({"A": 50, "B": 35}, days=SHIFTED), name="shifted.csv")
    assert second.patient_conflicts == 1
    # while the conflict waits, A's days are the stored ones, and so is A's follow-up
    assert loaded_follow_up(engine) == {"A": 60, "B": 35, "C": NA}
    resolve_conflicts(second.batch_id, decision, DIRECTOR, engine=engine)
    assert loaded_follow_up(engine) == expected
    assert loaded_follow_up(engine, snapshot=False) == expected
    rollback(second.batch_id, DIRECTOR, engine=engine)
    assert loaded_follow_up(engine) == {"A": 60, "B": 5, "C": NA}


def test_an_upload_stores_the_follow_up_to_its_latest_date(engine):
    # fixtures.SESSIONS/ASSESSMENTS: A starts 2025-01-06, B 2025-02-03; latest date 2025-02-03
    first = import_upload(upload(), DIRECTOR, engine=engine)
    assert loaded_follow_up(engine) == {"A": 28, "B": 0}
    later = SESSIONS + "B,2025-03-03,IV ketamine,50\n"
    second = import_upload(upload(sessions=later), DIRECTOR, engine=engine)
    assert second.conflicts == 0
    assert second.counts["patients"]["conflicting"] == 0
    assert loaded_follow_up(engine) == {"A": 56, "B": 28}
    rollback(second.batch_id, DIRECTOR, engine=engine)
    assert loaded_follow_up(engine) == {"A": 28, "B": 0}
    assert {r[0] for r in stored_rows(engine)} == {first.batch_id}


def test_the_sample_clinic_stores_follow_up_and_the_first_import_removes_it(engine):
    sample = ensure_sample(engine=engine)
    patients = load_clinic(engine).patients
    known = patients[patients[FOLLOW_UP_COLUMN].notna()]
    assert len(known) > 0
    assert {r[0] for r in stored_rows(engine)} == {sample}
    assert len(stored_rows(engine)) == len(known)
    import_upload(upload(), DIRECTOR, engine=engine)
    assert sample not in {r[0] for r in stored_rows(engine)}
    assert loaded_follow_up(engine) == {"A": 28, "B": 0}


def test_follow_up_days_reads_one_row_per_patient(engine):
    store(engine, clinic({"A": 10, "B": 5}))
    store(engine, clinic({"A": 40}), name="later.csv")
    with engine.connect() as conn:
        frame = follow_up_days(conn).sort_values("patient_id", ignore_index=True)
    expected = pd.DataFrame(
        {
            "patient_id": pd.array(["A", "B"], dtype="string"),
            FOLLOW_UP_COLUMN: pd.array([40, 5], dtype="Int64"),
        }
    )
    pdt.assert_frame_equal(frame, expected)


def test_a_clinic_without_the_column_stores_no_follow_up(engine):
    data = clinic({"A": 10})
    store(engine, replace(data, patients=data.patients.drop(columns=FOLLOW_UP_COLUMN)))
    assert stored_rows(engine) == []
    assert loaded_follow_up(engine) == {"A": NA, "B": NA, "C": NA}
