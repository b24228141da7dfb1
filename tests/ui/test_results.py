"""The pages' caches: a tampered kept table is never served nor unpickled by the Overview, and
figures are kept per distinct arguments."""

import json
import pickle

import pandas as pd
import pytest
import streamlit as st

from store.db import dispose_engines
from store.patient_tables import read_kept_table
from tests.app.test_overview_page import WEEK4_SENTENCE
from tests.app.test_pages import signed_in_app
from ui import results

VERSION = "db-test-1-0-0"


class _Marker:
    """Unpickling this creates the marker file (as a crafted cache file could run any code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


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
            assert read_kept_table(folder) is not None
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
        dispose_engines()


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
