"""Results kept on disk across restarts: atomic, pruned, and recomputed when unreadable."""

import os
import time

from ui import state


def test_a_kept_value_reads_back(tmp_path):
    path = tmp_path / "overview-a.pickle"
    state._keep(path, {"n": 3})
    assert state._read_kept(path) == {"n": 3}
    assert not list(tmp_path.glob("*.part"))  # written beside, then renamed into place


def test_a_missing_or_damaged_file_reads_as_none(tmp_path):
    assert state._read_kept(tmp_path / "overview-missing.pickle") is None
    damaged = tmp_path / "overview-damaged.pickle"
    damaged.write_bytes(b"\x80\x05not a pickle")
    assert state._read_kept(damaged) is None


def test_only_the_newest_overviews_are_kept(tmp_path):
    now = time.time()
    for i in range(state.KEEP_OVERVIEWS + 3):
        path = tmp_path / f"overview-{i}.pickle"
        state._keep(path, i)
        os.utime(path, (now - 100 + i, now - 100 + i))
    state._keep(tmp_path / "overview-newest.pickle", "newest")
    left = sorted(p.name for p in tmp_path.glob("overview-*.pickle"))
    assert len(left) == state.KEEP_OVERVIEWS
    assert "overview-newest.pickle" in left
    assert "overview-0.pickle" not in left


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert state.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("DASHBOARD_CACHE_DIR")
    assert state.cache_dir().parts[-2:] == ("var", "cache")
