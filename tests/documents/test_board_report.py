"""The board report as a PDF: read back with Debian's poppler-utils, as a reader would get it.

The numbers are checked against ``python -m analytics summary --json`` of the same clinic: the
report must print exactly the summary's k, n and interval, and every definition in force word
for word. Pages are turned into PNG (pdftoppm) and kept under ``screenshots/report/`` to look
at.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analytics.core.definitions import OutcomeDefinitions
from analytics.ingest.importer import import_folder
from analytics.report.board_report import board_report_of
from analytics.report.patients import patient_table
from charts.figures import route_label
from cli.main import main
from documents.board_report import UNNAMED_CLINIC, board_report_pdf

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots" / "report"

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) is not installed",
)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def squeezed(text: str) -> str:
    """Text without whitespace: a line or cell may wrap anywhere in the PDF, even after the /
    of a DOI, and pdftotext then writes a line break or a space."""
    return re.sub(r"\s+", "", text)


def percent(x: float) -> str:
    # The report prints shares as percentages with one decimal (documents.board_report).
    return f"{100 * x:.1f}%"


@pytest.fixture(scope="module")
def sample():
    data = import_folder(ROOT / "data" / "sample").data
    definitions = OutcomeDefinitions()
    return data, definitions, patient_table(data, definitions)


@pytest.fixture(scope="module")
def summary_json():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(ROOT / "data" / "sample"), "--json"]) == 0
    return json.loads(out.getvalue())


def report_pdf(sample, *, suppress: bool, keep=None, draw_charts=False, **options) -> bytes:
    """The sample's report; without charts unless asked (drawing them takes seconds)."""
    data, definitions, table = sample
    report = board_report_of(
        table,
        table.keep() if keep is None else keep,
        definitions,
        clinic_name=options.pop("clinic_name", "Riverside Ketamine Clinic"),
        cohort=options.pop("cohort", "All patients"),
        data_version="files 0123456789ab",
        made_by="director-test",
        suppress=suppress,
        **options,
    )
    return board_report_pdf(report, draw_charts=draw_charts)


@pytest.fixture(scope="module")
def unsuppressed_pdf(sample) -> bytes:
    return report_pdf(sample, suppress=False, draw_charts=True)


def test_week_4_response_is_the_summarys(unsuppressed_pdf, summary_json, tmp_path):
    text = squeezed(pdf_text(unsuppressed_pdf, tmp_path))
    week4 = next(t for t in summary_json["timepoints"] if t["label"] == "week 4")
    for key in ("response", "response_itt", "remission", "remission_itt"):
        rate = week4[key]
        assert f"{rate['k']}/{rate['n']}" in text, key
        assert squeezed(f"{percent(rate['ci_low'])}–{percent(rate['ci_high'])}") in text, key
        assert percent(rate["rate"]) in text, key


def test_every_definition_is_printed_word_for_word(unsuppressed_pdf, summary_json, tmp_path):
    text = squeezed(pdf_text(unsuppressed_pdf, tmp_path))
    definitions = summary_json["definitions"]
    written = {k: v for k, v in definitions.items() if isinstance(v, str)}
    assert len(written) >= 10
    for key, value in written.items():
        assert squeezed(value) in text, key
    for window in definitions["timepoints"]:  # "24h: score nearest day 1 within days 1-2"
        assert squeezed(window) in text
    for route, sessions in definitions["induction_sessions"].items():
        assert squeezed(f"{route_label(route)}: {sessions} sessions") in text


def test_cover_says_who_when_what_and_suppression(unsuppressed_pdf, tmp_path):
    text = pdf_text(unsuppressed_pdf, tmp_path)
    flat = " ".join(text.split())
    for words in (
        "Riverside Ketamine Clinic",
        "Treatment outcomes and safety",
        "All patients",
        "first sessions from 2024 to 2025",
        "files 0123456789ab",
        "director-test",
        "Small-cell suppression. Not applied",
        "Page 1 of",
    ):
        assert words in flat, words


def test_pages_turn_into_images_to_look_at(unsuppressed_pdf, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(unsuppressed_pdf)
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    text = pdf_text(unsuppressed_pdf, tmp_path)
    assert len(pages) == int(re.search(r"Page 1 of (\d+)", text).group(1))
    assert 5 <= len(pages) <= 12
    SHOTS.mkdir(parents=True, exist_ok=True)
    for page in pages:
        shutil.copyfile(page, SHOTS / page.name)
    from PIL import Image

    for page in pages:
        grey = np.asarray(Image.open(page).convert("L"))
        assert (grey < 128).mean() > 0.005, f"{page.name} is blank"


def test_suppressed_report_shows_no_small_count(sample, tmp_path):
    data, definitions, table = sample
    # a cohort of 30: many of its rates rest on counts from 1 to 10
    keep = np.zeros(len(table.patients), dtype=bool)
    keep[:30] = True
    text = pdf_text(report_pdf(sample, suppress=True, keep=keep), tmp_path)
    flat = " ".join(text.split())
    assert "Small-cell suppression. Applied." in flat
    assert "<11" in flat
    # no k/n pair of the report has a count from 1 to 10 on either side
    pairs = re.findall(r"(?<![\d,.])(\d+)/(\d+)(?![\d/])", flat)
    small = [f"{k}/{n}" for k, n in pairs if 1 <= int(k) <= 10 or 1 <= int(n) <= 10]
    assert small == []


def test_clinic_name_is_text_not_markup(sample, tmp_path):
    name = '#import "x.typ": * ] *bold* $x^2$ <label> @ref \\ //'
    pdf = report_pdf(sample, suppress=True, clinic_name=name)
    assert name in pdf_text(pdf, tmp_path)


def test_unnamed_clinic_says_so(sample, tmp_path):
    assert UNNAMED_CLINIC in pdf_text(report_pdf(sample, suppress=True, clinic_name=""), tmp_path)


def test_split_by_a_column_gives_a_table_of_groups(sample, tmp_path):
    text = " ".join(pdf_text(report_pdf(sample, suppress=True, by="route"), tmp_path).split())
    assert "Week 4 by route" in text
    assert "IV ketamine" in text and "Esketamine nasal spray (Spravato)" in text


def test_report_without_chromium_says_why_charts_are_missing(sample, tmp_path, monkeypatch):
    # a real fault: kaleido is pointed at a browser that does not exist
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    data, definitions, table = sample
    report = board_report_of(
        table,
        table.keep(),
        definitions,
        clinic_name="Riverside",
        cohort="All patients",
        data_version="v",
        made_by="test",
    )
    text = " ".join(pdf_text(board_report_pdf(report), tmp_path).split())
    assert "This chart could not be drawn" in text
    assert "Headline numbers" in text
