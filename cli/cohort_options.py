"""The sidebar's cohort filters as command-line options, for ``report`` and ``export-patients``.

``--route``, ``--year``, ``--site``, ``--clinician``, ``--band`` and ``--where COLUMN=VALUE``
mean what the sidebar's filters mean (:mod:`analytics.report.cohort`); each may be given more
than once, and several values of one filter keep patients with any of them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import pandas as pd

from analytics.core.contract import ClinicData
from analytics.report.cohort import (
    BAND_SLUGS,
    CohortFilters,
    cohort_ids,
    filter_options,
    route_words,
)

__all__ = [
    "BAND_CHOICES",
    "CohortTable",
    "add_cohort_options",
    "cohort_filters_of",
    "cohort_ids_of",
    "cohort_table_of",
]

# --band takes the band's slug without its "pcl5-" prefix: below-33, 33-49, 50-up.
BAND_CHOICES = {slug.removeprefix("pcl5-"): label for label, slug in BAND_SLUGS.items()}


def add_cohort_options(parser: argparse.ArgumentParser) -> None:
    """The cohort options, each repeatable, in the sidebar's words."""
    group = parser.add_argument_group("cohort (the dashboard's sidebar filters)")
    group.add_argument(
        "--route",
        action="append",
        default=[],
        help="patients whose first treatment was by this route: a code (iv_ketamine) or its "
        'words ("IV ketamine")',
    )
    group.add_argument(
        "--year",
        action="append",
        type=int,
        default=[],
        help="patients whose first session was in this year",
    )
    group.add_argument(
        "--site", action="append", default=[], help="patients seen at least once at this site"
    )
    group.add_argument(
        "--clinician",
        action="append",
        default=[],
        help="patients seen at least once by this clinician",
    )
    group.add_argument(
        "--band",
        action="append",
        choices=list(BAND_CHOICES),
        default=[],
        help="baseline PCL-5 display band: below-33, 33-49 or 50-up (bands made for this "
        "dashboard; 33 is the usual score for probable PTSD)",
    )
    group.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="patients whose patients.csv column has this value (e.g. sex=female)",
    )


def _listed(values) -> str:
    return ", ".join(str(v) for v in values) or "none"


def _routes(asked: list[str], known: list[str]) -> tuple:
    spelled = {code.lower(): code for code in known}
    spelled |= {route_words(code).lower(): code for code in known}
    chosen = []
    for value in asked:
        code = spelled.get(value.strip().lower())
        if code is None:
            raise ValueError(
                f"--route: no patients with route {value!r}; routes are {_listed(known)}"
            )
        chosen.append(code)
    return tuple(dict.fromkeys(chosen))


def _known(option: str, asked: list, known: list, words: str) -> tuple:
    for value in asked:
        if value not in known:
            raise ValueError(f"--{option}: no {words} {value!r}; {words}s are {_listed(known)}")
    return tuple(dict.fromkeys(asked))


def _extra(asked: list[str], options: dict[str, list], data: ClinicData) -> tuple:
    columns = [c for c in data.extra_patient_columns if c not in ("site", "clinician", "route")]
    chosen: dict[str, list] = {}
    for item in asked:
        column, equals, value = item.partition("=")
        column, value = column.strip(), value.strip()
        if not equals or not column:
            raise ValueError(f"--where: write COLUMN=VALUE, not {item!r}")
        if column not in columns:
            raise ValueError(
                f"--where: no patients column {column!r}; columns are {_listed(columns)}"
            )
        values = options.get(f"extra:{column}") or sorted(data.patients[column].dropna().unique())
        # the column's own values, as typed (a number stays a number)
        known = {str(v): v for v in values}
        if value not in known:
            listed = _listed(list(known)[:30])
            raise ValueError(f"--where: no patient with {column} {value!r}; values are {listed}")
        chosen.setdefault(column, []).append(known[value])
    return tuple((column, tuple(values)) for column, values in chosen.items())


def cohort_filters_of(args: argparse.Namespace, data: ClinicData) -> CohortFilters:
    """The filters the options ask for, checked against the values ``data`` holds.

    Raises
    ------
    ValueError
        When an option names a value no patient has (the message lists those that exist) or
        a column ``patients.csv`` does not have.
    """
    options = filter_options(data)
    return CohortFilters(
        years=_known("year", args.year, options["years"], "first-session year"),
        routes=_routes(args.route, options["routes"]),
        sites=_known("site", args.site, options["sites"], "site"),
        clinicians=_known("clinician", args.clinician, options["clinicians"], "clinician"),
        bands=tuple(dict.fromkeys(BAND_CHOICES[b] for b in args.band)),
        extra=_extra(args.where, options, data),
    )


def cohort_ids_of(args: argparse.Namespace, data: ClinicData) -> pd.Index | None:
    """The ids the options keep (None: every patient); raises as :func:`cohort_filters_of`."""
    return cohort_ids(data, cohort_filters_of(args, data))


@dataclass(frozen=True)
class CohortTable:
    """A command's cohort: the clinic, the definitions, the filters and the per-patient table
    with the cohort's mask over it."""

    data: ClinicData
    definitions: object
    filters: CohortFilters
    table: object
    keep: object


def cohort_table_of(args: argparse.Namespace) -> CohortTable | int:
    """The cohort a ``report`` or ``export-patients`` command asks for, or its exit code with
    the reason on stderr: 1 without a clinic or without a patient in the cohort, 2 for an
    option naming nothing that exists."""
    from analytics.report.patients import patient_table
    from cli.clinic_source import clinic_of, definitions_of

    data = clinic_of(args)
    if data is None:
        return 1
    try:
        definitions = definitions_of(args)
        filters = cohort_filters_of(args, data)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    table = patient_table(data, definitions)
    keep = table.keep(cohort_ids(data, filters))
    if not keep.any():
        print("error: no patient matches these filters; nothing was written", file=sys.stderr)
        return 1
    return CohortTable(data, definitions, filters, table, keep)
