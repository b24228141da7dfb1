"""Rate differences against Newcombe (1998) and outcomes split by group."""

import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from analytics.core.contract import clinic_from_frames
from analytics.core.definitions import OutcomeDefinitions, ResponseRule
from analytics.metrics.groups import compare_groups, compare_rates, group_outcomes


# Newcombe RG (1998), Stat Med 17:873, Table II, method 10 (hybrid score, no continuity
# correction), examples (a), (b) and (d)-(h). (a) and (b) are also pinned by the R package
# propint's tests (ci.two.indep.props).
@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_hybrid_score_matches_paper(k1, n1, k2, n2, low, high):
    d = compare_rates(k1, n1, k2, n2)
    assert d.difference == pytest.approx(k1 / n1 - k2 / n2)
    assert_allclose([d.ci_low, d.ci_high], [low, high], atol=5e-5)


def test_fisher_p_is_scipys_two_sided():
    # Feder 2021: 10/15 vs 3/15 responders. R: fisher.test(matrix(c(10, 5, 3, 12), 2))$p.value
    d = compare_rates(10, 15, 3, 15)
    assert d.p_value == pytest.approx(stats.fisher_exact([[10, 5], [3, 12]]).pvalue)
    assert d.p_value == pytest.approx(0.0253, abs=5e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [((5, 3, 1, 3), "counts must satisfy 0 <= k <= n"), ((1, 3, -1, 3), "counts must satisfy")],
)
def test_compare_rates_rejects_bad_counts(args, message):
    with pytest.raises(ValueError, match=message):
        compare_rates(*args)


def test_empty_group_gives_no_difference():
    d = compare_rates(0, 0, 3, 10)
    assert (d.difference, d.ci_low, d.p_value) == (None, None, None)


def _clinic():
    """IV: 12 patients, 8 respond at week 4 (score 30 from 50), 2 unscored at week 4.
    Nasal: 3 patients, 1 responds at week 4, 1 does not, 1 unscored."""
    sessions, scores = [], []
    for i in range(12):
        pid = f"iv{i:02d}"
        sessions += [(pid, d, "iv_ketamine") for d in (0, 2, 4)]
        scores.append((pid, 0, 50.0))
        if i < 8:
            scores.append((pid, 28, 30.0))
        elif i < 10:
            scores.append((pid, 28, 45.0))
    for i, week4 in enumerate([30.0, 45.0, None]):
        pid = f"n{i}"
        sessions += [(pid, d, "esketamine_nasal") for d in (0, 3)]
        scores.append((pid, 0, 50.0))
        if week4 is not None:
            scores.append((pid, 28, week4))
    a = pd.DataFrame(scores, columns=["patient_id", "day", "total"]).assign(instrument="PCL-5")
    s = pd.DataFrame(sessions, columns=["patient_id", "day", "route"])
    site = pd.DataFrame(
        {
            "patient_id": [f"iv{i:02d}" for i in range(12)] + ["n0", "n1", "n2"],
            "site": ["north"] * 6 + [None] * 6 + ["south"] * 3,
        }
    )
    return clinic_from_frames(sessions=s, assessments=a, patients=site)


DEFS = OutcomeDefinitions.for_instrument("PCL-5")


@pytest.mark.parametrize(
    ("group", "patients", "n", "responders", "small"),
    [
        # IV: 12 ITT patients, 10 scored at week 4, 8 responders
        ("iv_ketamine", 12, 10, 8, True),
        # nasal: 3 patients, 2 scored, 1 responder
        ("esketamine_nasal", 3, 2, 1, True),
    ],
)
def test_group_outcomes_by_route_week4(group, patients, n, responders, small):
    table = group_outcomes(_clinic(), DEFS, "route")
    row = table[(table["group"] == group) & (table["timepoint"] == "week 4")].iloc[0]
    assert (row["patients"], row["n"], row["responders"], row["small"]) == (
        patients,
        n,
        responders,
        small,
    )
    assert row["response_rate"] == pytest.approx(responders / n)
    assert row["response_itt_rate"] == pytest.approx(responders / patients)


def test_group_outcomes_covers_every_window_and_missing_values():
    table = group_outcomes(_clinic(), DEFS, "site")
    assert set(table["group"]) == {"north", "south", "(not recorded)"}
    assert len(table) == 3 * len(DEFS.windows)
    empty = table[(table["group"] == "north") & (table["timepoint"] == "week 8")].iloc[0]
    assert (empty["n"], empty["patients"]) == (0, 6)
    assert pd.isna(empty["response_rate"])


def test_group_outcomes_follows_the_response_rule():
    # A 25-point rule: nobody's 20-point drop counts.
    defs = DEFS.with_changes(response=ResponseRule("points", 25))
    table = group_outcomes(_clinic(), defs, "route")
    assert table["responders"].sum() == 0


def test_compare_groups_week4():
    d = compare_groups(
        _clinic(),
        DEFS,
        by="route",
        first="iv_ketamine",
        second="esketamine_nasal",
        timepoint="week 4",
    )
    assert (d.k1, d.n1, d.k2, d.n2) == (8, 10, 1, 2)
    itt = compare_groups(
        _clinic(),
        DEFS,
        by="route",
        first="iv_ketamine",
        second="esketamine_nasal",
        timepoint="week 4",
        population="intention to treat",
    )
    assert (itt.k1, itt.n1, itt.k2, itt.n2) == (8, 12, 1, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "colour"}, "cannot group by 'colour'"),
        ({"first": "oral"}, "group 'oral' not found in 'route'"),
        ({"population": "all"}, "population must be 'observed' or 'intention to treat'"),
        ({"timepoint": "week 5"}, "timepoint 'week 5' is not one of the windows"),
    ],
)
def test_compare_groups_errors(kwargs, message):
    args = {
        "by": "route",
        "first": "iv_ketamine",
        "second": "esketamine_nasal",
        "timepoint": "week 4",
    } | kwargs
    with pytest.raises(ValueError, match=message):
        compare_groups(_clinic(), DEFS, **args)
