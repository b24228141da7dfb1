"""Per-patient tables kept on disk across restarts (data only, whole or absent, pruned), and
figures kept per distinct arguments."""

import json
import os
import time

import pandas as pd
import pandas.testing as pdt
import pytest

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
