"""Patient ids as integer codes: the one place where ids are hashed, looked up and matched.

Every table of a clinic is keyed by ``patient_id`` text. Comparing or hashing that text row by
row is what made the analyses slow at 100,000 patients, so each layer turns ids into integer
codes here once (positions in a sorted, unique id index) and works on the codes. Each function
gives exactly what the plain pandas operation it names gives; the tests compare them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PatientIndex",
    "as_arrow",
    "factorize_ids",
    "id_text",
    "isin_ids",
    "lookup_by_id",
    "patient_order",
    "text_of",
]


def as_arrow(values) -> pa.Array:
    """``values`` (pandas text) as one contiguous Arrow array."""
    arrow = pa.array(values)
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


def factorize_ids(values, *, sort: bool = False) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=sort)`` for patient ids, hashing each run of equal ids once.

    The clinic's tables are sorted by patient, so a million rows hold only about 100,000 runs:
    neighbours are compared in Arrow, and only the first id of each run is hashed. The result is
    exactly ``pd.factorize``'s (codes in order of first appearance, or of the sorted ids with
    ``sort``; -1 for a missing id), whatever the order of ``values``.

    Examples
    --------
    >>> codes, uniques = factorize_ids(pd.Series(["b", "b", "a", None, "b"], dtype="string"))
    >>> codes.tolist(), uniques.tolist()
    ([0, 0, 1, -1, 0], ['b', 'a'])
    """
    values = pd.Series(values, copy=False)
    if len(values) < 2 or not isinstance(values.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(values, sort=sort)
        return np.asarray(codes), pd.Index(uniques)
    arrow = as_arrow(values.array)
    # A run starts where the id differs from the one before; missing ids compare as null.
    differs = pc.not_equal(arrow[1:], arrow[:-1]).fill_null(True)
    starts = np.flatnonzero(np.concatenate(([True], np.asarray(differs, dtype=bool))))
    if 2 * len(starts) > len(values):  # hardly any runs: hashing every id is as cheap
        codes, uniques = pd.factorize(values, sort=sort)
        return np.asarray(codes), pd.Index(uniques)
    # Arrow's hash keeps first appearance, as pd.factorize does; a missing id is no entry.
    encoded = arrow.take(pa.array(starts)).dictionary_encode()
    run_codes = np.asarray(encoded.indices.fill_null(-1), dtype="int64")
    uniques = encoded.dictionary
    if sort:  # renumber by the sorted ids (code point order, as Python compares str)
        order = np.asarray(pc.array_sort_indices(uniques), dtype="int64")
        rank = np.empty(len(order) + 1, dtype="int64")
        rank[order] = np.arange(len(order))
        rank[-1] = -1
        run_codes = rank[run_codes]
        uniques = uniques.take(pa.array(order))
    lengths = np.diff(np.append(starts, len(values)))
    codes = np.repeat(run_codes, lengths)
    return codes, pd.Index(pd.array(uniques, dtype=values.dtype))


def _codes(*arrays) -> list[np.ndarray]:
    # One hash-table factorisation of all the ids: integer codes compare fast, where pandas'
    # Arrow-backed string isin/get_indexer walk Python objects (slow for 100,000 patients).
    if arrays and all(pd.api.types.is_string_dtype(getattr(a, "dtype", None)) for a in arrays):
        # Already text: factorise the Arrow data without a trip through Python objects.
        parts = [pd.Series(pd.array(a, dtype="string"), copy=False) for a in arrays]
        codes, _ = factorize_ids(pd.concat(parts, ignore_index=True))
    else:
        arrays = [np.asarray(a, dtype=object) for a in arrays]
        codes, _ = pd.factorize(np.concatenate(arrays) if arrays else np.array([], dtype=object))
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1])


def patient_order(ids, *keys) -> np.ndarray:
    """Row positions sorting by ``ids`` then each of ``keys`` (stable, missing ids last).

    The same order as ``sort_values(["patient_id", *keys], kind="stable")``, from integer codes:
    sorting Arrow-backed strings directly is several times slower at a million rows.
    """
    codes, uniques = pd.factorize(pd.Series(ids, copy=False), sort=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return np.lexsort((*(np.asarray(k) for k in reversed(keys)), codes))


def _both_text(values, pool) -> bool:
    return all(pd.api.types.is_string_dtype(getattr(a, "dtype", None)) for a in (values, pool))


def _large_text(values) -> pa.Array:
    return as_arrow(pd.array(values, dtype="string")).cast(pa.large_string())


def isin_ids(values, pool) -> np.ndarray:
    """Boolean mask of ``values`` (patient ids) found in ``pool``; ``Series.isin``, faster."""
    if _both_text(values, pool):
        # Arrow hashes the pool once and probes it with each distinct id (a run of equal ids
        # is hashed once), a missing id matching a missing one.
        codes, distinct = factorize_ids(values)
        found = pc.is_in(_large_text(distinct), value_set=_large_text(pool))
        missing_found = bool(pc.any(pc.is_null(_large_text(pool))).as_py() or False)
        return np.append(np.asarray(found, dtype=bool), missing_found)[codes]
    value_codes, pool_codes = _codes(values, pool)
    return np.isin(value_codes, pool_codes)


def lookup_by_id(values, keys, table) -> np.ndarray:
    """``table[i]`` where ``keys[i]`` equals each of ``values`` (unique keys); NaN when absent."""
    if _both_text(values, keys):
        keys = _large_text(keys)
        if pc.count_distinct(keys, mode="all").as_py() == len(keys):
            # A missing id finds nothing, as with the codes below.
            codes, distinct = factorize_ids(values)
            at = pc.index_in(_large_text(distinct), value_set=keys, skip_nulls=True)
            at = np.asarray(at.fill_null(len(keys)), dtype="int64")
            table = np.append(np.asarray(table, dtype="float64"), np.nan)
            return table[np.append(at, len(keys))[codes]]  # a missing id (-1) finds nothing
    return _lookup_codes(*_codes(values, keys), table)


def _lookup_codes(value_codes: np.ndarray, key_codes: np.ndarray, table) -> np.ndarray:
    table = np.asarray(table, dtype="float64")
    size = int(max(value_codes.max(initial=-1), key_codes.max(initial=-1))) + 2
    by_code = np.full(size, np.nan)
    by_code[key_codes] = table  # code -1 (missing id) lands in the spare last slot
    by_code[-1] = np.nan
    return by_code[value_codes]


def id_text(uniques) -> pa.Array:
    """The ids of codes ``0..n-1`` as Arrow text, with a null for the missing-id code ``n``."""
    ids = as_arrow(pd.array(uniques, dtype="string")).cast(pa.large_string())
    return pa.concat_arrays([ids, pa.nulls(1, pa.large_string())])


def text_of(text: pa.Array, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``text[codes]`` as a pandas ``string`` array, taken in Arrow (no Python objects)."""
    return pd.array(text.take(pa.array(np.asarray(codes, dtype="int64"))), dtype="string")


class PatientIndex:
    """Positions of patient ids in one sorted, unique index, built once for many look-ups.

    Parameters
    ----------
    ids : array_like of str
        Unique patient ids; position ``i`` is the patient's code.

    Examples
    --------
    >>> index = PatientIndex(["a", "b", "c"])
    >>> index.positions(pd.Series(["c", "c", None, "x", "a"], dtype="string")).tolist()
    [2, 2, -1, -1, 0]
    """

    def __init__(self, ids):
        self.ids = pd.Index(pd.array(ids, dtype="string"))
        self._table = pa.array(np.asarray(self.ids, dtype=object), type=pa.large_string())

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, values) -> np.ndarray:
        """Code of each of ``values``, -1 when absent or missing.

        Each run of equal ids (the tables are sorted by patient) is looked up once, in Arrow.
        """
        codes, distinct = factorize_ids(pd.Series(values, copy=False).astype("string"))
        if not len(distinct):
            return np.full(len(codes), -1, dtype="int64")
        found = pc.index_in(
            pa.array(np.asarray(distinct, dtype=object), type=pa.large_string()),
            value_set=self._table,
        )
        at = np.append(np.asarray(found.fill_null(-1), dtype="int64"), -1)
        return at[codes]  # code -1 (a missing id) takes the appended -1

    def mask(self, values) -> np.ndarray:
        """Boolean mask over the codes: True for each patient among ``values``."""
        keep = np.zeros(len(self.ids), dtype=bool)
        at = self.positions(values)
        keep[at[at >= 0]] = True
        return keep
