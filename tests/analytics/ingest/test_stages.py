"""The importer's stages: the names it has always offered are the stage modules' own objects."""

import pandas as pd
import pytest

from analytics.ingest import (
    assemble,
    cells,
    collector,
    columns,
    discovery,
    importer,
    options,
    prepare,
)
from tests.conftest import SAMPLE


@pytest.mark.parametrize(
    "name, module",
    [
        ("ImportOptions", options),
        ("identify_table", discovery),
        ("NUMBER_COLUMNS", columns),
        ("TIME_COLUMNS", columns),
        ("UPLOAD", collector),
        ("item_column_map_safe", prepare),
    ],
)
def test_the_importer_offers_each_stage_name(name, module):
    assert name in importer.__all__
    assert getattr(importer, name) is getattr(module, name)


def test_each_stage_exports_what_it_defines():
    for module in (assemble, cells, collector, columns, discovery, options, prepare, importer):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def test_a_folder_imports_as_its_csv_files():
    by_folder = importer.import_folder(SAMPLE)
    by_files = importer.import_files(discovery.csv_files(SAMPLE))
    assert by_folder.problems == by_files.problems
    for table in ("patients", "sessions", "assessments", "side_effects"):
        pd.testing.assert_frame_equal(getattr(by_folder.data, table), getattr(by_files.data, table))
