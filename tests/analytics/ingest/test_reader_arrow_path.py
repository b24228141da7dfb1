"""The fast paths of the import give exactly what the general paths give.

The reader parses a well-formed file with pyarrow and anything else with pandas; the importer
checks text once per distinct value. Each fast path is compared here with the general one, on
the sample clinic and on hand-made edge cases.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analytics.ingest.reader as reader_module
from analytics.core.problems import WARNING, Problem
from analytics.ingest.reader import read_table
from tests.conftest import SAMPLE


def _pandas_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise pa.ArrowInvalid("general path forced")

    monkeypatch.setattr(reader_module, "_read_arrow", refuse)


def _same_read(monkeypatch, name: str, data: bytes) -> None:
    fast = read_table(name, data)
    with monkeypatch.context() as m:
        _pandas_only(m)
        general = read_table(name, data)
    assert fast.problems == general.problems
    assert fast.headers == general.headers
    assert fast.separator == general.separator
    if general.frame is None:
        assert fast.frame is None
    else:
        assert fast.frame.dtypes.to_dict() == general.frame.dtypes.to_dict()
        assert fast.frame.equals(general.frame)


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*.csv")), ids=lambda p: p.name)
def test_reader_fast_path_equals_pandas_on_the_sample(monkeypatch, path):
    _same_read(monkeypatch, path.name, path.read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2\n3,4\n",
        # cells to strip, blank cells, a row of blanks, unicode spaces
        b"a,b\n 1 ,\t2\n,\n  ,x\n\xc2\xa0y\xc2\xa0,z\xe2\x80\x83\n",
        b"a,b\n\x1cq\x1f,r\n",
        # formulas among numbers and dashes
        b"a,b\n=1+1,-3\n+1 555 123 4567,@x\n--,-\n\t=cmd,1\n",
        b"a,b\n" + b"=1,2\n" * 80,
        # quotes, a cell over several lines, doubled quotes
        b'a,b\n"x\n\ny",1\n2,"3 ""q"""\n',
        b'a,b\r\n"x\r\ny",1\r\n2,3\r\n',
        b'a;b\n"1;5";2\n',
        b"a\tb\n1\t2\n",
        b"\xef\xbb\xbfa,b\n1,2\n",
        "a,b\n1,é\n".encode("utf-16"),
        # short and wide rows, blank lines: the pandas path
        b"a,b\n1\n2,3\n",
        b"a,b\n1,2,,\n",
        b"a,b\n1,2,3\n",
        b"a,b\n\n1,2\n\n\n3,4\n",
        b"a\n\n1\n\n2\n",
        b'a,b\n"1,2\n3,4\n',
        # headers
        b",b\n1,2\n2,3\n",
        b"a,A\n1,2\n",
        b"a,b,\n1,2,\n",
        b"=a,b\n1,2\n",
        b"a,b\n,\n",
    ],
)
def test_reader_fast_path_equals_pandas_on_edge_cases(monkeypatch, data):
    _same_read(monkeypatch, "f.csv", data)


_CELL = st.text(alphabet=st.sampled_from(list('ab1=-+@ \t"é\u00a0\u2003,;\n')), max_size=6)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=3), min_size=1, max_size=6))
def test_reader_fast_path_equals_pandas_on_random_text(monkeypatch, rows):
    body = "\n".join(",".join(cells) for cells in rows)
    _same_read(monkeypatch, "f.csv", ("a,b,c\n" + body + "\n").encode("utf-8"))


# ---- once per distinct value -----------------------------------------------------------------

_TEXTS = [
    None,
    "",
    "  ",
    "2025-01-02",
    " 2025-01-02 ",
    "2025/1/2",
    "2025-01-02T10:30:00Z",
    "2025-02-30",
    "03/04/2025",
    "7",
    "-3",
    "7.0",
    "7.5",
    "1e3",
    "1e400",
    "inf",
    "nan",
    "1,5",
    "abc",
    "\u00a012\u00a0",
]


@pytest.mark.parametrize("parse", ["parse_dates", "parse_days", "number_values"])
@pytest.mark.parametrize("texts", [_TEXTS, [t for t in _TEXTS if t], ["1", "2", "3"], ["x"]])
def test_parsing_once_per_distinct_value_equals_parsing_every_cell(parse, texts):
    from analytics.ingest import cells

    function = getattr(cells, parse)
    column = pd.Series(texts * 3, dtype="string", index=range(10, 10 + 3 * len(texts)))
    fast = cells.per_distinct(function, column)
    slow = function(column)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype
        pd.testing.assert_series_equal(a, b, check_names=False)


# ---- duplicates ----------------------------------------------------------------------------


def _dedupe_every_column(frame, key, what, out):
    """The duplicate check as it was: every column compared on every row."""
    from analytics.ingest.collector import ProblemCollector

    values = [c for c in frame.columns if c not in ("_row", "_file")]
    exact = frame.duplicated(subset=values, keep="first")
    if exact.any():
        for file, n in frame.loc[exact, "_file"].value_counts(sort=False).items():
            out.add(Problem(file, None, None, None, f"{n} rows repeat", WARNING))
        frame = frame[~exact]
    clash = frame.duplicated(subset=key, keep="first")
    assert isinstance(out, ProblemCollector)
    return frame.reset_index(drop=True), clash.to_numpy()


@pytest.mark.parametrize(
    "rows",
    [
        [("P1", 0, 1.0), ("P1", 1, 2.0), ("P2", 0, 1.0)],
        [("P1", 0, 1.0), ("P1", 0, 1.0), ("P1", 0, 2.0), ("P1", 0, 1.0), ("P2", 0, None)],
        [("P1", 0, None), ("P1", 0, None), ("P1", 0, 3.0), ("P2", 5, 3.0), ("P2", 5, 4.0)],
        [("P1", 0, 2.0), ("P1", 0, 1.0), ("P1", 0, 2.0), ("P1", 0, 1.0)],
    ],
)
def test_dedupe_on_keys_first_equals_every_column(rows):
    from analytics.ingest.assemble import dedupe
    from analytics.ingest.collector import ProblemCollector

    frame = pd.DataFrame(
        {
            "patient_id": pd.array([r[0] for r in rows], dtype="string"),
            "_t": np.array([r[1] for r in rows], dtype="int64"),
            "dose_mg": np.array([np.nan if r[2] is None else r[2] for r in rows]),
            "_row": np.arange(2, 2 + len(rows)),
            "_file": "sessions.csv",
        }
    )
    out = ProblemCollector(20)
    kept = dedupe(frame.copy(), ["patient_id", "_t"], "the same patient and day", out, {})
    expected, clash = _dedupe_every_column(
        frame.copy(), ["patient_id", "_t"], "", ProblemCollector(20)
    )
    pd.testing.assert_frame_equal(kept, expected)
    conflicts = [p for p in out.finish() if p.rule.startswith("conflicts")]
    assert sorted(p.row for p in conflicts) == sorted(expected.loc[clash, "_row"].tolist())
