"""Import batches: round trip, idempotence, conflicts, patient-level conflicts, rollback, sample.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics.core.contract import FOLLOW_UP_COLUMN
from analytics.ingest.importer import ImportOptions, import_folder
from store.audit import read_audit
from store.clinic import data_version, load_clinic
from store.conflicts import conflict_detail, list_conflicts, resolve_conflicts
from store.history import batch_details, list_batches
from store.imports import import_upload
from store.models import DATA_TABLES
from store.rollbacks import rollback
from store.sample import clear_sample, ensure_sample, sample_loaded
from store.snapshot import snapshot_folder
from store.users import User
from tests.store.fixtures import (  # noqa: F401
    ASSESSMENTS,
    DIRECTOR,
    SAMPLE,
    SESSIONS,
    TABLES,
    assert_same_clinic,
    engine_fixture,
    fresh_store,
    sample_files,
    upload,
)

STAFF = User("sam", "staff")
CLINICIAN = User("cleo", "clinician")


def stored_states(engine, name: str) -> pd.Series:
    table = DATA_TABLES[name]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.state, sa.func.count()).group_by(table.c.state))
        return pd.Series(dict(rows.all()))


def test_round_trip_of_the_sample_clinic(engine):
    result = import_upload(sample_files(), DIRECTOR, engine=engine)
    assert result.ok
    # data/sample/manifest.json: 250 patients, 2315 sessions, 2388 assessments, 1139 effects.
    assert result.counts["sessions"] == {"added": 2315, "unchanged": 0, "conflicting": 0}
    assert result.rows_added == 250 + 2315 + 2388 + 1139
    assert_same_clinic(load_clinic(engine), import_folder(SAMPLE).data)


def test_reimporting_the_same_export_adds_nothing(engine):
    first = import_upload(sample_files(), DIRECTOR, engine=engine)
    before, version = load_clinic(engine), data_version(engine)
    snapshots = sorted(p.name for p in snapshot_folder(engine).iterdir())
    again = import_upload(sample_files(), STAFF, engine=engine)
    assert again.rows_added == 0
    assert again.rows_conflicting == 0
    assert again.rows_unchanged == first.rows_added
    assert f"the same files as batch {first.batch_id} (by SHA-256)" in again.warnings[-2]
    # the clinic is what it was, so its data version and snapshot stay (nothing is worked out
    # again), while the batch itself is recorded
    assert again.notes[-1] == "nothing in the clinic changed: its numbers stay as they were"
    assert data_version(engine) == version
    assert sorted(p.name for p in snapshot_folder(engine).iterdir()) == snapshots
    assert list_batches(engine=engine)["batch_id"].max() == again.batch_id
    assert_same_clinic(load_clinic(engine), before)
    # rolling the batch back changes nothing either, but is a new version (it is counted)
    rollback(again.batch_id, DIRECTOR, engine=engine)
    assert_same_clinic(load_clinic(engine), before)


def test_the_same_export_with_a_later_cutoff_changes_the_clinic(engine):
    # the sample's last date is before today, so today as the extract date raises every
    # patient's follow-up days: news, not nothing
    import_upload(sample_files(), DIRECTOR, engine=engine)
    before, version = load_clinic(engine), data_version(engine)
    later = import_upload(
        sample_files(), STAFF, ImportOptions(extract_date=date.today()), engine=engine
    )
    assert later.rows_added == 0 and later.rows_conflicting == 0
    assert "nothing in the clinic changed: its numbers stay as they were" not in later.notes
    assert data_version(engine) != version
    after = load_clinic(engine)
    assert (after.patients[FOLLOW_UP_COLUMN] > before.patients[FOLLOW_UP_COLUMN]).all()


def test_batch_records_files_hashes_user_and_counts(engine):
    result = import_upload(upload(), STAFF, engine=engine)
    details = batch_details(result.batch_id, engine=engine)
    # sha256 of the exact bytes uploaded (hashlib, computed by hand in a shell).
    import hashlib

    assert details["files"] == [
        {
            "name": "sessions.csv",
            "sha256": hashlib.sha256(SESSIONS.encode()).hexdigest(),
            "table": "sessions",
        },
        {
            "name": "assessments.csv",
            "sha256": hashlib.sha256(ASSESSMENTS.encode()).hexdigest(),
            "table": "assessments",
        },
    ]
    assert details["username"] == "sam"
    assert (details["rows_added"], details["rows_unchanged"], details["rows_conflicting"]) == (
        2 + 3 + 3,
        0,
        0,
    )
    history = list_batches(engine)
    assert list(history.columns) == [
        "batch_id",
        "created_at",
        "username",
        "kind",
        "status",
        "files",
        "rows_added",
        "rows_unchanged",
        "rows_conflicting",
        "conflicts_pending",
        "warnings",
        "rolled_back_at",
        "rolled_back_by",
    ]
    assert history.loc[0, "files"] == "sessions.csv, assessments.csv"


def test_an_upload_with_errors_stores_nothing(engine):
    bad = {"sessions.csv": b"patient_id,session_date\nA,2025-01-06\n"}
    result = import_upload(bad, STAFF, engine=engine)
    assert not result.ok
    assert result.summary_lines()[0].endswith("nothing was imported.")
    assert list_batches(engine).empty
    refused = read_audit(engine, action="import_refused")
    assert refused.loc[0, "detail"] == {"files": ["sessions.csv"], "errors": 1}


CHANGED = ASSESSMENTS.replace("A,2025-01-20,PCL-5,30", "A,2025-01-20,PCL-5,28")


def pcl(engine, patient: str, day: int) -> float:
    a = load_clinic(engine).assessments
    return a.loc[(a["patient_id"] == patient) & (a["day"] == day), "total"].item()


def test_a_changed_value_is_a_conflict_until_replaced(engine):
    import_upload(upload(), STAFF, engine=engine)
    second = import_upload(upload(assessments=CHANGED), STAFF, engine=engine)
    assert second.counts["assessments"] == {"added": 0, "unchanged": 2, "conflicting": 1}
    assert (second.conflicts, second.patient_conflicts) == (1, 0)
    assert pcl(engine, "A", 14) == 30  # the stored value stays until someone decides
    conflicts = list_conflicts(second.batch_id, engine=engine)
    row = conflicts.iloc[0]
    assert (row["table"], row["patient_id"], row["day"], row["key"], row["columns"]) == (
        "assessments",
        "A",
        14,
        "PCL-5",
        "total",
    )
    detail = conflict_detail(int(row["conflict_id"]), engine=engine)
    assert detail.to_dict("records") == [{"column": "total", "stored": 30.0, "incoming": 28.0}]

    resolved = resolve_conflicts(second.batch_id, "replace", DIRECTOR, engine=engine)
    assert (resolved.replaced, resolved.kept) == (1, 0)
    assert pcl(engine, "A", 14) == 28
    # The replaced value stays in history.
    assert stored_states(engine, "assessments").to_dict() == {"current": 3, "replaced": 1}
    # Rolling back the replacing batch brings the old value back.
    rollback(second.batch_id, DIRECTOR, engine=engine)
    assert pcl(engine, "A", 14) == 30
    assert stored_states(engine, "assessments").to_dict() == {"current": 3}


def test_kept_values_are_not_asked_again(engine):
    import_upload(upload(), STAFF, engine=engine)
    second = import_upload(upload(assessments=CHANGED), STAFF, engine=engine)
    conflict_id = int(list_conflicts(second.batch_id, engine=engine)["conflict_id"].iloc[0])
    resolve_conflicts(second.batch_id, {conflict_id: "keep"}, DIRECTOR, engine=engine)
    assert pcl(engine, "A", 14) == 30
    third = import_upload(upload(assessments=CHANGED), STAFF, engine=engine)
    assert (third.rows_added, third.rows_conflicting, third.conflicts) == (0, 0, 0)
    assert list_conflicts(second.batch_id, engine=engine)["status"].tolist() == ["kept"]


@pytest.mark.parametrize(
    "decisions, user, error, match",
    [
        ({999: "replace"}, DIRECTOR, ValueError, "conflict 999 is not pending in batch 2"),
        ("merge", DIRECTOR, ValueError, "a decision is 'replace' or 'keep', not 'merge'"),
        ("replace", STAFF, PermissionError, "only a director can resolve conflicts"),
    ],
)
def test_resolve_refuses(engine, decisions, user, error, match):
    import_upload(upload(), STAFF, engine=engine)
    second = import_upload(upload(assessments=CHANGED), STAFF, engine=engine)
    assert second.batch_id == 2
    with pytest.raises(error, match=match):
        resolve_conflicts(second.batch_id, decisions, user, engine=engine)


EARLIER = (
    "patient_id,session_date,route,dose_mg\nA,2025-01-01,IV ketamine,40\n"
    + SESSIONS.split("\n", 1)[1]
)


def test_an_earlier_first_session_is_a_patient_conflict_not_a_rebase(engine):
    import_upload(upload(), STAFF, engine=engine)
    before = load_clinic(engine)
    second = import_upload(upload(sessions=EARLIER), STAFF, engine=engine)
    # A's days would all shift by 5 (stored day 2 is day 7 in the export): every row of A in
    # the batch waits as one conflict.
    assert second.patient_conflicts == 1
    assert second.counts["sessions"] == {"added": 0, "unchanged": 1, "conflicting": 3}
    assert_same_clinic(load_clinic(engine), before)
    conflicts = list_conflicts(second.batch_id, engine=engine)
    assert conflicts[["kind", "patient_id", "columns"]].values.tolist() == [
        ["patient", "A", "session days"]
    ]
    resolve_conflicts(second.batch_id, "replace", DIRECTOR, engine=engine)
    s = load_clinic(engine).sessions
    assert s.loc[s["patient_id"] == "A", "day"].tolist() == [0, 5, 7]
    a = load_clinic(engine).assessments
    assert a.loc[a["patient_id"] == "A", "day"].tolist() == [5, 19]
    rollback(second.batch_id, DIRECTOR, engine=engine)
    assert_same_clinic(load_clinic(engine), before)


MORE = SESSIONS + "C,2025-03-03,Spravato,56\n"
MORE_A = SESSIONS + "A,2025-01-10,IV ketamine,40\n"


def test_rollback_removes_exactly_the_batch_rows(engine):
    first = import_upload(upload(), STAFF, engine=engine)
    after_first = load_clinic(engine)
    second = import_upload(upload(sessions=MORE), STAFF, engine=engine)
    assert second.counts["sessions"]["added"] == 1
    assert second.counts["patients"]["added"] == 1
    version = data_version(engine)
    result = rollback(second.batch_id, DIRECTOR, engine=engine)
    assert result.removed == {"patients": 1, "sessions": 1, "assessments": 0, "side_effects": 0}
    assert data_version(engine) != version
    assert_same_clinic(load_clinic(engine), after_first)
    history = list_batches(engine).set_index("batch_id")
    assert history.loc[second.batch_id, "status"] == "rolled_back"
    assert history.loc[second.batch_id, "rolled_back_by"] == "dana"
    assert history.loc[first.batch_id, "status"] == "active"
    rollback(first.batch_id, DIRECTOR, engine=engine)
    assert load_clinic(engine).patients.empty


@pytest.mark.parametrize(
    "batch, user, error, match",
    [
        (1, DIRECTOR, ValueError, r"batch 1 cannot be rolled back while later batch\(es\) 2"),
        (99, DIRECTOR, ValueError, "no batch 99"),
        (2, STAFF, PermissionError, "only a director can roll back an import"),
    ],
)
def test_rollback_refuses(engine, batch, user, error, match):
    import_upload(upload(), STAFF, engine=engine)
    import_upload(upload(sessions=MORE_A), STAFF, engine=engine)
    with pytest.raises(error, match=match):
        rollback(batch, user, engine=engine)


def test_rollback_twice_is_refused(engine):
    batch = import_upload(upload(), STAFF, engine=engine).batch_id
    rollback(batch, "cli:nightly", engine=engine)
    with pytest.raises(ValueError, match="batch 1 was rolled back already"):
        rollback(batch, "cli:nightly", engine=engine)


def test_clinicians_do_not_import(engine):
    with pytest.raises(PermissionError, match="a clinician cannot import data"):
        import_upload(upload(), CLINICIAN, engine=engine)


def test_sample_is_loaded_once_and_cleared_by_a_director(engine):
    assert ensure_sample(engine=engine) == 1
    assert sample_loaded(engine)
    assert len(load_clinic(engine).patients) == 250
    assert ensure_sample(engine=engine) is None
    with pytest.raises(PermissionError, match="only a director can clear the sample data"):
        clear_sample(STAFF, engine=engine)
    assert clear_sample(DIRECTOR, engine=engine) == 1
    assert not sample_loaded(engine)
    assert load_clinic(engine).patients.empty
    # Cleared means cleared: a restart does not bring it back.
    assert ensure_sample(engine=engine) is None


def test_the_first_import_replaces_the_sample(engine):
    ensure_sample(engine=engine)
    result = import_upload(upload(), STAFF, engine=engine)
    assert any("sample clinic was removed" in w for w in result.warnings)
    assert not sample_loaded(engine)
    assert load_clinic(engine).patients["patient_id"].tolist() == ["A", "B"]


def test_the_first_import_leaves_every_index_of_the_data_tables_in_place(engine):
    # the load into an empty store builds the indexes after the rows: they must all be back
    assert import_upload(sample_files(), DIRECTOR, engine=engine).ok
    inspector = sa.inspect(engine)
    for name, table in DATA_TABLES.items():
        built = {index["name"] for index in inspector.get_indexes(name)}
        assert {index.name for index in table.indexes} <= built, name
    # and the partial unique index still refuses a second current row of one identity
    with pytest.raises(sa.exc.IntegrityError, match="(?i)unique|duplicate"), engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO patients (patient_id, batch_id, state) "
                "SELECT patient_id, batch_id, state FROM patients LIMIT 1"
            )
        )


def _every_stored_row(engine) -> dict:
    """Every row of every data table and of the conflicts, in every state, row ids included."""
    from store.models import Conflict

    out = {}
    with engine.connect() as conn:
        for name in TABLES:
            table = DATA_TABLES[name]
            out[name] = conn.execute(sa.select(table).order_by(table.c.row_id)).all()
        columns = [c for c in Conflict.__table__.columns if c.name != "created_at"]
        out["conflicts"] = conn.execute(sa.select(*columns).order_by(Conflict.id)).all()
    return out


LATER_EXPORTS = [
    upload(),
    upload(assessments=ASSESSMENTS.replace("A,2025-01-20,PCL-5,30", "A,2025-01-20,PCL-5,31")),
    upload(sessions=SESSIONS.replace("B,2025-02-03", "B,2025-02-01") + "C,2025-03-03,Spravato,5\n"),
    upload(
        sessions=SESSIONS.replace("IV ketamine,40\n", "IV ketamine,45\n"),
        assessments=ASSESSMENTS.replace("A,2025-01-20,PCL-5,30", "A,2025-01-20,PCL-5,31"),
    ),
]


def test_comparing_with_the_snapshot_stores_what_comparing_with_sql_does(
    engine, monkeypatch, tmp_path
):
    # An import compares the export with the stored current rows, taken from the verified
    # snapshot when there is one; with snapshots off they are read through SQL. Every stored
    # row and conflict, row ids included, must come out the same.
    for export in LATER_EXPORTS:
        assert import_upload(export, DIRECTOR, engine=engine).ok
    with_snapshot = _every_stored_row(engine)
    assert with_snapshot["conflicts"]  # the sequence does make conflicts
    monkeypatch.setenv("SNAPSHOT_DIR", "off")
    with fresh_store(engine.dialect.name, tmp_path / "without-snapshots.sqlite") as other:
        for export in LATER_EXPORTS:
            assert import_upload(export, DIRECTOR, engine=other).ok
        assert _every_stored_row(other) == with_snapshot
