"""docs/scaling.md's SQL for two headline rates gives the summary's k and n, on SQLite and on
PostgreSQL, for the sample clinic as the store holds it."""

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics.core.definitions import OutcomeDefinitions
from analytics.report.summary import build_summary
from store.clinic import load_clinic
from store.sample import ensure_sample
from tests.conftest import SAMPLE
from tests.store.fixtures import engine_fixture  # noqa: F401

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def doc_query(name: str) -> str:
    """The SQL block after ``<!-- query: name -->`` in the doc."""
    found = re.search(
        rf"<!-- query: {re.escape(name)} -->\s*```sql\n(.*?)```", DOC.read_text(), re.S
    )
    assert found, f"docs/scaling.md has no query called {name!r}"
    return found.group(1)


@pytest.fixture(name="summary")
def summary_fixture(engine):
    ensure_sample(SAMPLE, engine=engine)
    return build_summary(load_clinic(engine), OutcomeDefinitions())


def test_the_week_4_response_query_gives_the_summarys_k_and_n(engine, summary):
    week_4 = next(t for t in summary["timepoints"] if t["label"] == "week 4")
    with engine.connect() as conn:
        k, n = conn.execute(sa.text(doc_query("week-4 response"))).one()
    assert (k, n) == (week_4["response"]["k"], week_4["response"]["n"])


def test_the_nausea_query_gives_the_summarys_k_and_n(engine, summary):
    nausea = next(e for e in summary["side_effects"] if e["effect"] == "nausea")
    with engine.connect() as conn:
        k, n = conn.execute(sa.text(doc_query("nausea per patient"))).one()
    assert (k, n) == (nausea["patients"]["k"], nausea["patients"]["n"])


def test_the_queries_use_the_default_definitions():
    # The values inlined in the doc are the defaults; a changed default must change the doc.
    definitions = OutcomeDefinitions()
    week_4 = next(w for w in definitions.windows if w.label == "week 4")
    sql = doc_query("week-4 response")
    assert f"BETWEEN -{definitions.baseline_lookback_days} AND 0" in sql
    assert f"BETWEEN {week_4.low} AND {week_4.high}" in sql
    assert f"ABS(day - {week_4.target_day})" in sql
    assert f">= {definitions.response.threshold:g} - 1e-9" in sql
    assert f"instrument = '{definitions.instrument}'" in sql
