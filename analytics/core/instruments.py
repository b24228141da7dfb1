"""The questionnaires the product scores, and how to recognise their columns in an upload.

Every number here carries its source in a comment. Two conventions hold for every instrument:

* ``remission_below`` is a *strict* upper bound: remission means ``total < remission_below``.
  A published rule written "<= 13" (BDI-II) is stored as 14, "<= 12" (MADRS) as 13; on whole
  totals the two spellings agree. A prorated (fractional) total is compared the same way.
* ``severity_bands`` are ``(lower_bound, label)`` pairs, each band running from its lower bound
  (inclusive) up to the next band's lower bound (exclusive). Empty where no validated bands exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "UnknownInstrumentError",
    "canonical_instrument",
    "detect_instruments",
    "get_instrument",
    "item_column_map",
    "severity_label",
]


@dataclass(frozen=True)
class Instrument:
    """One rating scale: its items, its range and the default outcome rules.

    Attributes
    ----------
    name : str
        Canonical name, as stored in ``assessments.instrument`` ("PCL-5").
    n_items : int
        Number of items; the canonical item columns are ``item_1`` .. ``item_{n_items}``.
    item_min, item_max : int
        Range of every item (whole numbers).
    total_min, total_max : int
        Range of the total (the sum of the items).
    clusters : dict of str to tuple of int
        Symptom clusters as 1-based item numbers (PCL-5 only); scored as ``cluster_<key>``.
    response_pct : float
        Default response rule: at least this percent reduction from baseline.
    remission_below : float
        Default remission rule: ``total < remission_below`` (strict, see the module notes).
    prefixes : tuple of str
        REDCap field-name prefixes of the items (``pcl5_`` for ``pcl5_1``).
    aliases : tuple of str
        Other spellings of the name accepted in uploads ("PCL5", "PTSD Checklist").
    label : str
        Long name for display.
    reference : str
        Where the scoring comes from.
    severity_bands : tuple of (float, str)
        ``(lower_bound, label)`` in increasing order; empty when there are no validated bands.
    dx_item_min : int or None
        Item rating that counts a symptom as present for ``dx_cluster_min`` (PCL-5: 2).
    dx_cluster_min : dict of str to int
        Symptoms needed per cluster for the provisional diagnosis; empty when there is none.
    item_labels : tuple of str
        A few words per item, in item order, for screens (our wording of the symptom each
        item asks about); empty when the items are shown by number.
    """

    name: str
    n_items: int
    item_min: int
    item_max: int
    total_min: int
    total_max: int
    clusters: dict[str, tuple[int, ...]] = field(default_factory=dict)
    response_pct: float = 50.0
    remission_below: float = float("nan")
    prefixes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    label: str = ""
    reference: str = ""
    severity_bands: tuple[tuple[float, str], ...] = ()
    dx_item_min: int | None = None
    dx_cluster_min: dict[str, int] = field(default_factory=dict)
    item_labels: tuple[str, ...] = ()

    @property
    def items(self) -> list[str]:
        """Canonical item column names ``item_1`` .. ``item_N``."""
        return [f"item_{i}" for i in range(1, self.n_items + 1)]

    def item_label(self, number: int) -> str:
        """How item ``number`` (1-based) is named on screen: "9. Negative beliefs about self,
        others or the world", or "item 9" when the instrument has no item labels.

        Examples
        --------
        >>> INSTRUMENTS["PCL-5"].item_label(20)
        '20. Trouble sleeping'
        """
        if len(self.item_labels) >= number >= 1:
            return f"{number}. {self.item_labels[number - 1]}"
        return f"item {number}"


INSTRUMENTS: dict[str, Instrument] = {
    # Blevins et al. 2015, J Trauma Stress 28:489, doi:10.1002/jts.22059; NCPTSD "Using the PCL-5".
    # Clusters follow DSM-5 (B 1-5, C 6-7, D 8-14, E 15-20). The cut-point 33 is the upper end of
    # the NCPTSD 31-33 range (Bovin et al. 2016, Psychol Assess 28:1379, doi:10.1037/pas0000254).
    # No validated severity bands exist, so none are given; 33 is the only threshold.
    # Response >= 30%: Feder et al. 2021, Am J Psychiatry 178:193 (our default, see clinical.md).
    "PCL-5": Instrument(
        name="PCL-5",
        n_items=20,
        item_min=0,
        item_max=4,
        total_min=0,
        total_max=80,
        clusters={
            "B": (1, 2, 3, 4, 5),
            "C": (6, 7),
            "D": (8, 9, 10, 11, 12, 13, 14),
            "E": (15, 16, 17, 18, 19, 20),
        },
        response_pct=30.0,
        remission_below=33.0,
        prefixes=("pcl5_", "pcl_"),
        aliases=(
            "PCL5",
            "PCL 5",
            "PCL_5",
            "PCL",
            "PTSD Checklist",
            "PTSD Checklist for DSM-5",
        ),
        label="PTSD Checklist for DSM-5",
        reference=(
            "Blevins CA et al. (2015). J Trauma Stress 28:489-498. doi:10.1002/jts.22059; "
            "Bovin MJ et al. (2016). Psychol Assess 28:1379-1391. doi:10.1037/pas0000254"
        ),
        severity_bands=(),
        dx_item_min=2,
        dx_cluster_min={"B": 1, "C": 1, "D": 2, "E": 2},
        # DSM-5 PTSD symptoms B1-E6 in the PCL-5's item order (American Psychiatric
        # Association 2013; Weathers et al. 2013, National Center for PTSD), in our own words.
        item_labels=(
            "Intrusive memories",
            "Nightmares",
            "Flashbacks",
            "Upset by reminders",
            "Physical reactions to reminders",
            "Avoiding thoughts and feelings",
            "Avoiding people, places, activities",
            "Trouble remembering the event",
            "Negative beliefs about self, others or the world",
            "Blaming self or others",
            "Strong negative feelings",
            "Loss of interest",
            "Feeling distant from others",
            "Trouble feeling positive emotions",
            "Irritable or aggressive",
            "Risky or self-destructive behaviour",
            "On guard (hypervigilance)",
            "Easily startled",
            "Trouble concentrating",
            "Trouble sleeping",
        ),
    ),
    # Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606, doi:10.1046/j.1525-1497.2001.
    # 016009606.x: bands 5/10/15/20. Remission < 5 is our default (clinical.md).
    "PHQ-9": Instrument(
        name="PHQ-9",
        n_items=9,
        item_min=0,
        item_max=3,
        total_min=0,
        total_max=27,
        response_pct=50.0,
        remission_below=5.0,
        prefixes=("phq9_", "phq_"),
        aliases=("PHQ9", "PHQ 9", "PHQ_9", "PHQ", "Patient Health Questionnaire-9"),
        label="Patient Health Questionnaire-9",
        reference=(
            "Kroenke K, Spitzer RL, Williams JB (2001). J Gen Intern Med 16:606-613. "
            "doi:10.1046/j.1525-1497.2001.016009606.x"
        ),
        severity_bands=(
            (0.0, "minimal"),
            (5.0, "mild"),
            (10.0, "moderate"),
            (15.0, "moderately severe"),
            (20.0, "severe"),
        ),
    ),
    # Spitzer et al. 2006, Arch Intern Med 166:1092, doi:10.1001/archinte.166.10.1092: cut-points
    # 5/10/15 for mild/moderate/severe anxiety. Remission < 5 is a convention (clinical.md).
    "GAD-7": Instrument(
        name="GAD-7",
        n_items=7,
        item_min=0,
        item_max=3,
        total_min=0,
        total_max=21,
        response_pct=50.0,
        remission_below=5.0,
        prefixes=("gad7_", "gad_"),
        aliases=("GAD7", "GAD 7", "GAD_7", "GAD", "Generalized Anxiety Disorder-7"),
        label="Generalized Anxiety Disorder-7",
        reference=(
            "Spitzer RL, Kroenke K, Williams JB, Lowe B (2006). Arch Intern Med 166:1092-1097. "
            "doi:10.1001/archinte.166.10.1092"
        ),
        severity_bands=((0.0, "minimal"), (5.0, "mild"), (10.0, "moderate"), (15.0, "severe")),
    ),
    # Beck, Steer & Brown 1996, BDI-II Manual (Psychological Corporation): 0-13 minimal,
    # 14-19 mild, 20-28 moderate, 29-63 severe. Remission "<= 13" is stored as < 14.
    "BDI-II": Instrument(
        name="BDI-II",
        n_items=21,
        item_min=0,
        item_max=3,
        total_min=0,
        total_max=63,
        response_pct=50.0,
        remission_below=14.0,
        prefixes=("bdi2_", "bdi_", "bdiii_"),
        aliases=("BDI", "BDI2", "BDI-2", "BDI 2", "BDI II", "BDIII", "Beck Depression Inventory"),
        label="Beck Depression Inventory-II",
        reference="Beck AT, Steer RA, Brown GK (1996). Manual for the BDI-II. Psychological Corp.",
        severity_bands=((0.0, "minimal"), (14.0, "mild"), (20.0, "moderate"), (29.0, "severe")),
    ),
    # Montgomery & Asberg 1979, Br J Psychiatry 134:382, doi:10.1192/bjp.134.4.382: 10 items 0-6.
    # Remission "<= 12" (SUSTAIN-3 esketamine programme) is stored as < 13. Severity bands differ
    # between authors, so none are given.
    "MADRS": Instrument(
        name="MADRS",
        n_items=10,
        item_min=0,
        item_max=6,
        total_min=0,
        total_max=60,
        response_pct=50.0,
        remission_below=13.0,
        prefixes=("madrs_",),
        aliases=("MADRS-10", "Montgomery-Asberg", "Montgomery-Asberg Depression Rating Scale"),
        label="Montgomery-Asberg Depression Rating Scale",
        reference=(
            "Montgomery SA, Asberg M (1979). Br J Psychiatry 134:382-389. doi:10.1192/bjp.134.4.382"
        ),
        severity_bands=(),
    ),
}


class UnknownInstrumentError(KeyError, ValueError):
    """An instrument name that is not in the registry (catchable as KeyError or ValueError)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@lru_cache(maxsize=1)
def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for key, inst in INSTRUMENTS.items():
        for spelling in (key, inst.label, *inst.aliases):
            table[_normalise(spelling)] = key
    return table


def canonical_instrument(name: str) -> str | None:
    """The registry name for a spelling of an instrument, or None when it is not known.

    Case, spaces, hyphens and underscores are ignored: "pcl 5", "PCL_5" and "PTSD Checklist"
    all give "PCL-5"; "BDI", "BDI-2" and "BDI II" give "BDI-II".

    Examples
    --------
    >>> canonical_instrument("phq9"), canonical_instrument("BDI II"), canonical_instrument("x")
    ('PHQ-9', 'BDI-II', None)
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    return _alias_table().get(_normalise(name))


def get_instrument(name: str) -> Instrument:
    """The :class:`Instrument` for ``name`` (any accepted spelling).

    Raises
    ------
    UnknownInstrumentError
        A subclass of both KeyError and ValueError, naming the valid instruments.
    """
    key = canonical_instrument(name)
    if key is None:
        valid = ", ".join(INSTRUMENTS)
        raise UnknownInstrumentError(f"unknown instrument {name!r}; valid instruments: {valid}")
    return INSTRUMENTS[key]


# Columns that carry a form's metadata or a calculated score, never an item answer.
_NOT_ITEM = re.compile(r"(_complete|_total|_score|_sum|timestamp|_date|_time)$")


@lru_cache(maxsize=None)
def _item_pattern(instrument: str) -> re.Pattern[str]:
    inst = INSTRUMENTS[instrument]
    bases = sorted({p.rstrip("_") for p in inst.prefixes}, key=len, reverse=True)
    # The optional suffix must start with a letter ("bdi_1_sadness"), so "phq15_1" is not
    # PHQ-9 item 15 and "pcl5_1" is not PCL item 5.
    # A prefix ending in a digit needs its underscore: "bdi21" is BDI item 21, not "bdi2" item 1.
    alternation = "|".join(re.escape(b) + ("_" if b[-1].isdigit() else "_?") for b in bases)
    return re.compile(rf"^(?:{alternation})0*(\d{{1,3}})(?:_[a-z][a-z0-9_]*)?$")


_GENERIC = re.compile(r"^item_?0*(\d{1,3})$")


def item_column_map(columns: list[str], instrument: str) -> dict[str, str]:
    """Which source columns hold the items of ``instrument``, mapped to ``item_1`` .. ``item_N``.

    Parameters
    ----------
    columns : list of str
        The upload's headers, already lower-cased and stripped.
    instrument : str
        Any accepted spelling of the instrument.

    Returns
    -------
    dict
        ``{source column: "item_k"}`` in item order. Recognised: the canonical ``item_1`` (also
        ``item1``, ``item_01``) and the instrument's REDCap prefixes with or without an
        underscore and with an optional worded suffix (``pcl5_1``, ``pcl5_01``, ``phq91``,
        ``bdi_1_sadness``). Form-status (``*_complete``), totals (``*_total``, ``*_score``,
        ``*_sum``) and timestamps are never items. Canonical ``item_k`` columns beyond the
        instrument's count are left out (the contract CSV carries ``item_1`` .. ``item_21`` for
        every instrument; cells beyond the count must be blank, which scoring checks).

    Raises
    ------
    ValueError
        A prefixed column numbers an item outside 1..N (``pcl5_21``), or two columns are the
        same item (``pcl5_1`` and ``pcl_1``).

    Examples
    --------
    >>> item_column_map(["scr_id", "pcl5_1", "pcl5_2", "pcl_total"], "PCL-5")
    {'pcl5_1': 'item_1', 'pcl5_2': 'item_2'}
    """
    inst = get_instrument(instrument)
    pattern = _item_pattern(inst.name)
    found: dict[int, str] = {}
    for column in columns:
        name = str(column)
        if _NOT_ITEM.search(name):
            continue
        generic = _GENERIC.match(name)
        match = generic or pattern.match(name)
        if match is None:
            continue
        k = int(match.group(1))
        if not 1 <= k <= inst.n_items:
            if generic:
                continue
            raise ValueError(
                f"{inst.name} has items 1-{inst.n_items}; column {name!r} would be item {k}"
            )
        if k in found:
            raise ValueError(
                f"{inst.name} item {k} appears twice: columns {found[k]!r} and {name!r}"
            )
        found[k] = name
    return {found[k]: f"item_{k}" for k in sorted(found)}


def detect_instruments(columns) -> list[str]:
    """Instruments whose prefixed item columns appear in ``columns``, in registry order.

    Generic ``item_k`` columns identify no instrument. A column numbered out of range still
    counts, so that :func:`item_column_map` can then report it.

    Examples
    --------
    >>> detect_instruments(["record_id", "bdi_1_sadness", "pcl5_1", "pcl5_complete"])
    ['PCL-5', 'BDI-II']
    """
    names = [str(c) for c in columns if not _NOT_ITEM.search(str(c))]
    return [
        key
        for key in INSTRUMENTS
        if any(_item_pattern(key).match(n) and not _GENERIC.match(n) for n in names)
    ]


def severity_label(totals, *, instrument: str) -> pd.Series:
    """The severity band of each total, as a string Series (NA where there are no bands).

    Examples
    --------
    >>> severity_label([4, 5, 27], instrument="PHQ-9").tolist()
    ['minimal', 'mild', 'severe']
    """
    inst = get_instrument(instrument)
    values = pd.Series(totals, dtype="float64")
    if not inst.severity_bands:
        return pd.Series(pd.NA, index=values.index, dtype="string")
    lows = [b for b, _ in inst.severity_bands]
    labels = [label for _, label in inst.severity_bands]
    bins = [*lows, np.inf]
    cut = pd.cut(values, bins=bins, labels=labels, right=False, ordered=False)
    return cut.astype("string")
