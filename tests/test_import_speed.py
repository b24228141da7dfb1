"""The fast paths of the import give exactly what the general paths give.

The reader parses a well-formed file with pyarrow and anything else with pandas; the importer
checks text once per distinct value. Each fast path is compared here with the general one, on
the sample clinic and on hand-made edge cases.
"""

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analytics.reader as reader_module
from analytics.reader import read_table

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


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
