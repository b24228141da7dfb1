"""Published outcome figures to set beside a clinic's own numbers.

Every row is another population (a trial or another network's records), measured with its own
instrument, schedule and definitions: the figures give a sense of scale, never a target or a
one-to-one comparison. Each row says where it comes from.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["BENCHMARK_COLUMNS", "NOT_COMPARABLE", "published_benchmarks"]

NOT_COMPARABLE = "other population; not comparable one-to-one"

# source      short citation, with DOI where there is one
# population  who was treated and how
# measure     what the value is (instrument, definition, timepoint)
# value       the figure: a proportion in [0, 1], a number of points, or days
# unit        "proportion" | "points" | "days"
# ci_low, ci_high   95% CI when published (NaN otherwise)
# n           patients behind the value (NaN when not a patient count)
# note        why it cannot be read one-to-one against the clinic
BENCHMARK_COLUMNS = [
    "source",
    "population",
    "measure",
    "value",
    "unit",
    "ci_low",
    "ci_high",
    "n",
    "note",
]

_FEDER = "Feder et al. 2021, Am J Psychiatry 178:193. doi:10.1176/appi.ajp.2020.20050596"
_ALBOTT = "Albott et al. 2018, J Clin Psychiatry 79:17m11634. doi:10.4088/JCP.17m11634"
_OSMIND = "Osmind real-world IV ketamine PTSD cohort (n = 1,306), PCL-5"
_REAL_WORLD_MDD = "Real-world IV ketamine for depression (n = 537), PHQ-9"

_NAN = float("nan")

# (source, population, measure, value, unit, ci_low, ci_high, n, extra note)
_ROWS = [
    (
        _FEDER,
        "Chronic PTSD, RCT, 6 IV ketamine infusions over 2 weeks",
        "Response (>= 30% CAPS-5 reduction) after 6 infusions, ketamine arm (10/15)",
        10 / 15,
        "proportion",
        _NAN,
        _NAN,
        15,
        "clinician-rated CAPS-5, not PCL-5",
    ),
    (
        _FEDER,
        "Chronic PTSD, RCT, 6 IV midazolam infusions over 2 weeks",
        "Response (>= 30% CAPS-5 reduction) after 6 infusions, midazolam arm (3/15)",
        3 / 15,
        "proportion",
        _NAN,
        _NAN,
        15,
        "active placebo arm; clinician-rated CAPS-5",
    ),
    (
        _FEDER,
        "Ketamine responders in the same trial, followed after induction",
        "Median days to loss of response",
        27.5,
        "days",
        _NAN,
        _NAN,
        _NAN,
        "trial follow-up visits, CAPS-5",
    ),
    (
        _OSMIND,
        "Real-world IV ketamine for PTSD",
        "Mean PCL-5 at baseline",
        47.0,
        "points",
        _NAN,
        _NAN,
        1306,
        "approximate published figure",
    ),
    (
        _OSMIND,
        "Real-world IV ketamine for PTSD",
        "Mean PCL-5 after 4 infusions (published as 27-28)",
        27.5,
        "points",
        27.0,
        28.0,
        1306,
        "ci_low/ci_high hold the published range, not a confidence interval",
    ),
    (
        _OSMIND,
        "Real-world IV ketamine for PTSD",
        "Response (>= 30% PCL-5 reduction) after infusion 1",
        0.27,
        "proportion",
        _NAN,
        _NAN,
        1306,
        "",
    ),
    (
        _OSMIND,
        "Real-world IV ketamine for PTSD",
        "Response (>= 30% PCL-5 reduction) by infusion 6",
        0.70,
        "proportion",
        _NAN,
        _NAN,
        1306,
        "",
    ),
    (
        _ALBOTT,
        "PTSD with depression, open label, 6 IV ketamine infusions over 12 days",
        "Mean PCL-5 fall after induction",
        33.3,
        "points",
        23.0,
        43.5,
        15,
        "",
    ),
    (
        _ALBOTT,
        "PTSD with depression, open label, 6 IV ketamine infusions over 12 days",
        "PTSD remission after induction (12/15)",
        12 / 15,
        "proportion",
        _NAN,
        _NAN,
        15,
        "",
    ),
    (
        _ALBOTT,
        "Remitters in the same study, followed after induction",
        "Median days to PTSD relapse",
        41.0,
        "days",
        _NAN,
        _NAN,
        _NAN,
        "20 days to depressive relapse in the same study",
    ),
    (
        _REAL_WORLD_MDD,
        "Real-world IV ketamine for depression",
        "PHQ-9 response (>= 50% reduction)",
        0.536,
        "proportion",
        _NAN,
        _NAN,
        537,
        "depression, not PTSD",
    ),
    (
        _REAL_WORLD_MDD,
        "Real-world IV ketamine for depression",
        "PHQ-9 remission",
        0.289,
        "proportion",
        _NAN,
        _NAN,
        537,
        "depression, not PTSD",
    ),
]


def published_benchmarks() -> pd.DataFrame:
    """The published ketamine outcome figures as a tidy frame.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BENCHMARK_COLUMNS`, one row per published figure. Proportions are in
        [0, 1]. Where a trial reported k of n, the row's 95% CI is the Wilson interval of k/n
        (computed here, not published); otherwise ``ci_low``/``ci_high`` are the published
        bounds or NaN. ``note`` always starts with "other population; not comparable
        one-to-one".

    References
    ----------
    .. [1] Feder A, et al. (2021). A randomized controlled trial of repeated ketamine
       administration for chronic posttraumatic stress disorder. Am J Psychiatry 178:193-202.
       doi:10.1176/appi.ajp.2020.20050596
    .. [2] Albott CS, et al. (2018). Efficacy, safety, and durability of repeated ketamine
       infusions for comorbid posttraumatic stress disorder and treatment-resistant depression.
       J Clin Psychiatry 79:17m11634. doi:10.4088/JCP.17m11634
    """
    # Local import keeps the table importable even while stats is being edited.
    from analytics.core.stats import proportion_ci

    frame = pd.DataFrame(_ROWS, columns=[c for c in BENCHMARK_COLUMNS if c != "note"] + ["extra"])
    frame["note"] = [NOT_COMPARABLE + (f"; {x}" if x else "") for x in frame.pop("extra")]
    # Rows published as k/n get a Wilson interval so they read like the clinic's own rates.
    counted = frame["measure"].str.extract(r"\((\d+)/(\d+)\)").astype("float64")
    has = counted[0].notna()
    low, high = proportion_ci(counted.loc[has, 0].to_numpy(), counted.loc[has, 1].to_numpy())
    frame.loc[has, "ci_low"] = low
    frame.loc[has, "ci_high"] = high
    frame["n"] = frame["n"].astype("Int64")
    return frame[BENCHMARK_COLUMNS]
