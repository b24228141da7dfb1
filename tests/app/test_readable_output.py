"""Every table and download the app offers, read as a person reads it: no raw column name, no
code where a word belongs, no unrounded number.

Each page runs headless (Streamlit's AppTest, in this process) as each role that may see it,
on the sample clinic. Before it runs, ``st.download_button`` is wrapped to keep every file the
page offers, and :data:`ui.labels.STRICT` is on, so a table with a column that has no title
stops the page with :class:`ui.labels.UnlabelledColumnError` naming it.
"""

import io
import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.ingest.vocabularies import ROUTES
from tests.conftest import TEST_USERS
from ui.labels import looks_raw

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "tests" / "data" / "clinic_export"

# Cells that are codes, not words: a route code, the ITT abbreviation, any snake_case value.
RAW_CODES = {*ROUTES, "itt"}
SNAKE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+")
# The most decimals a number may show (p-values have three; rates, scores one).
MAX_DECIMALS = 3
TOO_PRECISE = re.compile(rf"-?\d+\.\d{{{MAX_DECIMALS + 1},}}")


def _case(role: str, page: str):
    return pytest.param(role, page, id=f"{role}-{page}")


CASES = [
    *(
        _case("director", f"app_pages/{name}.py")
        for name in (
            "overview",
            "outcomes",
            "durability",
            "safety",
            "cohorts",
            "claims",
            "data",
            "settings",
            "imports",
            "audit",
            "users",
        )
    ),
    *(
        _case("clinician", f"app_pages/{name}.py")
        for name in ("overview", "outcomes", "durability", "safety", "cohorts", "claims")
    ),
    _case("clinician", "app_pages/settings.py"),
    _case("staff", "app_pages/data.py"),
]


# --------------------------------------------------------------------------- recording
@pytest.fixture
def downloads(monkeypatch):
    """Every ``st.download_button`` a page draws, as (label, file name, payload)."""
    seen: list[tuple[str, str, bytes]] = []
    original = st.download_button

    def recording(label, data, file_name=None, *args, **kwargs):
        payload = data() if callable(data) else data  # a download built on click
        payload = payload.encode() if isinstance(payload, str) else payload
        seen.append((label, file_name, payload))
        return original(label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", recording)
    monkeypatch.setattr("ui.labels.STRICT", True)
    return seen


def _signed_in(role: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    name, password = TEST_USERS[role]
    at.text_input(key="login_username").input(name)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


def _open(role: str, page: str, downloads: list | None = None) -> AppTest:
    at = _signed_in(role)
    if downloads is not None:
        downloads.clear()  # those of the landing page
    at.switch_page(page)
    return at.run()


# --------------------------------------------------------------------------- checks
def _cell_problems(where: str, column: str, values) -> list[str]:
    found = []
    for value in values:
        if isinstance(value, float) and not pd.isna(value):
            if round(value, MAX_DECIMALS) != value:
                found.append(f"{where}: {column!r} has the unrounded number {value!r}")
                break
        elif isinstance(value, str):
            text = value.strip()
            if text in RAW_CODES or SNAKE.fullmatch(text):
                found.append(f"{where}: {column!r} shows the code {text!r}")
                break
            if TOO_PRECISE.fullmatch(text):
                found.append(f"{where}: {column!r} has the unrounded number {text}")
                break
    return found


def _table_problems(where: str, frame: pd.DataFrame) -> list[str]:
    found = [f"{where}: raw column title {c!r}" for c in frame.columns if looks_raw(c)]
    for column in frame.columns:
        found += _cell_problems(where, str(column), frame[column].tolist())
    return found


def _download_problems(label: str, file_name: str, payload: bytes) -> list[str]:
    where = f"download {file_name!r}"
    if not str(file_name).endswith(".csv"):
        return []  # a column mapping (JSON) is read by the app, not by a person
    frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
    return _table_problems(where, frame)


def _page_problems(at: AppTest, downloads) -> list[str]:
    problems = [f"exception: {e.message}" for e in at.exception]
    for kind in ("dataframe", "table"):
        for i, element in enumerate(getattr(at, kind)):
            problems += _table_problems(f"{kind} {i}", element.value)
    for label, file_name, payload in downloads:
        problems += _download_problems(label, file_name, payload)
    return problems


# --------------------------------------------------------------------------- every page
@pytest.mark.parametrize("role, page", CASES)
def test_every_table_and_download_reads_in_words(app_env, downloads, role, page):
    at = _open(role, page, downloads)
    assert at.title, "the page drew nothing"
    assert _page_problems(at, downloads) == []


def test_a_filtered_download_names_its_cohort(app_env, downloads):
    at = _open("director", "app_pages/safety.py", downloads)
    at.multiselect(key="filter_routes").set_value(["iv_ketamine"]).run()
    assert not at.exception, [e.message for e in at.exception]
    line = " ".join(m.value for m in at.markdown)
    assert "IV ketamine ·" in line and "of 250 patients" in line
    files = {name: payload for _, name, payload in downloads}
    assert any(name.endswith("_iv-ketamine.csv") for name in files), sorted(files)
    frame = pd.read_csv(io.BytesIO(next(p for n, p in files.items() if "iv-ketamine" in n)))
    assert set(frame["Cohort"]) == {"IV ketamine"}


def test_clear_filters_shows_every_patient_again(app_env, downloads):
    at = _open("director", "app_pages/overview.py")
    at.multiselect(key="filter_routes").set_value(["iv_ketamine"]).run()
    at.button(key="clear_filters").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.multiselect(key="filter_routes").value == []
    assert not [b for b in at.button if b.key == "clear_filters"]


# --------------------------------------------------------------------------- data page
def _upload(at: AppTest, files: dict[str, bytes]) -> AppTest:
    at.file_uploader(key="data_files").set_value(
        [(name, data, "text/csv") for name, data in files.items()]
    )
    return at.run()


@pytest.fixture
def data_page(app_env, downloads, tmp_path, monkeypatch):
    st.cache_data.clear()  # the page caches its previews
    monkeypatch.chdir(tmp_path)  # presets would be saved under var/ of the working folder
    (tmp_path / "dashboard.py").symlink_to(ROOT / "dashboard.py")
    return _open("director", "app_pages/data.py", downloads)


def test_the_column_mapping_of_an_export_reads_in_words(data_page, downloads):
    files = {p.name: p.read_bytes() for p in sorted(EXPORT.glob("*.csv"))}
    at = _upload(data_page, files)
    assert at.dataframe, "no column mapping shown"
    assert _page_problems(at, downloads) == []


def test_a_refused_upload_reports_and_downloads_in_words(data_page, downloads):
    rows = "".join(f"P{i:03d},{i},iv,lots\n" for i in range(3)) + "P999,40,teleport,20\n"
    at = _upload(
        data_page, {"Visits_Export_2025.csv": f"Patient ID,Day,Route,Dose (mg)\n{rows}".encode()}
    )
    at.button(key="data_validate").click().run()
    assert at.table, "no validation report shown"
    assert [name for _, name, _ in downloads] == ["validation_report.csv"]
    assert _page_problems(at, downloads) == []


# --------------------------------------------------------------------------- sample banner
@pytest.mark.parametrize(
    "role, says, never",
    [
        ("director", "import your clinic's files on the Data page", None),
        ("clinician", "once the director or staff import", "Data page"),
        ("staff", "Import your clinic's files on this page", "on the Data page"),
    ],
)
def test_the_sample_banner_says_what_the_role_can_do(app_env, role, says, never):
    at = _signed_in(role)
    (banner,) = [i.value for i in at.info if "Sample data" in i.value]
    assert says.lower() in banner.lower()
    assert never is None or never not in banner


# --------------------------------------------------------------------------- import history
def test_conflicts_and_their_decisions_read_in_words(conflicting_upload, downloads):
    from store import import_upload

    files = conflicting_upload
    assert import_upload(files, "staff-test").conflicts == 1
    at = _open("director", "app_pages/imports.py", downloads)
    pending = _page_problems(at, downloads)
    at.button(key="conflicts_keep_all").click().run()
    assert pending + _page_problems(at, downloads) == []
    assert any("0 replaced, 1 kept." in s.value for s in at.success)
