"""``python -m analytics export-patients``: a spreadsheet recomputes every headline rate.

The recomputation below reads the CSV with plain pandas and nothing of the project: each rate of
``summary --json`` is a sum of 1/0 columns over a sum of their denominator, as a clinic's
analyst would do it in Excel (``SUMIFS`` over ``SUMIFS``). Every k and n must be the summary's.
"""

from __future__ import annotations

import contextlib
import io
import json

import openpyxl
import pandas as pd
import pytest

from cli.main import main
from store.audit import read_audit
from store.db import dispose_engines
from tests.conftest import SAMPLE


def run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The sample's export (no suppression) and its summary, made through the command line."""
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", f"sqlite:///{folder / 'clinic.sqlite'}")
        run(["export-patients", str(SAMPLE), "--out", str(folder / "patients.csv"),
             "--no-suppress"])  # fmt: skip
        summary = json.loads(run(["summary", str(SAMPLE), "--json"]))
        dispose_engines()
    return pd.read_csv(folder / "patients.csv"), summary


def k_n(rows: pd.DataFrame, event: str, among: str | list[str]) -> tuple[int, int]:
    """k: rows with ``event`` 1 among those with every ``among`` column 1; n: those rows."""
    among = [among] if isinstance(among, str) else among
    mask = (rows[among] == 1).all(axis=1)
    return int((rows.loc[mask, event] == 1).sum()), int(mask.sum())


def sessions_k_n(rows: pd.DataFrame, events: str, exposed: str) -> tuple[int, int]:
    return int(rows[events].sum()), int(rows[exposed].sum())


def patients_k_n(rows: pd.DataFrame, events: str, exposed: str) -> tuple[int, int]:
    return int((rows[events] > 0).sum()), int((rows[exposed] > 0).sum())


def test_counts(exported):
    rows, summary = exported
    assert len(rows) == summary["counts"]["patients"] == rows["Patient"].nunique()
    assert rows["Sessions (one per day)"].sum() == summary["counts"]["sessions"]
    assert rows["Baseline PCL-5"].notna().sum() == summary["baseline"]["n"]
    assert rows["Baseline PCL-5"].mean() == pytest.approx(summary["baseline"]["mean"], abs=1e-12)


# summary key -> (event column, denominator columns); "T" is the timepoint's label.
TIMEPOINT_RATES = {
    "response": ("T: responder", ["T: scored"]),
    "response_itt": ("T: responder", ["T: due"]),
    "remission": ("T: remitter", ["T: scored", "T: remission eligible"]),
    "remission_itt": ("T: remitter", ["T: due", "T: remission eligible"]),
    "meaningful": ("T: meaningful improvement", ["T: scored"]),
    "meaningful_itt": ("T: meaningful improvement", ["T: due"]),
    "deterioration": ("T: deterioration", ["T: scored"]),
    "meaningful_worsening": ("T: meaningful worsening", ["T: scored"]),
}


def at(label: str, column: str) -> str:
    return column.replace("T:", f"{label}:")


def test_every_timepoint_rate(exported):
    rows, summary = exported
    checked = 0
    for tp in summary["timepoints"]:
        label = tp["label"]
        assert int((rows[f"{label}: scored"] == 1).sum()) == tp["n"], label
        for key, (event, among) in TIMEPOINT_RATES.items():
            k, n = k_n(rows, at(label, event), [at(label, c) for c in among])
            assert (k, n) == (tp[key]["k"], tp[key]["n"]), (label, key)
            if n:
                assert k / n == pytest.approx(tp[key]["rate"], abs=1e-12)
            checked += 1
        rc = tp["reliable_change"]
        scored = rows[rows[f"{label}: scored"] == 1]
        assert int((scored[f"{label}: reliable improvement"] == 1).sum()) == rc["improved"]
        assert int((scored[f"{label}: reliable deterioration"] == 1).sum()) == rc["deteriorated"]
        assert len(scored) == rc["n"]
        assert scored[f"{label}: change"].mean() == pytest.approx(tp["mean_change"], abs=1e-9)
    assert checked == 8 * len(summary["timepoints"]) >= 8


@pytest.mark.parametrize("week", ["week 8", "week 12"])
def test_sustained_response(exported, week):
    rows, summary = exported
    sustained = f"Sustained at {week}"
    observed = k_n(rows, f"{sustained}: still responding", f"{sustained}: scored")
    itt = k_n(rows, f"{sustained}: still responding", f"{sustained}: due")
    assert observed == tuple(summary["durability"]["sustained"][week][x] for x in ("k", "n"))
    assert itt == tuple(summary["durability"]["sustained_itt"][week][x] for x in ("k", "n"))


@pytest.mark.parametrize(
    ("key", "days", "event"),
    [
        ("time_to_response", "Time to response (days)", "Time to response: responded"),
        ("loss_of_response", "Loss of response (days)", "Loss of response: lost"),
        ("relapse_after_remission", "Relapse after remission (days)",
         "Relapse after remission: relapsed"),
    ],
)  # fmt: skip
def test_durability_analyses(exported, key, days, event):
    rows, summary = exported
    block = summary["durability"][key]
    in_analysis = rows[days].notna()
    assert int(in_analysis.sum()) == block["n"]
    assert int((rows.loc[in_analysis, event] == 1).sum()) == block["events"]


def test_every_side_effect_per_patient_and_per_session(exported):
    rows, summary = exported
    reported = [e for e in summary["side_effects"] if e["basis"] == "report"]
    assert len(reported) >= 10
    for effect in reported:
        column = f"Side effect: {effect['effect'].replace('_', ' ')} (sessions)"
        assert patients_k_n(rows, column, "Session rows") == (
            effect["patients"]["k"], effect["patients"]["n"]
        ), effect["effect"]  # fmt: skip
        assert sessions_k_n(rows, column, "Session rows") == (
            effect["sessions"]["k"], effect["sessions"]["n"]
        ), effect["effect"]  # fmt: skip


# summary key -> (sessions with the flag, sessions where it could be told)
BLOOD_PRESSURE = {
    "pre_dose_above": ("BP: sessions above pre-dose threshold", "BP: sessions with pre-dose reading"),
    "rise": ("BP: sessions with a rise", "BP: sessions with rise readings"),
    "systolic_rise": ("BP: sessions with a systolic rise", "BP: sessions with systolic readings"),
    "diastolic_rise": ("BP: sessions with a diastolic rise", "BP: sessions with diastolic readings"),
}  # fmt: skip


@pytest.mark.parametrize("key", list(BLOOD_PRESSURE))
def test_blood_pressure_flags(exported, key):
    rows, summary = exported
    events, recorded = BLOOD_PRESSURE[key]
    block = summary["blood_pressure"][key]
    assert sessions_k_n(rows, events, recorded) == (block["sessions"]["k"], block["sessions"]["n"])
    # per patient: at least once, among patients with a session
    assert patients_k_n(rows, events, "Session rows") == (
        block["patients"]["k"], block["patients"]["n"]
    )  # fmt: skip


def test_dissociation_session_flag(exported):
    rows, summary = exported
    flag = summary["dissociation"]["session_flag"]
    yes, told = "Dissociation flag: sessions yes", "Dissociation flag: sessions recorded"
    assert sessions_k_n(rows, yes, told) == (flag["sessions"]["k"], flag["sessions"]["n"])
    assert patients_k_n(rows, yes, "Session rows") == (flag["patients"]["k"], flag["patients"]["n"])


# ---------------------------------------------------------------------------- the workbook
@pytest.fixture()
def stored(app_env):
    yield app_env
    dispose_engines()


def test_workbook_has_patients_summary_and_definitions(stored, tmp_path):
    out = tmp_path / "iv.xlsx"
    printed = run(["export-patients", str(stored), "--out", str(out), "--route", "IV ketamine",
                   "--user", "analyst"])  # fmt: skip
    assert "147 patients (IV ketamine); summary small-cell suppression on" in printed
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Patients", "Summary", "Definitions"]
    patients = pd.DataFrame(book["Patients"].values)
    assert len(patients) - 1 == 147
    assert set(patients.iloc[1:, 1]) == {"IV ketamine"}
    summary = pd.DataFrame(book["Summary"].values)
    assert "<11" in set(summary.iloc[1:, 3].astype(str))  # suppressed k in the summary sheet
    definitions = " ".join(str(v) for v in pd.DataFrame(book["Definitions"].values)[1])
    assert "data use agreement" in definitions
    (user, detail), *_ = [(r.username, r.detail) for r in read_audit(action="export").itertuples()]
    assert user == "analyst"
    assert detail == {
        "what": "patient export",
        "file": "iv.xlsx",
        "rows": 147,
        "cohort": "IV ketamine",
        "instrument": "PCL-5",
        "suppression": True,
        "source": "folder",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "p.json"], "--out must name a .csv or .xlsx file"),
        (["--out", "p.csv", "--year", "1999"], "--year"),
    ],
)
def test_bad_options_are_refused_in_words(stored, tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a.startswith("p.") else a for a in argv]
    assert main(["export-patients", *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.glob("p.*")) == []
