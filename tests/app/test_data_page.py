"""The Data page with a clinic's own export: files told by name and content, user file names
kept, unknown spellings mapped on screen, the date order said or asked, presets restored."""

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.ingest import preview as ingest_preview
from store.db import make_engine, write_transaction
from tests.conftest import TEST_USERS

ROOT = Path(__file__).resolve().parents[2]
EXPORT = ROOT / "tests" / "data" / "clinic_export"
NAMES = [
    "Visits_Export_2025.csv",
    "PCL5_Scores.csv",
    "Adverse_Events.csv",
    "Patient_Demographics.csv",
]


def _data_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    name, password = TEST_USERS["director"]
    at.text_input(key="login_username").input(name)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    at.switch_page("app_pages/data.py").run()
    return at


def _upload(at: AppTest, files: dict[str, bytes]) -> AppTest:
    at.file_uploader(key="data_files").set_value(
        [(name, data, "text/csv") for name, data in files.items()]
    )
    return at.run()


def _export(**changed: bytes) -> dict[str, bytes]:
    files = {name: (EXPORT / name).read_bytes() for name in NAMES}
    return files | changed


def _table_boxes(at: AppTest) -> dict[str, str]:
    return {box.label: box.value for box in at.selectbox if str(box.key).startswith("table_of_")}


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


@pytest.fixture
def page(app_env, tmp_path, monkeypatch):
    st.cache_data.clear()  # the page caches its previews; each test starts afresh
    monkeypatch.chdir(tmp_path)  # presets are saved under var/ of the working folder
    (tmp_path / "dashboard.py").symlink_to(ROOT / "dashboard.py")
    return _data_page()


def test_every_file_of_the_export_gets_its_table_and_why(page):
    at = _upload(page, _export())
    assert not at.exception, [e.message for e in at.exception]
    assert _table_boxes(at) == {
        "Visits_Export_2025.csv": "sessions",
        "PCL5_Scores.csv": "assessments",
        "Adverse_Events.csv": "side_effects",
        "Patient_Demographics.csv": "patients",
    }
    captions = _captions(at)
    assert any("named like a visits file" in c and "Medication" in c for c in captions)
    assert any("named like an adverse events file" in c for c in captions)


def test_an_unknown_file_defaults_to_skip_and_can_be_chosen(page):
    at = _upload(page, {"notes.csv": b"a,b\n1,2\n"})
    assert _table_boxes(at) == {"notes.csv": "(skip)"}
    assert any("Not recognised" in c for c in _captions(at))
    assert any("Every file is skipped" in w.value for w in at.warning)


def test_unknown_spellings_are_offered_a_code(page):
    visits = (EXPORT / "Visits_Export_2025.csv").read_bytes().replace(b"IV Ketamine", b"Ket Inf", 3)
    at = _upload(page, _export(**{"Visits_Export_2025.csv": visits}))
    boxes = [b for b in at.selectbox if str(b.key).startswith("value_")]
    assert [b.label for b in boxes] == ["“Ket Inf” (3 rows)"]
    assert boxes[0].value is None
    # the choice list names each code with its label
    assert "iv_ketamine — IV ketamine" in boxes[0].options


def _with_date_order(monkeypatch, order):
    monkeypatch.setattr(ingest_preview, "date_order_of", lambda raw: order)


def test_a_certain_date_order_is_said_not_asked(page, monkeypatch):
    _with_date_order(monkeypatch, "mdy")
    at = _upload(page, _export())
    assert any(
        c.startswith("Dates read as month/day/year: ") and "makes it certain" in c
        for c in _captions(at)
    )
    assert not [r for r in at.radio if r.key == "data_date_order"]
    assert not at.button(key="data_validate").disabled


def test_an_uncertain_date_order_must_be_chosen_before_validate(page, monkeypatch):
    _with_date_order(monkeypatch, "ambiguous")
    at = _upload(page, _export())
    radio = at.radio(key="data_date_order")
    assert radio.value is None
    assert radio.options == ["Day first (25/03/2025)", "Month first (03/25/2025)"]
    assert at.button(key="data_validate").disabled
    at = radio.set_value("mdy").run()
    assert not at.button(key="data_validate").disabled


def test_the_import_keeps_the_users_file_names_and_chosen_tables(page, monkeypatch):
    calls = {}

    def fake_import(files, user, options, mapping, tables=None):
        calls.update(files=list(files), tables=tables, order=options.date_order)
        raise RuntimeError("stop here")

    import store

    monkeypatch.setattr(store, "import_upload", fake_import)
    _with_date_order(monkeypatch, "mdy")
    at = _upload(page, _export())
    at.button(key="data_validate").click().run()
    assert calls["files"] == NAMES
    assert calls["tables"] == {
        "Visits_Export_2025.csv": "sessions",
        "PCL5_Scores.csv": "assessments",
        "Adverse_Events.csv": "side_effects",
        "Patient_Demographics.csv": "patients",
    }
    assert calls["order"] == "mdy"


def test_a_saved_preset_restores_tables_values_and_date_order(page, monkeypatch):
    _with_date_order(monkeypatch, "ambiguous")
    visits = (EXPORT / "Visits_Export_2025.csv").read_bytes().replace(b"IV Ketamine", b"Ket Inf", 3)
    files = _export(**{"Visits_Export_2025.csv": visits}, **{"notes.csv": b"Pt,x\nA,1\n"})
    at = _upload(page, files)
    at.selectbox(key="table_of_Guess from the headers_notes.csv").set_value("(skip)")
    at.run()
    (value_box,) = [b for b in at.selectbox if str(b.key).startswith("value_")]
    value_box.set_value("iv_ketamine").run()
    at.radio(key="data_date_order").set_value("mdy").run()
    at.text_input(key="preset_name").input("clinic-ehr").run()
    at.button[[b.label for b in at.button].index("Save preset")].click().run()
    assert not at.exception, [e.message for e in at.exception]

    from analytics.ingest.mapping import load_preset

    saved = load_preset(Path("var/presets/clinic-ehr.json"))
    assert saved.values["route"] == {"Ket Inf": "iv_ketamine"}
    assert saved.date_order == "mdy"
    assert saved.tables["visitsexport"] == "sessions"

    at.run()  # the list of presets is read as the page starts
    at.selectbox(key="mapping_preset").set_value("clinic-ehr").run()
    assert not [b for b in at.selectbox if str(b.key).startswith("value_")]  # now known
    assert at.radio(key="data_date_order").value == "mdy"
    assert _table_boxes(at)["Visits_Export_2025.csv"] == "sessions"


def test_a_refused_upload_reports_every_row_of_each_problem(page):
    # 30 doses that are not numbers, 1 unknown route: 2 problems on 31 rows
    rows = "".join(f"P{i:03d},{i},iv,lots\n" for i in range(30)) + "P999,40,teleport,20\n"
    files = {"Visits_Export_2025.csv": f"Patient ID,Day,Route,Dose (mg)\n{rows}".encode()}
    at = _upload(page, files)
    at.button(key="data_validate").click().run()
    assert not at.exception, [e.message for e in at.exception]
    (error,) = at.error
    assert error.value.startswith("Nothing was imported: 2 problems to fix in 1 file, on 31 rows.")
    table = at.table[0].value
    assert table.columns.tolist() == [
        "Kind",
        "File",
        "Column",
        "What is wrong",
        "Rows",
        "Example rows",
    ]
    dose = table[table["Column"] == "Dose (mg)"].iloc[0]
    assert (dose["File"], dose["Rows"], dose["Example rows"]) == (
        "Visits_Export_2025.csv",
        "30",
        "2, 3, 4, 5, 6",
    )
    examples = at.table[1].value
    assert examples.loc[examples["Column"] == "Route", "Value"].tolist() == ["teleport"]
    assert (examples["Column"] == "Dose (mg)").sum() == 20  # the listed ones; all 30 counted


def test_an_import_waiting_on_a_held_lock_shows_the_stores_sentence(page, monkeypatch):
    monkeypatch.setenv("DATABASE_LOCK_TIMEOUT", "1")
    _with_date_order(monkeypatch, "mdy")
    at = _upload(page, _export())
    other = make_engine(os.environ["DATABASE_URL"])  # another program writing meanwhile
    with write_transaction(other):
        at.button(key="data_validate").click().run()
    other.dispose()
    assert not at.exception, [e.message for e in at.exception]
    (error,) = at.error
    assert error.value.startswith("The database ")
    assert "is busy" in error.value and "1 second" in error.value
    assert "Nothing was changed." in error.value
