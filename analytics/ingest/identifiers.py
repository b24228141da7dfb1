"""Refuse columns that look like protected health information before anything is stored.

The dashboard works on pseudonymous ids and days since the first treatment. A column that holds
names, contact details, government or record numbers, or dates of birth identifies patients
(HIPAA Safe Harbor, 45 CFR 164.514(b)(2)), so :func:`find_phi` reports it as an error; the
importer either refuses the file or, when the clinic chooses, removes the column with
:func:`drop_columns`. Problems name the column and the reason and never show a value: showing it
would leak it.

Choices made here:

- By name: the header is split into words (``_``, ``-``, ``.``, spaces and camelCase all split)
  and flagged when it contains an identifying phrase ("first name", "dob", "zip", "phone",
  "email", "mrn", ...). A bare "name" word is flagged only when it is the whole header or
  qualified by a patient word ("patient name", "first name", "client name"): ``site_name``,
  ``redcap_event_name`` and ``clinician`` are not flagged. Clinician names identify staff, not
  patients, and the dashboard groups by clinician, so they are allowed.
- Any header containing "birth" or "dob" is flagged, year of birth included: with ages over 89
  a year of birth identifies (Safe Harbor, (b)(2)(i)(C)). Session and assessment dates are
  expected and are turned into days by the importer.
- A column headed "age" (or "age years", "age at ...") holding an age over 89 is flagged: Safe
  Harbor requires those ages grouped as 90 or older.
- By value, on a sample of up to 1,000 non-blank cells per column (the first 500 and 500 spread
  over the rest): one e-mail address or one US social security number (``123-45-6789``) is
  enough, because neither occurs in clinical data by accident. US phone numbers and street
  addresses need at least 2% of the sampled cells, so a stray pattern in free text does not
  refuse a file.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.core.problems import ERROR, Problem
from analytics.ingest.reader import ROW_COLUMN, normalise_header

__all__ = [
    "PHI_RULE_PREFIX",
    "PHI_SAMPLE",
    "arrow_sample",
    "drop_columns",
    "find_phi",
    "is_phi_problem",
    "sample_positions",
    "sampled_cells",
    "value_reasons",
]

# Every rule written here starts with this, so PHI problems can be told from others.
PHI_RULE_PREFIX = "may identify patients: "
PHI_SAMPLE = 1000
# Share of sampled cells that must look like a phone number or street address.
LOOSE_SHARE = 0.02
# Ages above this are identifiers under Safe Harbor.
OLDEST_AGE = 89

# Word sequences that identify, with the reason. Matched against the header's words in order.
_NAME_PHRASES: dict[tuple[str, ...], str] = {}
for _phrases, _reason in [
    (
        [
            "first name",
            "last name",
            "full name",
            "given name",
            "family name",
            "middle name",
            "maiden name",
            "patient name",
            "pt name",
            "client name",
            "participant name",
            "subject name",
            "legal name",
            "preferred name",
            "surname",
            "firstname",
            "lastname",
            "fullname",
            "patientname",
            "name",
        ],
        "a person's name",
    ),
    (["date of birth", "dob", "birth date", "birthdate", "birthday", "birth"], "a date of birth"),
    (
        [
            "address",
            "street",
            "city",
            "town",
            "county",
            "zip",
            "zip code",
            "zipcode",
            "postcode",
            "post code",
            "postal code",
            "postalcode",
        ],
        "an address or a place smaller than a state",
    ),
    (
        ["phone", "telephone", "mobile", "cell", "cellphone", "fax", "phonenumber"],
        "a phone or fax number",
    ),
    (["email", "e mail", "emailaddress"], "an e-mail address"),
    (["ssn", "social security", "socialsecurity"], "a social security number"),
    (
        ["mrn", "medical record", "medical record number", "medicalrecord", "chart number"],
        "a medical record number",
    ),
]:
    for _phrase in _phrases:
        _NAME_PHRASES[tuple(_phrase.split())] = _reason
# "name" alone identifies only as the whole header; qualified, it is usually something else.
_BARE_ONLY = {("name",)}
# Compound spellings found inside a word ("patientfirstname", "homephonenumber").
_SQUASHED = {
    "firstname": "a person's name",
    "lastname": "a person's name",
    "fullname": "a person's name",
    "surname": "a person's name",
    "patientname": "a person's name",
    "dateofbirth": "a date of birth",
    "birthdate": "a date of birth",
    "zipcode": "an address or a place smaller than a state",
    "postalcode": "an address or a place smaller than a state",
    "streetaddress": "an address or a place smaller than a state",
    "homeaddress": "an address or a place smaller than a state",
    "phonenumber": "a phone or fax number",
    "telephone": "a phone or fax number",
    "cellphone": "a phone or fax number",
    "email": "an e-mail address",
    "socialsecurity": "a social security number",
    "medicalrecord": "a medical record number",
}

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# Written without look-arounds: pandas runs them with RE2, through pyarrow.
_SSN = r"(?:^|[^\d-])\d{3}-\d{2}-\d{4}(?:$|[^\d-])"
# (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567; not 4-2-2 dates or SSNs.
_PHONE = r"(?:^|[^\d-])(?:\+?1[ .\-]?)?(?:\(\d{3}\)|\d{3})[ .\-]?\d{3}[ .\-]\d{4}(?:$|[^\d-])"
_STREET_TYPES = (
    "street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|"
    "terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq"
)
_ADDRESS = (
    rf"(?i)\b\d{{1,6}}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Za-z][A-Za-z'.]*\s+){{1,3}}"
    rf"(?:{_STREET_TYPES})\b\.?"
)
# (pattern, reason, loose): loose patterns need LOOSE_SHARE of the sample.
_VALUE_RULES = (
    (_SSN, "social security numbers", False),
    (_EMAIL, "e-mail addresses", False),
    (_PHONE, "phone numbers", True),
    (_ADDRESS, "street addresses", True),
)


def is_phi_problem(problem: Problem) -> bool:
    """True for a problem written by :func:`find_phi`."""
    return problem.rule.startswith(PHI_RULE_PREFIX)


def header_words(header: str) -> list[str]:
    """The words of a header: camelCase, ``_``, ``-``, ``.`` and spaces all split.

    Examples
    --------
    >>> header_words("patientDOB")
    ['patient', 'dob']
    >>> header_words("E-Mail_Address")
    ['e', 'mail', 'address']
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", header)
    return re.findall(r"[a-z0-9]+", spaced.lower())


def _name_reason(header: str) -> str | None:
    words = tuple(header_words(header))
    if not words:
        return None
    if words in _BARE_ONLY:
        return _NAME_PHRASES[words]
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            phrase = words[start : start + size]
            if phrase in _NAME_PHRASES and phrase not in _BARE_ONLY:
                return _NAME_PHRASES[phrase]
    if any("birth" in word or word == "dob" for word in words):
        return "a date of birth"
    squashed = "".join(words)
    for fragment, reason in _SQUASHED.items():
        if fragment in squashed:
            return reason
    return None


def _is_age(header: str) -> bool:
    words = header_words(header)
    return bool(words) and words[0] == "age" and (len(words) == 1 or words[1] in ("years", "at"))


def sample_positions(n_filled: int) -> np.ndarray:
    """Which of ``n_filled`` non-blank cells are sampled: the first half of the sample, then
    the rest spread evenly to the last cell."""
    if n_filled <= PHI_SAMPLE:
        return np.arange(n_filled)
    half = PHI_SAMPLE // 2
    spread = np.linspace(half, n_filled - 1, PHI_SAMPLE - half).astype(np.int64)
    return np.concatenate([np.arange(half), spread])


def sampled_cells(cells: pd.Series) -> pd.Series:
    """The non-blank cells of ``cells`` that are checked for identifiers (see
    :func:`sample_positions`), through pandas."""
    # Positions of the non-blank cells, so that a long column is not copied to drop its blanks.
    filled = np.flatnonzero(cells.notna().to_numpy(dtype=bool))
    return cells.iloc[filled[sample_positions(len(filled))]]


def arrow_sample(cells: pd.Series) -> pa.Array | None:
    """:func:`sampled_cells`'s cells taken in Arrow, for the reader's Arrow-backed text; a column
    without blanks needs no mask. None for any other column."""
    dtype = cells.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    arrow = cells.array.__arrow_array__()
    if arrow.null_count:
        valid = arrow.is_valid()
        filled = np.flatnonzero(np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool))
        positions = filled[sample_positions(len(filled))]
    else:
        positions = sample_positions(len(arrow))
    if isinstance(arrow, pa.Array):
        return arrow.take(pa.array(positions, type=pa.int64()))
    # Each chunk takes its own cells (positions ascend, so the parts stay in order): a take
    # across chunks would first join a column of a million cells.
    bounds = np.cumsum([0, *(len(chunk) for chunk in arrow.chunks)])
    which = np.searchsorted(bounds, positions, side="right") - 1
    parts = [
        arrow.chunk(int(i)).take(pa.array(positions[which == i] - bounds[i], type=pa.int64()))
        for i in np.unique(which)
    ]
    return pa.concat_arrays(parts) if parts else pa.array([], type=arrow.type)


def _distinct_counts(cells: pd.Series) -> tuple[pd.Series, np.ndarray, int]:
    """The distinct sampled values (``string``), how many sampled cells hold each, and the
    sample size."""
    sample = arrow_sample(cells)
    if sample is not None:
        counts = pc.value_counts(sample)
        weights = counts.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
        distinct = pd.Series(pd.array(counts.field("values"), dtype="string"), copy=False)
        return distinct, weights, len(sample)
    text = sampled_cells(cells).astype("string")
    counts = text.value_counts(sort=False, dropna=True)
    return pd.Series(counts.index, dtype="string"), counts.to_numpy(dtype=np.int64), len(text)


def value_reasons(header: str, cells: pd.Series) -> list[str]:
    """What the sampled cells of column ``header`` look like that may identify a patient
    ("e-mail addresses", "phone numbers", ...); [] when nothing does."""
    # Each pattern runs once per distinct sampled value; hits still count sampled cells.
    distinct, weights, n_sampled = _distinct_counts(cells)
    if not n_sampled:
        return []
    reasons = []
    for pattern, reason, loose in _VALUE_RULES:
        # pandas picks RE2 or Python's re from the pattern and the distinct values.
        matched = distinct.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
        hits = int(weights[matched].sum())
        if hits and (not loose or hits >= LOOSE_SHARE * n_sampled):
            reasons.append(reason)
    if _is_age(header):
        ages = pd.to_numeric(cells, errors="coerce")
        if (ages > OLDEST_AGE).any():
            reasons.append(f"ages over {OLDEST_AGE} (group them as 90 or older)")
    return reasons


def find_phi(frame: pd.DataFrame, *, file: str, headers: list[str] | None = None) -> list[Problem]:
    """One error for each column that looks like it identifies patients.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from :func:`analytics.ingest.reader.read_table` (its ``_row`` column is ignored).
    file : str
        The file name, for the problems.
    headers : list of str, optional
        The headers as written in the file, one per column of ``frame`` other than ``_row``;
        problems name these. Defaults to the frame's column names.

    Returns
    -------
    list of Problem
        Errors with ``row`` and ``value`` None and a rule starting with
        :data:`PHI_RULE_PREFIX`, in column order.

    References
    ----------
    .. [1] 45 CFR 164.514(b)(2), the HIPAA Safe Harbor de-identification standard.
       https://www.ecfr.gov/current/title-45/section-164.514
    """
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    if headers is None:
        headers = [str(c) for c in columns]
    if len(headers) != len(columns):
        raise ValueError(
            f"headers has {len(headers)} names but the frame has {len(columns)} columns"
        )
    problems = []
    for column, header in zip(columns, headers):
        by_name = _name_reason(header)
        if by_name:
            rule = f"its header suggests {by_name}"
        else:
            found = value_reasons(header, frame[column])
            if not found:
                continue
            rule = "it contains what look like " + " and ".join(found)
        problems.append(
            Problem(
                file=file,
                row=None,
                column=header,
                value=None,
                rule=(
                    f"{PHI_RULE_PREFIX}{rule}. Remove the column before uploading, or choose "
                    "to drop it on import"
                ),
                severity=ERROR,
            )
        )
    return problems


def drop_columns(frame: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """``frame`` without the columns that :func:`find_phi` flagged (a new frame).

    Problems of other kinds are ignored. A problem's column is matched to the frame by its
    header as written or as normalised by :func:`analytics.ingest.reader.normalise_header`.
    """
    flagged = {p.column for p in problems if is_phi_problem(p) and p.column is not None}
    names = flagged | {normalise_header(c) for c in flagged}
    return frame.drop(columns=[c for c in frame.columns if c in names])
