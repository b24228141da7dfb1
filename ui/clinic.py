"""The clinic the app shows: read from the store once per data version.

The loader is in one place (:func:`active_clinic`): it reads the clinic's database through the
``store`` package, and the frames are kept in memory until an import, rollback or resolved
conflict changes the data version.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData, empty_clinic

__all__ = ["Loaded", "SAMPLE_PREFIX", "active_clinic", "code_version"]

SAMPLE_PREFIX = "sample-"


@functools.cache
def code_version() -> str:
    """Fingerprint of the analytics code, so results kept on disk follow code changes."""
    h = hashlib.sha1()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.glob("analytics/**/*.py")):
        stat = path.stat()
        h.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Loaded:
    """The clinic the app is showing.

    Attributes
    ----------
    data : ClinicData
        The canonical tables (empty when nothing could be loaded).
    source : {"sample", "database", "none"}
    label : str
        What to call it on screen.
    version : str
        Changes whenever the data changes; every cache key starts with it.
    problems : pandas.DataFrame
        The import's problem table (warnings of a successful import).
    note : str
        Why nothing is loaded, when ``source == "none"``.
    """

    data: ClinicData
    source: str
    label: str
    version: str
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""


@st.cache_data(max_entries=8, show_spinner=False)
def _stored_version(url: str, data_version: str) -> tuple[str, str]:
    """The cache key and source of the stored clinic at ``data_version``.

    While the database holds only the sample clinic, the key is the digest of the sample's
    files and the code version, so its per-patient table can come from the disk across
    restarts and databases. Any other content is keyed by the database and its data version.
    """
    from store import batch_details, list_batches, sample_loaded

    if sample_loaded():
        active = list_batches()
        active = active[(active["status"] == "active") & (active["kind"] == "sample")]
        digests = sorted(
            f["sha256"] for f in batch_details(int(active["batch_id"].iloc[0]))["files"]
        )
        digest = hashlib.sha1("".join(digests).encode()).hexdigest()[:12]
        return f"{SAMPLE_PREFIX}{digest}-{code_version()}", "sample"
    where = hashlib.sha1(url.encode()).hexdigest()[:8]
    return f"db-{where}-{data_version}", "database"


# cache_resource, not cache_data: the frames are only read, and a copy per run of a clinic of
# millions of rows would cost more than the page itself.
@st.cache_resource(max_entries=2, show_spinner="Loading the clinic…")
def _stored_clinic(url: str, version: str) -> ClinicData:
    from store import load_clinic

    return load_clinic()


def active_clinic() -> Loaded:
    """The clinic as stored in the database (the sample clinic until the first import).

    Read through ``store.load_clinic`` and cached per data version, which changes after every
    import, rollback and resolved conflict: the next run after one of those reads again.
    """
    from store import data_version
    from store.config import database_url

    url = database_url()
    version, source = _stored_version(url, data_version())
    data = _stored_clinic(url, version)
    if data.patients.empty:
        note = "The database holds no patients: import the clinic's exports on the Data page."
        return Loaded(empty_clinic(), "none", "No data", version, pd.DataFrame(), note)
    if source == "sample":
        return Loaded(data, "sample", "Sample data — synthetic clinic", version)
    label = f"The clinic's data ({len(data.patients):,} patients)"
    return Loaded(data, "database", label, version)
