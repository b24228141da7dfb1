"""The clinic the app shows: read from the store once per data version.

The loader is in one place (:func:`active_clinic`): it reads the clinic's database through the
``store`` package, and the frames are kept in memory until an import, rollback or resolved
conflict changes the data version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData, empty_clinic

__all__ = ["Loaded", "active_clinic"]


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
    """The cache key and source of the stored clinic at ``data_version``
    (:func:`store.patient_tables.clinic_version`), asked once per data version."""
    from store.patient_tables import clinic_version

    return clinic_version(url=url, version=data_version)


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
