"""Per-patient tables kept on disk across restarts (data only, whole or absent, pruned, read
back only when every file has the digest the database recorded), and figures kept per distinct
arguments."""

import json
import os
import pickle
import time

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa
import streamlit as st

from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from store import content_hashes, get_engine
from store.content import file_sha256
from store.db import dispose_engines
from store.models import ContentHash
from tests.app.test_overview_page import WEEK4_SENTENCE
from tests.app.test_pages import signed_in_app
from ui import results

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
    results.keep_on_disk(table, folder, VERSION)
    back = results.read_kept(folder)
    pdt.assert_frame_equal(back.patients, table.patients)
    pdt.assert_frame_equal(back.long["x_long"], table.long["x_long"])
    assert back.meta == table.meta
    assert back.keep(["P2"]).tolist() == [False, False, True]
    assert not list(tmp_path.glob(".part-*"))  # written beside, then renamed into place
    # data files only: Parquet and JSON, nothing that runs code when read
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".parquet", ".parquet"]
    # each file's digest recorded, with the clinic's data version
    recorded = content_hashes(results.HASH_KIND, folder.name)
    assert recorded == {p.name: file_sha256(p) for p in folder.iterdir()}
    with database.connect() as conn:
        versions = conn.execute(sa.select(ContentHash.data_version).distinct()).scalars().all()
    assert versions == [VERSION]


def test_a_missing_or_damaged_table_reads_as_none(database, tmp_path):
    assert results.read_kept(tmp_path / "patients-missing") is None
    folder = tmp_path / "patients-damaged"
    results.keep_on_disk(_table(), folder, VERSION)
    (folder / "patients.parquet").write_bytes(b"not parquet")
    assert results.read_kept(folder) is None


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
    results.keep_on_disk(_table(), folder, VERSION)
    tamper(folder)
    assert results.read_kept(folder) is None
    assert f"ignoring the kept per-patient table patients-a: {logged}" in caplog.text
    assert not (tmp_path / "marker").exists()
    # kept again (as the page does after recomputing it): read back from then on
    results.keep_on_disk(_table(), folder, VERSION)
    back = results.read_kept(folder)
    assert back.patients["x_score"].tolist() == [0.0, 1.0, 2.0]


def test_a_table_whose_digests_cannot_be_recorded_is_not_kept(database, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("the database is read-only"))

    monkeypatch.setattr("store.record_content_hashes", refuse)
    results.keep_on_disk(_table(), tmp_path / "patients-a", VERSION)
    assert not (tmp_path / "patients-a").exists()


def test_only_the_newest_tables_are_kept(database, tmp_path):
    now = time.time()
    for i in range(results.KEEP_TABLES + 3):
        folder = tmp_path / f"patients-{i}"
        results.keep_on_disk(_table(), folder, VERSION)
        os.utime(folder, (now - 100 + i, now - 100 + i))
    results.keep_on_disk(_table(), tmp_path / "patients-newest", VERSION)
    left = sorted(p.name for p in tmp_path.glob("patients-*"))
    assert len(left) == results.KEEP_TABLES
    assert "patients-newest" in left
    assert "patients-0" not in left
    # the pruned tables' records went with them
    with database.connect() as conn:
        keys = conn.execute(sa.select(ContentHash.key).distinct()).scalars().all()
    assert sorted(keys) == left


def test_a_read_only_folder_costs_only_a_recomputation(database, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    results.keep_on_disk(_table(), blocked / "patients-a", VERSION)  # no exception
    assert results.read_kept(blocked / "patients-a") is None


def _forge_responders(folder) -> None:
    """Every patient scored at a timepoint made a responder, in a valid Parquet file."""
    file = folder / "long-timepoints.parquet"
    frame = pd.read_parquet(file)
    frame["responder"] = frame["observed"]
    frame.to_parquet(file, index=False)


def _plant_pickles(folder) -> None:
    """Crafted pickles named like the kept files, inside the kept folder and beside it."""
    payload = pickle.dumps(_Marker(folder.parent / "marker"))
    for name in ("patients.parquet", "meta.json", "patients.pkl", "table.pickle"):
        (folder / name).write_bytes(payload)
    for name in (f"{folder.name}.pkl", f"{folder.name}.pickle", "patients.pkl", "cache.pickle"):
        (folder.parent / name).write_bytes(payload)


@pytest.mark.parametrize("tamper", [_forge_responders, _plant_pickles])
def test_the_overview_never_serves_or_unpickles_a_tampered_cache(
    app_env, tmp_path, monkeypatch, tamper
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(cache))
    try:
        # Cleared so that the page reads the disk rather than this process's memory.
        st.cache_resource.clear()
        st.cache_data.clear()
        at = signed_in_app("app_pages/overview.py")
        assert WEEK4_SENTENCE in [c.value for c in at.caption]
        kept = sorted(cache.glob("patients-*"))
        assert kept
        for folder in kept:
            tamper(folder)
        st.cache_resource.clear()
        st.cache_data.clear()
        at = signed_in_app("app_pages/overview.py")
        assert not at.exception, [e.message for e in at.exception]
        assert WEEK4_SENTENCE in [c.value for c in at.caption]  # the database's numbers
        assert not (cache / "marker").exists()
        # rebuilt and kept again, with its digests recorded
        for folder in kept:
            assert results.read_kept(folder) is not None
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
        dispose_engines()


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert results.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DASHBOARD_CACHE_DIR")
    assert results.cache_dir().parts[-2:] == ("var", "cache")


# ------------------------------------------------------------------------- kept figures
def _bars(frame: pd.DataFrame, *, title: str = "t"):
    """A small figure function, counting its calls (a kept figure is not built again)."""
    import plotly.graph_objects as go

    _bars.calls += 1
    return go.Figure(go.Bar(x=frame["x"], y=frame["y"]), layout=dict(title=title))


_bars.calls = 0
_FRAME = pd.DataFrame({"x": ["a", "b"], "y": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("other", "same"),
    [
        # same content, another object: the same key
        (lambda: (_FRAME.copy(),), True),
        # one value, a column name, a dtype, the index changed: another key
        (lambda: (_FRAME.assign(y=[1.0, 2.5]),), False),
        (lambda: (_FRAME.rename(columns={"y": "z"}),), False),
        (lambda: (_FRAME.astype({"y": "float32"}),), False),
        (lambda: (_FRAME.set_axis([5, 6]),), False),
        # a frame cut to its first rows prints like the whole one: digested, not printed
        (lambda: (pd.concat([_FRAME] * 40, ignore_index=True),), False),
    ],
)
def test_a_figure_key_follows_the_content_of_its_arguments(other, same):
    assert (results.figure_key(_bars, *other()) == results.figure_key(_bars, _FRAME)) is same


def test_a_figure_key_follows_keyword_arguments_and_the_function():
    key = results.figure_key(_bars, _FRAME, title="t")
    assert key == results.figure_key(_bars, _FRAME, title="t")
    assert key != results.figure_key(_bars, _FRAME, title="u")
    assert key != results.figure_key(test_a_figure_key_follows_the_content_of_its_arguments, _FRAME)


def test_arguments_that_cannot_be_digested_have_no_key():
    assert results.figure_key(_bars, pd.DataFrame({"x": [[1], [2]]})) is None


def _without_template(fig) -> dict:
    drawn = json.loads(fig.to_json())
    drawn["layout"].pop("template", None)
    return drawn


def test_a_kept_figure_is_built_once_and_handed_out_as_a_copy():
    results.kept_figure.clear()
    before = _bars.calls
    first = results.figure(_bars, _FRAME, title="kept")
    second = results.figure(_bars, _FRAME.copy(), title="kept")
    assert _bars.calls == before + 1
    # (the template is left out: Streamlit sets Plotly's default one when it first caches)
    fresh = _bars(_FRAME, title="kept")
    assert first.to_json() == second.to_json()
    assert _without_template(first) == _without_template(fresh)
    first.update_layout(height=420)  # the caller's copy: the kept figure is not changed
    assert second.layout.height is None
    assert results.figure(_bars, _FRAME, title="kept").layout.height is None


def test_a_figure_of_undigestable_arguments_is_built_every_time():
    def build(frame):
        return _bars(pd.DataFrame({"x": ["a"], "y": [float(len(frame))]}))

    before = _bars.calls
    odd = pd.DataFrame({"x": [[1], [2]]})
    results.figure(build, odd)
    results.figure(build, odd)
    assert _bars.calls == before + 2
