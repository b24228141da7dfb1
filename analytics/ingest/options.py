"""How an upload is imported: the options every stage of the import reads."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImportOptions"]


@dataclass(frozen=True)
class ImportOptions:
    """How an upload is imported.

    Attributes
    ----------
    keep_month : bool
        Keep the month of each patient's first session (a limited data set). Default: the year
        only, as HIPAA Safe Harbor allows (45 CFR 164.514(b)(2)).
    prorate : bool
        Prorate totals with at most 2 missing items (flagged ``prorated``).
    drop_phi : bool
        Drop identifying-looking columns with a WARNING instead of refusing the upload.
    max_bytes : int or None
        Largest file accepted; None uses the reader's default.
    default_instrument : str
        Instrument of assessment rows whose file has no (or a blank) ``instrument``.
    problem_limit : int
        At most this many problems per file, column and rule; the rest are counted.
    raise_unexpected : bool
        Re-raise unexpected exceptions instead of reporting them as "could not be read"
        (for tests and debugging).
    """

    keep_month: bool = False
    prorate: bool = False
    drop_phi: bool = False
    max_bytes: int | None = None
    default_instrument: str = "PCL-5"
    problem_limit: int = 20
    raise_unexpected: bool = False
