"""Write ``tests/data/clinic_export/``: part of the synthetic sample clinic written the way a
clinic's records system exports it, for the tests that import such a folder with no flags.

What differs from the contract, on purpose: the files' own names ("Visits_Export_2025.csv"),
the system's headers ("Patient ID", "Visit Date", "Medication"), US dates (month/day/year, some
with a time of day), brand and dose-suffixed route spellings ("Spravato 56mg", "Esketamine
(Spravato)"), adjective effect spellings ("felt dizzy", "Nauseous", "Drowsy") and blood pressure
written as one "142/85" cell. Run ``python tests/data/make_clinic_export.py`` to write it again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
OUT = Path(__file__).resolve().parent / "clinic_export"
N_PATIENTS = 60

ROUTES = {
    "esketamine_nasal": ["Esketamine (Spravato)", "Spravato 56mg", "Spravato 84 mg"],
    "iv_ketamine": ["Ketamine IV infusion", "IV Ketamine"],
}
EFFECTS = {
    "dizziness": "felt dizzy",
    "nausea": "Nauseous",
    "sedation": "Drowsy",
    "headache": "Headache",
    "dissociation": "Dissociation",
    "vomiting": "Vomiting",
    "anxiety": "Anxious",
}


def us_date(iso: pd.Series, with_time: bool = False) -> pd.Series:
    """2025-08-05 -> 8/5/2025 (and a time of day on every third row when ``with_time``)."""
    day = pd.to_datetime(iso)
    text = day.dt.month.astype(str) + "/" + day.dt.day.astype(str) + "/" + day.dt.year.astype(str)
    if with_time:
        times = pd.Series(["9:30 AM", "", "2:15 PM"] * (len(text) // 3 + 1))[: len(text)]
        text = (text + " " + times.to_numpy()).str.strip()
    return text


def route_code(route: pd.Series) -> pd.Series:
    text = route.str.lower()
    return text.map(lambda r: "iv_ketamine" if "iv" in r else "esketamine_nasal")


def main() -> None:
    patients = pd.read_csv(SAMPLE / "patients.csv", dtype=str)
    keep = set(patients["patient_id"].head(N_PATIENTS))
    sessions = pd.read_csv(SAMPLE / "sessions.csv", dtype=str)
    sessions = sessions[sessions["patient_id"].isin(keep)].reset_index(drop=True)
    assessments = pd.read_csv(SAMPLE / "assessments.csv", dtype=str)
    assessments = assessments[
        assessments["patient_id"].isin(keep) & (assessments["instrument"] == "PCL-5")
    ].reset_index(drop=True)
    effects = pd.read_csv(SAMPLE / "side_effects.csv", dtype=str)
    effects = effects[effects["patient_id"].isin(keep)].reset_index(drop=True)

    codes = route_code(sessions["route"])
    spelled = [ROUTES[c][i % len(ROUTES[c])] for i, c in enumerate(codes)]

    def bp(systolic: str, diastolic: str) -> pd.Series:
        both = sessions[systolic].notna() & sessions[diastolic].notna()
        return (sessions[systolic] + "/" + sessions[diastolic]).where(both, "")

    visits = pd.DataFrame(
        {
            "Patient ID": sessions["patient_id"],
            "Visit Date": us_date(sessions["session_date"], with_time=True),
            "Medication": spelled,
            "Dose (mg)": sessions["dose_mg"],
            "BP Pre": bp("bp_systolic_pre", "bp_diastolic_pre"),
            "Peak BP": bp("bp_systolic_peak", "bp_diastolic_peak"),
            "CADSS": sessions["dissociation_cadss"],
            "Provider": sessions["clinician"],
            "Location": sessions["site"],
        }
    )
    scores = pd.DataFrame(
        {
            "Patient ID": assessments["patient_id"],
            "Date Completed": us_date(assessments["assessment_date"]),
            "PCL-5 Total": assessments["total"],
        }
    )
    effect_codes = effects["effect"].str.lower().str.replace(" ", "_")
    known = effect_codes.isin(EFFECTS)
    adverse = pd.DataFrame(
        {
            "Patient ID": effects.loc[known, "patient_id"],
            "Visit Date": us_date(effects.loc[known, "session_date"]),
            "Adverse Event": effect_codes[known].map(EFFECTS),
            "Severity": effects.loc[known, "severity"].str.capitalize(),
        }
    )
    demographics = pd.DataFrame(
        {
            "Patient ID": patients["patient_id"].head(N_PATIENTS),
            "Sex": patients["sex"].head(N_PATIENTS).str.capitalize(),
            "Age Group": patients["age_band"].head(N_PATIENTS),
            "In Therapy": patients["concurrent_therapy"].head(N_PATIENTS).str.capitalize(),
            "Primary Diagnosis": patients["primary_diagnosis"].head(N_PATIENTS),
        }
    )
    OUT.mkdir(exist_ok=True)
    for name, frame in [
        ("Visits_Export_2025.csv", visits),
        ("PCL5_Scores.csv", scores),
        ("Adverse_Events.csv", adverse),
        ("Patient_Demographics.csv", demographics),
    ]:
        frame.to_csv(OUT / name, index=False, lineterminator="\r\n")
        print(f"wrote {name}: {len(frame)} rows")


if __name__ == "__main__":
    main()
