"""Text cells of an upload made comparable: patient ids without invisible characters, formulas.

Two ids that look the same on screen must be the same patient. A spreadsheet, a copy from a web
page or an EHR export can add characters nobody sees: a zero-width space (U+200B), a byte-order
mark (U+FEFF) at the start of a pasted block, a no-break space (U+00A0), a full-width digit
(``Ｐ００１``) or a ligature. :func:`normalise_ids` removes or folds all of them, so ``P001`` and
``P001\\u200b`` are one id, and names the ids that differ only by case (``p001`` and ``P001``),
which may or may not be one patient: the importer decides, and says so.

:func:`formula_cells` is :func:`analytics.core.spreadsheet.formula_cells`, the one definition
of a cell a spreadsheet would run, which the reader refuses in uploads.

References
----------
Unicode Standard Annex #15, "Unicode Normalization Forms" (NFKC).
https://unicode.org/reports/tr15/
Unicode Technical Standard #39, "Unicode Security Mechanisms", section 4 (confusable and
invisible characters). https://unicode.org/reports/tr39/
"""

from __future__ import annotations

import itertools
import unicodedata
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.spreadsheet import formula_cells
from analytics.ingest import vocabularies as vocab

__all__ = [
    "INVISIBLE_CHARACTERS",
    "NormalisedIds",
    "formula_cells",
    "normalise_ids",
    "normalised_ids",
    "strip_invisible",
]

# Characters that show as nothing or as a plain space but are not one, beyond the format
# characters (category Cf: zero-width spaces and joiners, U+FEFF, bidirectional marks, U+2060).
# NFKC would turn the no-break spaces into ordinary spaces; inside an id they are removed.
INVISIBLE_CHARACTERS = frozenset(
    "\u00a0"  # no-break space
    "\u115f\u1160"  # Hangul choseong and jungseong fillers
    "\u2007"  # figure space
    "\u202f"  # narrow no-break space
    "\u2800"  # braille pattern blank
    "\u3164"  # Hangul filler
    "\uffa0"  # half-width Hangul filler
)
# An id of printable ASCII that neither starts nor ends with a space is already normal.
_PLAIN_ASCII = r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"


def _invisible(character: str) -> bool:
    category = unicodedata.category(character)
    # Cc: control characters other than whitespace, which trimming handles.
    return (
        category == "Cf"
        or character in INVISIBLE_CHARACTERS
        or (category == "Cc" and not character.isspace())
    )


def _without_invisible(text: str) -> str:
    return "".join(character for character in text if not _invisible(character))


def strip_invisible(text: str) -> str:
    """``text`` in NFKC with invisible and format characters removed and whitespace trimmed.

    Examples
    --------
    >>> strip_invisible("\\ufeff P\\u200b001\\u00a0")
    'P001'
    >>> strip_invisible("Ｐ００１")
    'P001'
    """
    # Removed before NFKC, which would turn a no-break space into a space, and after it, in
    # case a compatibility form decomposes to a format character.
    text = unicodedata.normalize("NFKC", _without_invisible(text))
    return _without_invisible(text).strip()


class NormalisedIds(NamedTuple):
    """What :func:`normalised_ids` makes of a column of ids."""

    ids: pd.Series
    case_pairs: list[tuple[str, str]]
    distinct: pa.Array  # the distinct normalised ids, missing left out


def normalise_ids(raw: pd.Series) -> tuple[pd.Series, list[tuple[str, str]]]:
    """Patient ids as they compare, and the pairs that differ only by case: the first two
    fields of :func:`normalised_ids`."""
    normal = normalised_ids(raw)
    return normal.ids, normal.case_pairs


def normalised_ids(raw: pd.Series) -> NormalisedIds:
    """Patient ids as they compare: NFKC, invisible characters removed, trimmed.

    Parameters
    ----------
    raw : pandas.Series
        Ids as read (text; missing values allowed). Non-text values are taken as their
        ``str``.

    Returns
    -------
    ids : pandas.Series
        Same index, pandas ``string`` dtype: each id through :func:`strip_invisible`; an id
        that was nothing but invisible characters and spaces becomes missing (NA).
    case_pairs : list of (str, str)
        Every pair of distinct normalised ids that are equal once case is ignored
        (``str.casefold``), each pair sorted and the list sorted. They are reported, not
        merged: ``ab1`` and ``AB1`` may be two patients.
    distinct : pyarrow.Array
        The distinct normalised ids (missing left out), for comparing files without hashing
        their ids again.

    Notes
    -----
    The work is done once per distinct id, and a column whose ids are all printable ASCII
    without a space at either end (almost every upload) is recognised from its bytes and left
    as it is, so a million rows of 100,000 patients cost one pass and one hash.

    References
    ----------
    Unicode Standard Annex #15, "Unicode Normalization Forms". https://unicode.org/reports/tr15/

    Examples
    --------
    >>> ids, pairs, _ = normalised_ids(pd.Series(["P001", "P001\\u200b", "p001", " "]))
    >>> ids.tolist()
    ['P001', 'P001', 'p001', <NA>]
    >>> pairs
    [('P001', 'p001')]
    """
    if not isinstance(raw, pd.Series):
        raise TypeError(f"raw must be a pandas Series, got {type(raw).__name__}")
    text = raw if isinstance(raw.dtype, pd.StringDtype) else raw.map(_as_text, na_action="ignore")
    text = text.astype("string")
    cells = text.array.__arrow_array__()
    if _all_plain(cells):
        # Almost every upload: nothing to change, so the ids stay as they are.
        distinct = pc.unique(pc.drop_null(cells))
        return NormalisedIds(text.rename(raw.name), _case_pairs(distinct), distinct)
    # Arrow hashes the cells: a million rows of 100,000 patients are 100,000 look-ups below.
    codes, distinct = vocab.distinct_codes(text)
    values = pa.array(distinct.array, type=pa.large_string())
    plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_ASCII), True)
    if pc.all(plain).as_py() is not False:
        normal = values
    else:
        fixed = [
            None if value is None or is_plain else (strip_invisible(value) or None)
            for value, is_plain in zip(values.to_pylist(), plain.to_pylist(), strict=True)
        ]
        normal = pc.if_else(plain, values, pa.array(fixed, type=pa.large_string()))
        normal = pc.if_else(pc.equal(normal, ""), pa.scalar(None, pa.large_string()), normal)
    ids = pd.Series(
        pd.array(normal.take(pa.array(codes)), dtype="string"), index=raw.index, name=raw.name
    )
    distinct = pc.unique(pc.drop_null(normal))
    return NormalisedIds(ids, _case_pairs(distinct), distinct)


def _all_plain(cells: pa.ChunkedArray) -> bool:
    """True when every filled cell is printable ASCII without a space at either end (what
    :data:`_PLAIN_ASCII` matches), read from the bytes: one numpy pass, no regular expression."""
    for chunk in cells.chunks:
        if not len(chunk):
            continue
        if chunk.type != pa.large_string():
            chunk = chunk.cast(pa.large_string())
        buffers = chunk.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int64)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        if buffers[2] is None or offsets[-1] == offsets[0]:
            if chunk.null_count < len(chunk):
                return False  # filled cells that are all empty
            continue
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        if ((data[offsets[0] : offsets[-1]] - 0x20) > 0x5E).any():  # outside 0x20..0x7e
            return False
        filled = offsets[1:] > offsets[:-1]
        valid = np.ones(len(chunk), dtype=bool)
        if chunk.null_count:
            valid = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        if (valid & ~filled).any():
            return False  # an empty id becomes missing: the slow path does that
        filled &= valid
        first, last = offsets[:-1][filled], offsets[1:][filled] - 1
        if (data[first] == 0x20).any() or (data[last] == 0x20).any():
            return False
    return True


def _as_text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _case_pairs(ids: pa.Array) -> list[tuple[str, str]]:
    """Every pair of the distinct ``ids`` (no missing) equal once case is ignored; Python's
    case-folding runs only on the ids whose lower case is shared (almost none)."""
    lower = pc.utf8_lower(ids)
    if len(pc.unique(lower)) == len(ids):
        # no two ids share a lower case; casefold can still join a few ("ß" and "ss")
        if pc.all(pc.match_substring_regex(ids, r"^[\x00-\x7f]*$")).as_py() is not False:
            return []
        candidates = ids.to_pylist()
    else:
        counts = pc.value_counts(lower)
        shared = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        candidates = ids.filter(pc.is_in(lower, value_set=shared)).to_pylist()
    groups: dict[str, set[str]] = {}
    for value in candidates:
        groups.setdefault(value.casefold(), set()).add(value)
    pairs = [
        pair
        for group in groups.values()
        if len(group) > 1
        for pair in itertools.combinations(sorted(group), 2)
    ]
    return sorted(pairs)
