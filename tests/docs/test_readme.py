"""The README's abridged week-4 summary is what the command line prints for the sample."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_week4() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(\{\"label\": \"week 4\".*?)\n```", text, re.S)
    assert block, "the README's week-4 example is missing"
    return json.loads(block.group(1))


def _agrees(shown, actual) -> bool:
    """A number as the README writes it: rounded to the digits it shows."""
    if isinstance(shown, dict):
        return all(_agrees(v, actual[k]) for k, v in shown.items())
    if isinstance(shown, float):
        digits = len(repr(shown).split(".")[1])
        return round(actual, digits) == shown
    return shown == actual


@pytest.fixture(scope="module")
def week4():
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.ingest.importer import import_folder
    from analytics.report.summary import build_summary
    from tests.conftest import SAMPLE

    summary = build_summary(import_folder(SAMPLE).data, OutcomeDefinitions())
    return next(t for t in summary["timepoints"] if t["label"] == "week 4")


def test_readme_week4_example_is_the_sample_summary(week4):
    shown = _readme_week4()
    wrong = [key for key, value in shown.items() if not _agrees(value, week4[key])]
    assert wrong == []
