"""The per-patient table: one row per patient, the long tables beside it, and a cohort's rows.

Every number the product shows is a count, a mean, a rate or a Kaplan-Meier estimate over
patients, and each patient's share of it does not depend on who else is in the cohort. The
metric modules therefore each contribute :class:`Facts` (their columns of the one-row-per-patient
frame, plus long tables where one row per patient is not enough: patient x timepoint, patient x
effect, patient x session, patient x week), worked out once per clinic and definitions, and
aggregate them for any cohort given as a boolean mask over the patients (:meth:`PatientTable.keep`).
What depends on the cohort itself (the reliable-change threshold from its baseline SD, survival
curves, t intervals) is computed when aggregating, from the rows.

:func:`analytics.report.patients.patient_table` assembles the table from every metric module;
this module only holds the container, so that each layer can read it.

The table is kept on disk as Parquet files and one JSON file (:meth:`PatientTable.write`): data
only, never code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from analytics.core.ids import PatientIndex

__all__ = ["Facts", "PatientTable", "attribute_facts", "count_facts", "kept_rows", "patient_index"]

# Every long table carries the patient's code: its row in ``PatientTable.patients``.
CODE = "code"


@dataclass(frozen=True)
class Facts:
    """What one metric module contributes to the per-patient table.

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient in the order of the :class:`~analytics.core.ids.PatientIndex` the
        facts were built on (row ``i`` is code ``i``), holding only the module's own columns.
    long : mapping of str to pandas.DataFrame
        Long tables by name, each with an int64 ``code`` column.
    meta : mapping of str to JSON values
        What the aggregation needs besides rows (labels in order, settings), JSON-serialisable.
    """

    patients: pd.DataFrame = field(default_factory=pd.DataFrame)
    long: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientTable:
    """Each patient's facts for one clinic and one set of outcome definitions.

    Attributes
    ----------
    index : PatientIndex
        The patient ids; a patient's code is its position here and its row in ``patients``.
    patients : pandas.DataFrame
        One row per patient: ``patient_id`` and every metric module's columns
        (``docs/patient-table.md`` lists them).
    long : mapping of str to pandas.DataFrame
        The long tables by name, each with a ``code`` column.
    meta : mapping of str to JSON values
        Each module's aggregation settings and labels.
    """

    index: PatientIndex
    patients: pd.DataFrame
    long: Mapping[str, pd.DataFrame]
    meta: Mapping[str, Any]

    @classmethod
    def from_facts(cls, index: PatientIndex, facts) -> PatientTable:
        """Put the modules' facts side by side; a column or long table named twice is an error."""
        frames = [pd.DataFrame({"patient_id": index.ids.array})]
        long: dict[str, pd.DataFrame] = {}
        meta: dict[str, Any] = {}
        seen = {"patient_id"}
        for part in facts:
            if len(part.patients.columns) and len(part.patients) != len(index):
                raise ValueError(
                    f"facts of {len(part.patients)} patients for an index of {len(index)}"
                )
            twice = seen & set(part.patients.columns)
            if twice or long.keys() & part.long.keys() or meta.keys() & part.meta.keys():
                named = sorted(twice | (long.keys() & part.long.keys()))
                raise ValueError(f"a column, table or setting is given twice: {named}")
            seen |= set(part.patients.columns)
            frames.append(part.patients.reset_index(drop=True))
            long.update(part.long)
            meta.update(part.meta)
        patients = pd.concat(frames, axis=1)
        return cls(index=index, patients=patients, long=long, meta=meta)

    @classmethod
    def of(cls, data, definitions, *builders) -> PatientTable:
        """The table of ``data``: the patients' own columns, their row counts
        (:func:`count_facts`) and each builder's facts.

        Each builder is called as ``builder(data, definitions, index)`` and returns
        :class:`Facts`; a metric module uses this with its own builders only.
        """
        index = patient_index(data)
        facts = [attribute_facts(data, index), count_facts(data, index)]
        facts += [build(data, definitions, index) for build in builders]
        return cls.from_facts(index, facts)

    def __len__(self) -> int:
        return len(self.index)

    def keep(self, patient_ids=None) -> np.ndarray:
        """The cohort as a boolean mask over the patients (None: every patient).

        Examples
        --------
        >>> table = PatientTable.from_facts(PatientIndex(["a", "b", "c"]), [])
        >>> table.keep(["c", "a", "x"]).tolist()
        [True, False, True]
        """
        if patient_ids is None:
            return np.ones(len(self.index), dtype=bool)
        return self.index.mask(pd.Series(np.asarray(patient_ids, dtype=object), dtype="string"))

    # ------------------------------------------------------------------------------ on disk
    def write(self, folder: str | Path) -> None:
        """Write the table as Parquet files and ``meta.json`` into ``folder`` (created)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.patients.to_parquet(folder / "patients.parquet", index=False)
        for name, frame in self.long.items():
            frame.to_parquet(folder / f"long-{name}.parquet", index=False)
        (folder / "meta.json").write_text(
            json.dumps({"meta": self.meta, "long": sorted(self.long)}, allow_nan=False)
        )

    @classmethod
    def read(cls, folder: str | Path) -> PatientTable:
        """The table :meth:`write` wrote.

        Raises ``OSError`` or ``ValueError`` when it is not whole.
        """
        folder = Path(folder)
        files = {"meta.json": (folder / "meta.json").read_bytes()}
        for name in json.loads(files["meta.json"])["long"]:
            files[f"long-{name}.parquet"] = (folder / f"long-{name}.parquet").read_bytes()
        files["patients.parquet"] = (folder / "patients.parquet").read_bytes()
        return cls.from_files(files)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> PatientTable:
        """The table from the contents of the files :meth:`write` wrote, by file name.

        For a caller that read the files once and checked them: what is parsed is exactly
        those bytes. Raises ``KeyError`` for a missing file, ``ValueError`` for one not whole.
        """
        stored = json.loads(files["meta.json"])
        patients = pd.read_parquet(io.BytesIO(files["patients.parquet"]))
        long = {
            name: pd.read_parquet(io.BytesIO(files[f"long-{name}.parquet"]))
            for name in stored["long"]
        }
        index = PatientIndex(patients["patient_id"])
        return cls(index=index, patients=patients, long=long, meta=stored["meta"])


def patient_index(data) -> PatientIndex:
    """The clinic's patients, sorted by id: every id of any table is a row of ``patients``."""
    ids = data.patients["patient_id"].astype("string").dropna().drop_duplicates()
    return PatientIndex(ids.sort_values(kind="stable").to_numpy())


def attribute_facts(data, index: PatientIndex) -> Facts:
    """The columns of ``patients.csv`` (route of the first session, first-session year and
    month, and every descriptive column kept), one row per patient in ``index`` order."""
    people = data.patients.drop_duplicates("patient_id")
    at = index.positions(people["patient_id"])
    columns = [c for c in people.columns if c != "patient_id"]
    out = people[at >= 0].iloc[np.argsort(at[at >= 0], kind="stable")][columns]
    return Facts(patients=out.reset_index(drop=True), meta={"attributes": columns})


def _per_patient(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=size).astype("int64")


def count_facts(data, index: PatientIndex) -> Facts:
    """Each patient's rows: session rows, sessions (one per patient and day) and assessments of
    any instrument. Every table has them, so no module counts a patient's sessions again.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> clinic = clinic_from_frames(sessions=pd.DataFrame({"patient_id": ["a", "a", "a", "b"],
    ...     "day": [0, 3, 3, 0], "route": "iv_ketamine"}))
    >>> counts = count_facts(clinic, patient_index(clinic)).patients
    >>> counts["count_session_rows"].tolist(), counts["count_sessions"].tolist()
    ([3, 1], [2, 1])
    """
    size = len(index)
    s = data.sessions
    codes = index.positions(s["patient_id"])
    days = s["day"].to_numpy("int64")
    # one session per patient and day: distinct (code, day) pairs
    keys = codes.astype("int64") * (1 << 32) + (days + (1 << 31))
    first = np.ones(len(keys), dtype=bool)
    if len(keys) and np.all(keys[1:] >= keys[:-1]):  # the contract's order
        first[1:] = keys[1:] != keys[:-1]
    else:
        first = ~pd.Series(keys).duplicated().to_numpy()
    return Facts(
        patients=pd.DataFrame(
            {
                "count_session_rows": _per_patient(codes, size),
                "count_sessions": _per_patient(codes[first], size),
                "count_assessments": _per_patient(
                    index.positions(data.assessments["patient_id"]), size
                ),
            }
        ),
        meta={"months_kept": bool(data.months_kept)},
    )


def kept_rows(frame: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Positions of the rows of a long table whose patient the cohort ``keep`` holds.

    Taking rows by position is several times faster than a boolean mask whose values change
    from row to row (within a window, neighbouring rows are different patients).

    Examples
    --------
    >>> frame = pd.DataFrame({"code": [0, 1, 1, 2], "x": [1, 2, 3, 4]})
    >>> kept_rows(frame, np.array([False, True, False])).tolist()
    [1, 2]
    """
    return np.flatnonzero(keep[frame[CODE].to_numpy()])
