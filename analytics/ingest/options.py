"""How an upload is imported: the options every stage of the import reads."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

__all__ = ["DATE_ORDERS", "ImportOptions"]

# None: the order must be certain from the file itself.
DATE_ORDERS = (None, "dmy", "mdy")


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
    date_order : {None, "dmy", "mdy"}
        How slashed dates such as 03/04/2025 are read when a file does not make the order
        certain: day first ("dmy") or month first ("mdy"). None: the order must be certain from
        each file (a day above 12 somewhere), or its dates are refused as ambiguous; it is
        never guessed.
    today : datetime.date or None
        The day of the import; dates after it are refused. None: the computer's date.
    extract_date : datetime.date or None
        The day the export was taken from the records system: the data cutoff each patient's
        follow-up time runs to. None: the latest date anywhere in the upload.
    """

    keep_month: bool = False
    prorate: bool = False
    drop_phi: bool = False
    max_bytes: int | None = None
    default_instrument: str = "PCL-5"
    problem_limit: int = 20
    raise_unexpected: bool = False
    date_order: str | None = None
    today: datetime.date | None = None
    extract_date: datetime.date | None = None

    def __post_init__(self) -> None:
        if self.date_order not in DATE_ORDERS:
            raise ValueError(
                f"date_order must be one of {', '.join(map(str, DATE_ORDERS))}, "
                f"got {self.date_order!r}"
            )
        if self.extract_date is not None and self.extract_date > self.import_day():
            raise ValueError(
                f"the extract date {self.extract_date.isoformat()} is after the day of the "
                f"import ({self.import_day().isoformat()}): an export cannot be taken in the "
                "future"
            )

    def import_day(self) -> datetime.date:
        """The day of the import: :attr:`today`, else the computer's date."""
        return self.today or datetime.date.today()
