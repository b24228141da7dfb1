"""Where the app's data, cohort filters and settings live.

The loader is in one place (:func:`active_clinic`): it reads the clinic's database through the
``store`` package. Caching happens only here, at the UI boundary: every cached
function is a thin wrapper keyed by a data version string; the analytics stay pure.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData, empty_clinic
from ui.startup import SAMPLE_DIR, sample_dir

__all__ = [
    "BAND_LABELS",
    "CohortFilters",
    "DEFAULT_SETTINGS",
    "Loaded",
    "PageContext",
    "SAMPLE_DIR",
    "sample_dir",
    "active_clinic",
    "analytics_function",
    "build_context",
    "cache_dir",
    "call_cached",
    "current_definitions",
    "get_context",
    "render_sidebar",
    "overview",
    "settings",
    "warm_overview",
]


# Display bands of baseline PCL-5. Ours, not validated: PCL-5 has no validated severity bands;
# 33 is the probable-PTSD cut-point (Bovin et al. 2016, doi:10.1037/pas0000254).
BAND_EDGES = (33, 50)
BAND_LABELS = ("PCL-5 < 33", "PCL-5 33-49", "PCL-5 >= 50")
BAND_HELP = (
    "Our display bands of the baseline PCL-5 total. PCL-5 has no validated severity bands; "
    "33 is the probable-PTSD cut-point (Bovin et al. 2016)."
)

# Settings the user may change on the Settings page; None means "the instrument's default".
DEFAULT_SETTINGS: dict[str, Any] = {
    "response": None,
    "remission_cut": None,
    "reliability_r": None,
    "sd_pre": None,
    "windows": None,
}

SAMPLE_PREFIX = "sample-"
_SETTINGS_KEY = "clinic_settings"
_CONTEXT_KEY = "clinic_context"


# --------------------------------------------------------------------------- analytics access
_MOVED = {
    "contract": "core.contract",
    "problems": "core.problems",
    "instruments": "core.instruments",
    "definitions": "core.definitions",
    "stats": "core.stats",
    "reader": "ingest.reader",
    "phi": "ingest.identifiers",
    "mapping": "ingest.mapping",
    "redcap": "ingest.redcap",
    "vocab": "ingest.vocabularies",
    "scoring": "ingest.scoring",
    "schemas": "ingest.schemas",
    "importer": "ingest.importer",
    "timepoints": "metrics.timepoints",
    "outcomes": "metrics.outcomes",
    "durability": "metrics.durability",
    "attrition": "metrics.attrition",
    "activity": "metrics.activity",
    "trajectories": "metrics.trajectories",
    "groups": "metrics.groups",
    "pcl5_depth": "metrics.pcl5_depth",
    "not_on_track": "metrics.not_on_track",
    "claims": "metrics.claims",
    "safety": "metrics.safety",
    "summary": "report.summary",
    "overview": "report.overview",
    "label": "reference.spravato_label",
    "benchmarks": "reference.published",
}  # interim, while the pages move to direct calls


def analytics_function(module: str, name: str) -> Callable | None:
    """``analytics.<module>.<name>`` or None when that piece of the analytics is not there."""
    try:
        mod = importlib.import_module(f"analytics.{_MOVED.get(module, module)}")
    except ImportError:
        return None
    return getattr(mod, name, None)


def _available(module: str) -> bool:
    # find_spec does not import: a cache hit then costs no analytics import at all
    try:
        return importlib.util.find_spec(f"analytics.{_MOVED.get(module, module)}") is not None
    except ImportError:
        return False


@st.cache_data(max_entries=256, show_spinner=False)
def _cached_call(module: str, name: str, key: str, _args: tuple, _kwargs: dict) -> Any:
    return getattr(importlib.import_module(f"analytics.{_MOVED.get(module, module)}"), name)(
        *_args, **_kwargs
    )


# The synthetic sample's results are kept on disk (~/.streamlit/cache) so the app opens fast;
# an uploaded clinic's results stay in memory only.
@st.cache_data(max_entries=256, show_spinner=False, persist="disk")
def _cached_sample_call(module: str, name: str, key: str, _args: tuple, _kwargs: dict) -> Any:
    return getattr(importlib.import_module(f"analytics.{_MOVED.get(module, module)}"), name)(
        *_args, **_kwargs
    )


def call_cached(module: str, name: str, key: str, *args, **kwargs) -> Any:
    """Call ``analytics.<module>.<name>(*args, **kwargs)`` through the UI cache.

    ``key`` must identify every input (data version, cohort filters, definitions, options); the
    arguments themselves are not hashed, so large frames cost nothing to look up. Returns None
    when the module is not available.
    """
    if not _available(module):
        return None
    if key.startswith(SAMPLE_PREFIX):
        return _cached_sample_call(module, name, key, args, kwargs)
    return _cached_call(module, name, key, args, kwargs)


@functools.cache
def code_version() -> str:
    """Fingerprint of the analytics code, so cached sample results follow code changes."""
    h = hashlib.sha1()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.glob("analytics/**/*.py")):
        stat = path.stat()
        h.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- the loaded clinic
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

    While the database holds only the sample clinic, the key is the SHA-256 of the sample's
    files and the code version, so its results can come from the disk cache across restarts
    and databases. Any other content is keyed by the database and its data version, and its
    results stay in memory.
    """
    from store import list_batches, sample_loaded
    from store.batches import batch_details

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


# --------------------------------------------------------------------------- the overview
KEEP_OVERVIEWS = 4  # prepared Overviews kept on disk (data versions x definitions)


def cache_dir() -> Path:
    """Where results kept across restarts live: ``DASHBOARD_CACHE_DIR``, else ``var/cache``."""
    default = Path(__file__).resolve().parents[1] / "var" / "cache"
    return Path(os.environ.get("DASHBOARD_CACHE_DIR") or default)


def _read_kept(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except Exception:  # missing, half-written by a killed process or from older code: recompute
        return None


def _keep(path: Path, value: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, path)  # atomic: a reader sees the old file or the whole new one
        # keep the newest few: older data versions are not shown again
        kept = sorted(path.parent.glob("overview-*.pickle"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_OVERVIEWS]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only disk only costs the next start a recomputation


# Each patient's share of the Overview, worked out once per data version and definitions, kept
# in memory (cache_resource: read only, never copied) and on disk (it survives a restart).
@st.cache_resource(max_entries=4, show_spinner="Preparing the overview…")
def _overview_parts(version: str, definitions_key: str, _data: ClinicData, _definitions):
    from analytics.report.overview import OverviewParts, overview_parts

    digest = hashlib.sha1(f"{version}|{definitions_key}|{code_version()}".encode()).hexdigest()
    path = cache_dir() / f"overview-{digest[:20]}.pickle"
    parts = _read_kept(path)
    if isinstance(parts, OverviewParts):
        return parts
    parts = overview_parts(_data, _definitions)
    _keep(path, parts)
    return parts


@st.cache_data(max_entries=64, show_spinner=False)
def _overview_numbers(key: str, _parts, _ids) -> dict:
    from analytics.report.overview import overview_numbers

    return overview_numbers(_parts, _ids)


def overview(context: PageContext, definitions) -> dict:
    """The Overview's numbers for the page's cohort (:func:`analytics.report.overview.overview_numbers`).

    A filter change only adds up per-patient rows: the per-patient parts are computed once per
    data version and definitions.
    """
    definitions_key = repr(definitions)
    loaded = context.loaded
    parts = _overview_parts(loaded.version, definitions_key, loaded.data, definitions)
    return _overview_numbers(f"{context.key}|overview|{definitions_key}", parts, context.ids)


def warm_overview(definitions) -> None:
    """Prepare the Overview of the stored clinic now (after an import), not on its first visit."""
    loaded = active_clinic()
    if loaded.source != "none":
        _overview_parts(loaded.version, repr(definitions), loaded.data, definitions)


# --------------------------------------------------------------------------- settings
def settings() -> dict[str, Any]:
    """The outcome definitions the user chose (a copy); defaults until changed."""
    stored = st.session_state.get(_SETTINGS_KEY)
    return dict(DEFAULT_SETTINGS if stored is None else stored)


def save_settings(values: dict[str, Any]) -> None:
    st.session_state[_SETTINGS_KEY] = {**DEFAULT_SETTINGS, **values}


def reset_settings() -> None:
    st.session_state.pop(_SETTINGS_KEY, None)


def settings_key(values: dict[str, Any] | None = None) -> str:
    values = settings() if values is None else values
    return json.dumps(values, sort_keys=True, default=str)


def definition_overrides(values: dict[str, Any], instrument: str = "PCL-5") -> dict[str, Any]:
    """The settings as keyword overrides of ``OutcomeDefinitions.for_instrument(instrument)``.

    A chosen response rule, reliability r and the windows apply to every instrument; the
    remission cut and the baseline SD are PCL-5 points, so they apply to the PCL-5 only. None
    leaves the analytics' default for the instrument.
    """
    overrides: dict[str, Any] = {}
    if values.get("response"):
        overrides["response"] = str(values["response"])
    if values.get("reliability_r") is not None:
        overrides["reliability_r"] = float(values["reliability_r"])
    if instrument == "PCL-5" and values.get("remission_cut") is not None:
        overrides["remission_below"] = float(values["remission_cut"])
    if instrument == "PCL-5" and values.get("sd_pre") is not None:
        overrides["reliability_sd"] = float(values["sd_pre"])
    if values.get("windows"):
        window = analytics_function("definitions", "Window")
        overrides["windows"] = tuple(window(*row) for row in values["windows"])
    return overrides


def current_definitions(instrument: str = "PCL-5"):
    """``OutcomeDefinitions`` for ``instrument`` with the user's settings, or None if missing.

    Raises
    ------
    ValueError
        When a setting is not accepted by the definitions (the Settings page shows it).
    """
    defs = analytics_function("definitions", "OutcomeDefinitions")
    if defs is None:
        return None
    return defs.for_instrument(instrument, **definition_overrides(settings(), instrument))


# --------------------------------------------------------------------------- cohort filters
@dataclass(frozen=True)
class CohortFilters:
    """What the sidebar asked for; an empty tuple means "no restriction".

    ``extra`` holds ``(column, values)`` pairs for extra ``patients`` columns.
    """

    years: tuple = ()
    routes: tuple = ()
    sites: tuple = ()
    clinicians: tuple = ()
    bands: tuple = ()
    extra: tuple = ()

    @property
    def active(self) -> bool:
        return any((self.years, self.routes, self.sites, self.clinicians, self.bands, self.extra))

    def key(self) -> str:
        return json.dumps(
            [self.years, self.routes, self.sites, self.clinicians, self.bands, self.extra],
            default=str,
        )


def _options(series: pd.Series) -> list:
    return sorted(series.dropna().unique().tolist())


@st.cache_data(max_entries=8, show_spinner=False)
def _filter_options(version: str, _data: ClinicData) -> dict[str, list]:
    p, s = _data.patients, _data.sessions
    options = {
        "years": [int(y) for y in _options(p["first_session_year"])],
        "routes": _options(p["route"]),
        "sites": _options(s["site"]),
        "clinicians": _options(s["clinician"]),
    }
    for column in _data.extra_patient_columns:
        if column in ("site", "clinician", "route"):
            continue  # already offered from the sessions table
        values = _options(p[column])
        # free-text columns (one value per patient) make poor filters
        if 1 < len(values) <= 30:
            options[f"extra:{column}"] = values
    return options


@st.cache_data(max_entries=8, show_spinner=False)
def baseline_bands(version: str, _data: ClinicData) -> pd.Series:
    """Baseline PCL-5 display band per patient id (index), from the analytics' baselines."""
    baselines = patient_baselines(version, _data, "PCL-5")
    if baselines is None or baselines.empty:
        return pd.Series(dtype="string")
    bands = pd.cut(
        baselines,
        bins=[-float("inf"), *BAND_EDGES, float("inf")],
        right=False,
        labels=list(BAND_LABELS),
    )
    return bands.astype("string")


def patient_baselines(version: str, data: ClinicData, instrument: str) -> pd.Series | None:
    """Baseline total per patient id from ``analytics.metrics.timepoints.baseline_scores``."""
    defs = analytics_function("definitions", "OutcomeDefinitions")
    if defs is None:
        return None
    # Bands use the default baseline look-back, so changing a setting does not move a patient.
    definitions = defs.for_instrument(instrument)
    frame = call_cached(
        "timepoints", "baseline_scores", f"{version}|baseline|{instrument}", data, definitions
    )
    if frame is None or "baseline" not in frame:
        return None
    return frame.set_index("patient_id")["baseline"].dropna()


# cache_resource: ids and cohorts are only read, and copying a cohort of millions of rows on
# every run would cost more than the page.
@st.cache_resource(max_entries=32, show_spinner=False)
def _cohort_ids(version: str, filters_key: str, _data: ClinicData, _filters: CohortFilters):
    """The ids the filters keep, or None when no filter is on (every patient)."""
    if not _filters.active:
        return None
    p = _data.patients
    keep = pd.Series(True, index=p.index)
    if _filters.years:
        keep &= p["first_session_year"].isin(_filters.years)
    if _filters.routes:
        keep &= p["route"].isin(_filters.routes)
    for column, values in _filters.extra:
        keep &= p[column].isin(values)
    ids = p.loc[keep, "patient_id"]
    # isin_ids hashes integer codes: a string isin over millions of sessions takes seconds
    from analytics.core.ids import isin_ids

    for column, values in (("site", _filters.sites), ("clinician", _filters.clinicians)):
        if values:
            members = _session_members(version, column, _data)
            ids = ids[isin_ids(ids, members.loc[members[column].isin(values), "patient_id"])]
    if _filters.bands:
        bands = baseline_bands(version, _data)
        ids = ids[isin_ids(ids, bands.index[bands.isin(_filters.bands)])]
    return pd.Index(ids.drop_duplicates())


@st.cache_resource(max_entries=8, show_spinner=False)
def _session_members(version: str, column: str, _data: ClinicData) -> pd.DataFrame:
    from analytics.report.overview import session_members

    return session_members(_data, column)


@st.cache_resource(max_entries=4, show_spinner=False)
def _filtered(version: str, filters_key: str, _data: ClinicData, _filters: CohortFilters):
    ids = _cohort_ids(version, filters_key, _data, _filters)
    return _data if ids is None else _data.with_patients(ids)


def render_sidebar(loaded: Loaded) -> CohortFilters:
    """Draw the cohort filters in the sidebar and return what they ask for."""
    options = _filter_options(loaded.version, loaded.data)
    sb = st.sidebar
    sb.subheader("Cohort")
    chosen: dict[str, tuple] = {}
    for key, label, help_text in (
        ("years", "First-session year", "Year of each patient's first treatment session."),
        ("routes", "Route", "Route of the patient's first session."),
        ("sites", "Site", "Patients with at least one session at the chosen sites."),
        ("clinicians", "Clinician", "Patients with at least one session with the clinicians."),
    ):
        if options.get(key):
            chosen[key] = tuple(
                sb.multiselect(
                    label,
                    options[key],
                    key=f"filter_{key}",
                    placeholder="All",
                    help=help_text,
                    format_func=_route_label if key == "routes" else str,
                )
            )
    extra = []
    for key, values in options.items():
        if key.startswith("extra:"):
            column = key.removeprefix("extra:")
            picked = sb.multiselect(
                column.replace("_", " ").capitalize(),
                values,
                key=f"filter_{key}",
                placeholder="All",
                help=f"Column '{column}' of patients.csv.",
            )
            if picked:
                extra.append((column, tuple(picked)))
    bands = sb.multiselect(
        "Baseline PCL-5 (display bands)",
        list(BAND_LABELS),
        key="filter_bands",
        placeholder="All",
        help=BAND_HELP,
    )
    return CohortFilters(
        years=chosen.get("years", ()),
        routes=chosen.get("routes", ()),
        sites=chosen.get("sites", ()),
        clinicians=chosen.get("clinicians", ()),
        bands=tuple(bands),
        extra=tuple(extra),
    )


def _route_label(code: str) -> str:
    from ui.figures import route_label

    return route_label(code)


# --------------------------------------------------------------------------- page context
@dataclass(frozen=True)
class PageContext:
    """Everything a page needs: the loaded clinic, the cohort and the cache key.

    ``ids`` are the patients the filters keep (None: every patient); ``data``, the clinic cut
    down to them, is made on first use, so a page that only adds up per-patient numbers (the
    Overview) never copies the cohort's tables.
    """

    loaded: Loaded
    filters: CohortFilters
    ids: pd.Index | None
    key: str

    @property
    def data(self) -> ClinicData:
        return _filtered(self.loaded.version, self.filters.key(), self.loaded.data, self.filters)

    @property
    def n_patients(self) -> int:
        if self.ids is None:
            return int(self.loaded.data.patients["patient_id"].nunique())
        return len(self.ids)

    @property
    def empty(self) -> bool:
        return self.n_patients == 0


def build_context(loaded: Loaded, filters: CohortFilters) -> PageContext:
    ids = _cohort_ids(loaded.version, filters.key(), loaded.data, filters)
    key = f"{loaded.version}|{filters.key()}|{settings_key()}"
    context = PageContext(loaded, filters, ids, key)
    st.session_state[_CONTEXT_KEY] = context
    return context


def get_context() -> PageContext:
    """The context the router built for this run (rebuilt if a page runs on its own)."""
    context = st.session_state.get(_CONTEXT_KEY)
    if context is None:
        context = build_context(active_clinic(), CohortFilters())
    return context


def render_definitions_sidebar() -> None:
    """The definitions in force, one expander away in the sidebar."""
    with st.sidebar.expander("Definitions in force", icon=":material/menu_book:"):
        try:
            definitions = current_definitions()
        except ValueError as error:
            st.warning(f"A setting was not accepted: {error}")
            return
        if definitions is None:
            st.caption("Outcome definitions (analytics.core.definitions) are not available yet.")
            return
        for name, text in definitions.describe().items():
            if isinstance(text, list):
                text = "; ".join(map(str, text))
            elif isinstance(text, dict):
                text = ", ".join(f"{k} {v}" for k, v in text.items())
            st.markdown(f"**{name.replace('_', ' ').capitalize()}**: {text}")
        st.caption("Change them on the Settings page.")
