"""Render helpers: what a download holds and is called, and the sample banner for each role
(ui/components.py)."""

import io

import pandas as pd
import pytest

from analytics.core.spreadsheet import csv_bytes
from ui.cohort import CohortFilters
from ui.components import (
    PLAIN_TABLE_ROWS,
    download_frame,
    download_name,
    sample_banner_text,
)

RATES = pd.DataFrame(
    {
        "timepoint": ["week 4"],
        "population": ["itt"],
        "k": [48],
        "n": [92],
        "rate": [0.5217391304347826],
        "ci_low": [0.4208569740212842],
        "ci_high": [0.6208786177489061],
    }
)


@pytest.mark.parametrize(
    "filters, expected",
    [
        (None, "outcomes.csv"),
        (CohortFilters(), "outcomes.csv"),
        (
            CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,)),
            "outcomes_iv-ketamine_north_2025.csv",
        ),
    ],
)
def test_download_name_carries_the_filters(filters, expected):
    assert download_name("outcomes", filters) == expected


def test_a_download_holds_the_readable_table():
    table = pd.read_csv(io.BytesIO(csv_bytes(download_frame(RATES, None))))
    assert table.to_dict("records") == [
        {
            "Timepoint": "week 4",
            "Population": "Intention to treat",
            "Patients (k)": 48,
            "Of (n)": 92,
            "Rate (%)": 52.2,
            "95% CI low (%)": 42.1,
            "95% CI high (%)": 62.1,
        }
    ]


def test_a_filtered_download_names_its_cohort_on_every_row():
    filters = CohortFilters(routes=("iv_ketamine",), years=(2025,))
    table = download_frame(pd.concat([RATES, RATES]), filters)
    assert table["Cohort"].tolist() == ["IV ketamine · first session 2025"] * 2


@pytest.mark.parametrize(
    "role, says, never",
    [
        ("director", ["Data page", "clear the sample"], []),
        # a clinician has no Data page: told who imports instead
        ("clinician", ["director or staff import"], ["Data page"]),
        # staff see no outcomes: told who does
        ("staff", ["on this page", "clinicians and the director"], ["Data page"]),
        (None, ["director or staff import"], ["Data page"]),
    ],
)
def test_the_sample_banner_says_what_the_role_can_do(role, says, never):
    text = sample_banner_text(role)
    assert text.startswith("**Sample data — synthetic clinic.**")
    assert all(s in text for s in says), text
    assert not any(n in text for n in never), text


def _rows_table_app(rows: int):
    from streamlit.testing.v1 import AppTest

    def app(rows):
        import pandas as pd

        from ui.components import rows_table

        rows_table(pd.DataFrame({"Day": range(rows), "Side effect": ["Nausea"] * rows}))

    return AppTest.from_function(app, args=(rows,)).run()


@pytest.mark.parametrize(
    "rows, tables, grids",
    [(1, 1, 0), (PLAIN_TABLE_ROWS, 1, 0), (PLAIN_TABLE_ROWS + 1, 0, 1), (2000, 0, 1)],
)
def test_a_long_table_of_rows_scrolls_in_a_grid(rows, tables, grids):
    at = _rows_table_app(rows)
    assert not at.exception
    assert (len(at.table), len(at.dataframe)) == (tables, grids)
    shown = at.table[0].value if tables else at.dataframe[0].value
    assert len(shown) == rows
