"""Column titles, value words and rounding of the tables a person reads (ui/labels.py)."""

import pandas as pd
import pytest

from ui.labels import (
    ACTION_LABELS,
    COLUMN_LABELS,
    UnlabelledColumnError,
    column_title,
    describe_audit_entry,
    describe_import_options,
    looks_raw,
    readable_table,
    value_label,
)


@pytest.mark.parametrize(
    "column, columns, expected",
    [
        ("patient_id", (), "Patient"),
        ("latest_day", (), "Latest day"),
        ("dose_mg_per_kg", (), "Dose (mg/kg)"),
        ("itt", (), "Intention to treat"),
        ("k", ("k", "n"), "Patients (k)"),
        ("n", ("k", "n"), "Of (n)"),
        ("rate", ("rate",), "Rate (%)"),
        # a CI bound is a percentage beside a rate, in the mean's units beside a mean
        ("ci_low", ("rate", "ci_low"), "95% CI low (%)"),
        ("ci_high", ("rate", "ci_high"), "95% CI high (%)"),
        ("ci_low", ("mean", "ci_low"), "95% CI low"),
        # n without k counts the patients of a mean
        ("n", ("mean", "n"), "Patients (n)"),
        # already a title: kept as it is
        ("What is wrong", (), "What is wrong"),
        # a code with no title
        ("brand_new_column", (), None),
    ],
)
def test_column_title(column, columns, expected):
    assert column_title(column, columns) == expected


def test_a_page_title_wins_over_the_shared_one():
    assert column_title("survival", ["survival"], {"survival": "Still responding (%)"}) == (
        "Still responding (%)"
    )


@pytest.mark.parametrize(
    "title, raw",
    [
        ("latest_day", True),
        ("itt", True),
        ("n", True),
        ("flag", True),
        ("Latest day", False),
        ("95% CI low (%)", False),
        ("CADSS", False),
        ("Of (n)", False),
    ],
)
def test_looks_raw(title, raw):
    assert looks_raw(title) is raw


def test_every_shared_title_reads_as_a_title():
    assert [t for t in COLUMN_LABELS.values() if looks_raw(t)] == []


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("route", "esketamine_nasal", "Esketamine nasal spray (Spravato)"),
        ("route", "IV ketamine", "IV ketamine"),  # already in words
        ("group", "iv_ketamine", "IV ketamine"),
        ("population", "itt", "Intention to treat"),
        ("population", "observed", "Observed"),
        ("serious", True, "Yes"),
        ("sedation", False, "No"),
        ("action", "download", "Downloaded"),
        ("measure", "pre_dose_above", "Above the limit before the dose"),
        ("measure", "cluster_b", "Cluster B"),
        ("step", "completed_induction", "Completed induction"),
        ("step", "started", "Started"),
        ("route", "all routes", "All routes"),
        ("status", "rolled_back", "Rolled back"),
        # free text and numbers are not codes
        ("rule", "score_below 33", "score_below 33"),
        ("k", 3, 3),
    ],
)
def test_value_label(column, value, expected):
    assert value_label(column, value) == expected


def test_a_rate_table_reads_in_percent_with_k_and_n():
    frame = pd.DataFrame(
        {
            "timepoint": ["24h", "24h"],
            "population": ["observed", "itt"],
            "k": [51, 51],
            "n": [175, 227],
            "rate": [0.2914285714285714, 0.22466960352422907],
            "ci_low": [0.22915846961854597, 0.1752165929276689],
            "ci_high": [0.36265877185682366, 0.2832862226471814],
            "not_yet_due": [0.0, 0.0],
        }
    )
    table = readable_table(frame)
    assert table.to_dict("records") == [
        {
            "Timepoint": "24h",
            "Population": "Observed",
            "Patients (k)": 51,
            "Of (n)": 175,
            "Rate (%)": 29.1,
            "95% CI low (%)": 22.9,
            "95% CI high (%)": 36.3,
            "Not yet due": 0,
        },
        {
            "Timepoint": "24h",
            "Population": "Intention to treat",
            "Patients (k)": 51,
            "Of (n)": 227,
            "Rate (%)": 22.5,
            "95% CI low (%)": 17.5,
            "95% CI high (%)": 28.3,
            "Not yet due": 0,
        },
    ]
    assert str(table["Not yet due"].dtype) == "Int64"  # a count stays a whole number


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("mean", 9.194718981179204, 9.2),  # a score: one decimal
        ("ci_low", 39.04136500087755, 39.0),  # the CI of a mean: in points, one decimal
        ("t_statistic", -16.007053123988353, -16.01),  # an effect size: two
        ("dose_mg_per_kg", 0.5123, 0.51),
        ("p_value", 0.01234, "0.012"),  # p-values: three, as text
        ("p_value", 4.876587418078104e-36, "< 0.001"),
        ("response_rate", 0.676056338028169, 67.6),  # a rate by its name
    ],
)
def test_numbers_are_rounded_by_what_they_are(column, value, expected):
    frame = pd.DataFrame({column: [value]})
    if column == "response_rate":
        frame["response_ci_low"] = [0.5606115705582948]
    assert readable_table(frame).iloc[0, 0] == expected


def test_a_rates_own_ci_bounds_are_percentages():
    frame = pd.DataFrame({"response_rate": [0.676], "response_ci_low": [0.5606115705582948]})
    assert readable_table(frame).iloc[0].tolist() == [67.6, 56.1]


def test_a_missing_count_stays_missing():
    table = readable_table(pd.DataFrame({"year": [2024, 2025], "month": [None, 3.0]}))
    assert table["Month"].isna().tolist() == [True, False]
    assert table["Month"].iloc[1] == 3


def test_readable_table_does_not_change_its_input():
    frame = pd.DataFrame({"rate": [0.5]}, index=[7])
    readable_table(frame)
    assert frame.columns.tolist() == ["rate"] and frame["rate"].iloc[0] == 0.5


def test_an_unknown_column_is_refused_when_strict():
    frame = pd.DataFrame({"patient_id": ["P1"], "brand_new_column": [1]})
    with pytest.raises(UnlabelledColumnError, match="column 'brand_new_column' has no human"):
        readable_table(frame, strict=True)
    # not strict, it keeps its raw name so the page still draws
    assert readable_table(frame).columns.tolist() == ["Patient", "brand_new_column"]


def test_strict_follows_the_module_switch(monkeypatch):
    monkeypatch.setattr("ui.labels.STRICT", True)
    with pytest.raises(UnlabelledColumnError, match="'zzz_col'"):
        readable_table(pd.DataFrame({"zzz_col": [1]}))


@pytest.mark.parametrize(
    "action, detail, expected",
    [
        ("download", {"file": "outcomes.csv", "rows": 250}, "Downloaded outcomes.csv (250 rows)"),
        ("download", {"file": "a.csv", "rows": 1}, "Downloaded a.csv (1 row)"),
        (
            "import",
            {
                "batch_id": 2,
                "files": ["sessions.csv", "patients.csv", "assessments.csv"],
                "rows_added": 250,
                "rows_unchanged": 0,
                "conflicts": 0,
            },
            "Imported 3 files as batch 2: 250 rows added",
        ),
        (
            "import_refused",
            {"files": ["visits.csv"], "errors": 2},
            "Refused an import of visits.csv: 2 problems to fix",
        ),
        ("user_added", {"username": "ana", "role": "clinician"}, "Added ana as clinician"),
        (
            "role_changed",
            {"username": "ana", "from": "staff", "to": "clinician"},
            "Changed the role of ana from staff to clinician",
        ),
        ("login", None, "Signed in"),
        ("login_failed", {"consecutive_failures": 2}, "Wrong password (2 failures in a row)"),
        ("rollback", {"batch_id": 3, "rows_removed": 40}, "Rolled back batch 3: 40 rows removed"),
        (
            "settings_changed",
            {"changed": ["km_band", "response"]},
            "Changed the settings: km band, response",
        ),
        ("settings_changed", {"reset": True}, "Reset the settings to their defaults"),
        # an action with no sentence of its own still reads in words
        ("export", {"rows": 3}, "Exported: rows: 3"),
    ],
)
def test_describe_audit_entry(action, detail, expected):
    assert describe_audit_entry(action, detail) == expected


def test_describe_import_options():
    assert describe_import_options(
        {
            "keep_month": False,
            "prorate": True,
            "max_bytes": None,
            "date_order": None,
            "extract_date": "2025-06-30",
            "problem_limit": 20,
            "raise_unexpected": False,
            "today": None,
        }
    ) == [
        "Kept month: no",
        "Prorated totals: yes",
        "Largest file allowed: no limit",
        "Date order: certain from the files",
        "Day the export was taken: 2025-06-30",
    ]


def test_every_audited_action_has_words():
    from store.audit import ACTIONS

    assert ACTIONS <= set(ACTION_LABELS), sorted(ACTIONS - set(ACTION_LABELS))
