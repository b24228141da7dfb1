"""Cohorts & patients: every table titled in words, one patient's sessions narrow enough for a
laptop screen."""

from tests.app.test_pages import _app

NOT_ON_TRACK = [
    "Patient",
    "Route",
    "Baseline",
    "Latest score",
    "Change (points)",
    "Day of latest score",
    "Sessions before it",
    "Sessions given",
    "Flagged by",
]


def test_the_not_on_track_list_reads_in_words(app_env):
    at = _app("app_pages/cohorts.py")
    table = next(d.value for d in at.dataframe if "Flagged by" in d.value.columns)
    assert list(table.columns) == NOT_ON_TRACK
    assert set(table["Flagged by"]) <= {
        "After 4 sessions",
        "At week 2",
        "After 4 sessions and at week 2",
    }
    assert "IV ketamine" in set(table["Route"])


def test_one_patients_sessions_say_once_what_never_changes(app_env):
    at = _app("app_pages/cohorts.py")
    # the first patient of the sample: IV ketamine at North with DR-B throughout
    assert any(
        "Every session: IV ketamine, site North, clinician DR-B." in c.value for c in at.caption
    )
    sessions = next(d.value for d in at.dataframe if "BP before" in d.value.columns)
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
    effects = next(d.value for d in at.dataframe if "Side effect" in d.value.columns)
    assert list(effects.columns) == ["Day", "Session", "Side effect", "Severity", "Serious"]
