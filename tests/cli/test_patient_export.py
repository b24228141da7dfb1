"""``python -m analytics export-patients``: a spreadsheet recomputes every headline rate.

The recomputation reads the exported CSV with plain pandas and nothing of the project: each
count of ``summary --json`` is a COUNTIFS or a SUM over the export's columns, as a clinic's
analyst would do it in Excel. The tables below are the spec: summary path -> spreadsheet
computation. Every k and n must be the summary's, every rate the same to 1e-12.
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


def run(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The sample's export (no suppression) and its summary, both made by the command line."""
    folder = tmp_path_factory.mktemp("export")
    out = folder / "patients.csv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", f"sqlite:///{folder / 'clinic.sqlite'}")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(["export-patients", str(SAMPLE), "--out", str(out), "--no-suppress"]) == 0
            assert main(["summary", str(SAMPLE), "--json"]) == 0
        dispose_engines()
    first, _, summary = printed.getvalue().partition("\n")
    assert first.startswith(f"wrote {out}: per-patient rows of 250 patients (All patients)")
    return pd.read_csv(out), json.loads(summary)


# ---------------------------------------------------------------------------- the spreadsheet
# What an analyst types, written with pandas: no project code below this line.
def countifs(rows: pd.DataFrame, **criteria) -> int:
    """COUNTIFS: rows where every column equals its value (blank never equals 1 or 0)."""
    mask = pd.Series(True, index=rows.index)
    for column, value in criteria.items():
        mask &= rows[column] == value
    return int(mask.sum())


def k_of(event: str, among: list[str]):
    """k: rows with ``event`` 1 among rows with every ``among`` flag 1; n: those rows."""

    def compute(rows: pd.DataFrame) -> tuple[int, int]:
        within = (rows[among] == 1).all(axis=1)
        return int((rows.loc[within, event] == 1).sum()), int(within.sum())

    return compute


def sessions_of(events: str, recorded: str):
    """Per session: SUM(events) over SUM(recorded)."""
    return lambda rows: (int(rows[events].sum()), int(rows[recorded].sum()))


def patients_of(events: str, recorded: str):
    """Per patient: COUNTIF(events, ">0") over COUNTIF(recorded, ">0")."""
    return lambda rows: (int((rows[events] > 0).sum()), int((rows[recorded] > 0).sum()))


def analysis_of(days: str, event: str):
    """Kaplan-Meier n and events: COUNT(days) and COUNTIFS(days, "<>", event, 1)."""

    def compute(rows: pd.DataFrame) -> tuple[int, int]:
        inside = rows[days].notna()
        return int((rows.loc[inside, event] == 1).sum()), int(inside.sum())

    return compute


def effect_column(code: str) -> str:
    return f"Side effect: {code.replace('_', ' ').capitalize()} (sessions)"


# fmt: off
# summary path                       -> the spreadsheet's count (k, n)
# per timepoint ("T" is its label, e.g. "week 4"):
TIMEPOINT_SPEC = {
    "response":                        k_of("T: Responder", ["T: Scored"]),
    "response_itt":                    k_of("T: Responder", ["T: Due"]),
    "remission":                       k_of("T: Remitter", ["T: Scored", "T: Remission eligible"]),
    "remission_itt":                   k_of("T: Remitter", ["T: Due", "T: Remission eligible"]),
    "meaningful":                      k_of("T: Meaningful improvement", ["T: Scored"]),
    "meaningful_itt":                  k_of("T: Meaningful improvement", ["T: Due"]),
    "deterioration":                   k_of("T: Deterioration", ["T: Scored"]),
    "meaningful_worsening":            k_of("T: Meaningful worsening", ["T: Scored"]),
    "reliable_change.improved":        k_of("T: Reliable improvement", ["T: Scored"]),
    "reliable_change.deteriorated":    k_of("T: Reliable deterioration", ["T: Scored"]),
}
# once per cohort:
COHORT_SPEC = {
    "durability.sustained.week 8":      k_of("Sustained at week 8: still responding",
                                             ["Sustained at week 8: scored"]),
    "durability.sustained_itt.week 8":  k_of("Sustained at week 8: still responding",
                                             ["Sustained at week 8: due"]),
    "durability.sustained.week 12":     k_of("Sustained at week 12: still responding",
                                             ["Sustained at week 12: scored"]),
    "durability.sustained_itt.week 12": k_of("Sustained at week 12: still responding",
                                             ["Sustained at week 12: due"]),
    "durability.time_to_response":      analysis_of("Time to response (days)",
                                                    "Time to response: responded"),
    "durability.loss_of_response":      analysis_of("Loss of response (days)",
                                                    "Loss of response: lost"),
    "durability.relapse_after_remission": analysis_of("Relapse after remission (days)",
                                                      "Relapse after remission: relapsed"),
    "blood_pressure.pre_dose_above.sessions": sessions_of("BP: sessions above pre-dose threshold",
                                                          "BP: sessions with pre-dose reading"),
    "blood_pressure.pre_dose_above.patients": patients_of("BP: sessions above pre-dose threshold",
                                                          "BP: sessions with pre-dose reading"),
    "blood_pressure.rise.sessions":     sessions_of("BP: sessions with a rise",
                                                    "BP: sessions with rise readings"),
    "blood_pressure.rise.patients":     patients_of("BP: sessions with a rise",
                                                    "BP: sessions with rise readings"),
    "blood_pressure.systolic_rise.sessions": sessions_of("BP: sessions with a systolic rise",
                                                         "BP: sessions with systolic readings"),
    "blood_pressure.systolic_rise.patients": patients_of("BP: sessions with a systolic rise",
                                                         "BP: sessions with systolic readings"),
    "blood_pressure.diastolic_rise.sessions": sessions_of("BP: sessions with a diastolic rise",
                                                          "BP: sessions with diastolic readings"),
    "blood_pressure.diastolic_rise.patients": patients_of("BP: sessions with a diastolic rise",
                                                          "BP: sessions with diastolic readings"),
    "dissociation.session_flag.sessions": sessions_of("Dissociation flag: sessions yes",
                                                      "Dissociation flag: sessions recorded"),
    "dissociation.session_flag.patients": patients_of("Dissociation flag: sessions yes",
                                                      "Dissociation flag: sessions recorded"),
}
# each entry of side_effects, by its "effect" code (reported effects, then the session flags):
SESSION_FLAG_COLUMNS = {
    "dissociation_flag": ("Dissociation flag: sessions yes", "Dissociation flag: sessions recorded"),
    "sedation_flag": ("Sedation flag: sessions yes", "Sedation flag: sessions recorded"),
}
# fmt: on


def side_effect_spec(code: str) -> dict:
    events, recorded = SESSION_FLAG_COLUMNS.get(code, (effect_column(code), "Session rows"))
    return {"patients": patients_of(events, recorded), "sessions": sessions_of(events, recorded)}


def at_path(block: dict, path: str):
    for key in path.split("."):
        block = block[key]
    return block


def assert_k_n(found: tuple[int, int], block: dict, where: str) -> None:
    """The spreadsheet's (k, n) against a rate (k, n, rate) or a Kaplan-Meier block (events, n)."""
    k, n = found
    if isinstance(block, int):  # reliable change: a count, of the timepoint's n
        assert k == block, where
        return
    if "events" in block:
        assert (k, n) == (block["events"], block["n"]), where
        return
    assert (k, n) == (block["k"], block["n"]), where
    if n:
        assert k / n == pytest.approx(block["rate"], abs=1e-12), where


def test_the_counts(exported):
    rows, summary = exported
    assert len(rows) == rows["Patient"].nunique() == summary["counts"]["patients"]
    assert rows["Sessions (one per day)"].sum() == summary["counts"]["sessions"]
    assert rows["Session rows"].sum() == summary["exposure"]["sessions"]
    assert (rows["Session rows"] > 0).sum() == summary["exposure"]["patients"]
    assert rows["Baseline PCL-5"].count() == summary["baseline"]["n"]
    assert rows["Baseline PCL-5"].mean() == pytest.approx(summary["baseline"]["mean"], abs=1e-12)
    assert rows["Baseline PCL-5"].std() == pytest.approx(summary["baseline"]["sd"], abs=1e-12)


def test_every_timepoint(exported):
    rows, summary = exported
    assert len(summary["timepoints"]) >= 8
    for tp in summary["timepoints"]:
        label = tp["label"]
        columns = rows.rename(columns=lambda c: c.replace(f"{label}:", "T:", 1))
        assert countifs(columns, **{"T: Scored": 1}) == tp["n"] == tp["reliable_change"]["n"]
        for path, compute in TIMEPOINT_SPEC.items():
            assert_k_n(compute(columns), at_path(tp, path), f"{label}: {path}")
        scored = columns[columns["T: Scored"] == 1]
        assert scored["T: Change"].mean() == pytest.approx(tp["mean_change"], abs=1e-12)
        assert scored["T: Score"].mean() == pytest.approx(tp["mean"], abs=1e-12)


def test_the_reliable_change_threshold_is_the_summarys(exported):
    """A reliable improvement is a change beyond minus the summary's threshold, to the patient."""
    rows, summary = exported
    for tp in summary["timepoints"]:
        label, threshold = tp["label"], tp["reliable_change"]["threshold_points"]
        scored = rows[rows[f"{label}: Scored"] == 1]
        change = scored[f"{label}: Change"]
        assert ((change < -threshold) == (scored[f"{label}: Reliable improvement"] == 1)).all()
        assert ((change > threshold) == (scored[f"{label}: Reliable deterioration"] == 1)).all()


@pytest.mark.parametrize("path", list(COHORT_SPEC))
def test_durability_blood_pressure_and_dissociation(exported, path):
    rows, summary = exported
    assert_k_n(COHORT_SPEC[path](rows), at_path(summary, path), path)


def test_every_side_effect_per_patient_and_per_session(exported):
    rows, summary = exported
    effects = summary["side_effects"]
    assert len(effects) >= 12 and {"dissociation_flag", "sedation_flag"} <= {
        e["effect"] for e in effects
    }
    for effect in effects:
        for level, compute in side_effect_spec(effect["effect"]).items():
            assert_k_n(compute(rows), effect[level], f"{effect['effect']} per {level}")


def test_flags_are_one_zero_or_blank(exported):
    rows, _ = exported
    flags = [c for c in rows if c.endswith((": Scored", ": Due", ": Responder", ": Remitter"))]
    assert flags and all(set(rows[c].dropna().unique()) <= {0, 1} for c in flags)
    # a timepoint's outcome applies to the patients scored there: blank otherwise
    assert rows.loc[rows["week 4: Scored"] == 0, "week 4: Responder"].isna().all()
    assert rows.loc[rows["week 4: Scored"] == 1, "week 4: Responder"].notna().all()


# ---------------------------------------------------------------------------- the workbook
@pytest.fixture()
def stored(app_env):
    yield app_env
    dispose_engines()


def test_a_workbook_of_one_route_holds_its_patients_and_is_audited(stored, tmp_path, capsys):
    out = tmp_path / "iv.xlsx"
    printed = run(
        ["export-patients", str(stored), "--out", str(out), "--route", "IV ketamine",
         "--user", "analyst"],
        capsys,
    )  # fmt: skip
    assert printed == (
        f"wrote {out}: per-patient rows, summary and definitions of 147 patients (IV ketamine); "
        "summary small-cell suppression on\n"
    )
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Patients", "Summary", "Definitions"]
    patients = pd.DataFrame(book["Patients"].values)
    header, body = list(patients.iloc[0]), patients.iloc[1:]
    assert len(body) == 147
    assert set(body[header.index("Route (first session)")]) == {"IV ketamine"}
    summary = pd.DataFrame(book["Summary"].values)
    assert "<11" in set(summary.iloc[1:, 3].astype(str))  # a suppressed k in the summary sheet
    definitions = " ".join(str(v) for v in pd.DataFrame(book["Definitions"].values)[1])
    assert "data use agreement" in definitions and "Applied to the Summary sheet" in definitions
    entries = read_audit(action="export")
    assert entries["username"].tolist() == ["analyst"]
    assert entries["detail"].iloc[0] == {
        "what": "patient export",
        "file": "iv.xlsx",
        "rows": 147,
        "cohort": "IV ketamine",
        "instrument": "PCL-5",
        "suppression": True,
        "source": "folder",
    }


def test_a_filtered_csv_holds_only_that_cohort(stored, tmp_path, capsys):
    out = tmp_path / "nasal.csv"
    run(["export-patients", str(stored), "--out", str(out), "--route", "esketamine_nasal",
         "--no-suppress"], capsys)  # fmt: skip
    rows = pd.read_csv(out)
    sessions = pd.read_csv(stored / "sessions.csv")
    assert len(rows) == 250 - 147
    assert set(rows["Route (first session)"]) == {"Esketamine nasal spray (Spravato)"}
    assert set(rows["Patient"]) <= set(sessions["patient_id"])
    detail = read_audit(action="export")["detail"].iloc[0]
    assert (detail["cohort"], detail["suppression"], detail["rows"]) == (
        "Esketamine nasal spray (Spravato)",
        False,
        103,
    )


def test_without_a_folder_the_database_is_exported(stored, tmp_path, capsys):
    out = tmp_path / "stored.csv"
    printed = run(["export-patients", "--out", str(out)], capsys)
    assert "250 patients (All patients)" in printed
    assert len(pd.read_csv(out)) == 250
    assert read_audit(action="export")["detail"].iloc[0]["source"] == "database"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "p.json"], "--out must name a .csv or .xlsx file, not p.json"),
        (["--out", "p.csv", "--year", "1999"], "--year: no first-session year 1999"),
        (["--out", "p.xlsx", "--where", "colour=red"], "--where: no patients column 'colour'"),
    ],
)
def test_bad_options_are_refused_in_words_and_nothing_is_written(
    stored, tmp_path, capsys, argv, message
):
    argv = [str(tmp_path / a) if a.startswith("p.") else a for a in argv]
    assert main(["export-patients", str(stored), *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.glob("p.*")) == []
    assert read_audit(action="export").empty
