"""Cohorts & patients: every table titled in words, one patient's sessions narrow enough for a
laptop screen."""

from tests.app.test_pages import signed_in_app

# seven narrow columns: at 1024 px none is cut (the download keeps every column)
NOT_ON_TRACK = ["Patient", "Baseline", "Latest score", "Change", "Day", "Flagged", "Route"]


def test_the_not_on_track_list_reads_in_words(app_env):
    at = signed_in_app("app_pages/cohorts.py")
    table = next(d.value for d in at.dataframe if "Flagged" in d.value.columns)
    assert list(table.columns) == NOT_ON_TRACK
    assert set(table["Flagged"]) <= {"After 4 sessions", "At week 2", "Both"}
    assert "Both" in set(table["Flagged"])
    assert set(table["Route"]) == {"IV ketamine", "Esketamine nasal spray"}


def test_one_patients_sessions_say_once_what_never_changes(app_env):
    at = signed_in_app("app_pages/cohorts.py")
    # the first patient of the sample: IV ketamine at North with DR-B throughout
    assert any(
        "Every session: IV ketamine, site North, clinician DR-B." in c.value for c in at.caption
    )
    # tables that wrap: one patient's nine columns fit a laptop screen
    sessions = next(t.value for t in at.table if "BP before" in t.value.columns)
    assert list(sessions.columns) == [
        "Day",
        "Session",
        "Phase",
        "Dose",
        "BP before",
        "BP peak",
        "CADSS",
        "Dissociation",
        "Sedation",
    ]
    first = sessions.iloc[0]
    assert (first["Dose"], first["BP before"], first["Dissociation"]) == (
        "41 mg (0.5 mg/kg)",
        "120/77",
        "Yes",
    )
    effects = next(t.value for t in at.table if "Side effect" in t.value.columns)
    assert list(effects.columns) == ["Day", "Session", "Side effect", "Severity", "Serious"]


def test_directors_and_clinicians_get_the_per_patient_export(app_env):
    for role in ("director", "clinician"):
        at = signed_in_app("app_pages/cohorts.py", role=role)
        assert not at.exception, [e.message for e in at.exception]
        assert "Per-patient export" in [s.value for s in at.subheader]
        toggle = next(t for t in at.toggle if t.label.startswith("Suppress small cells"))
        assert toggle.value is True
