"""Where a command's clinic comes from: a folder of CSV exports or the configured database.

The options and loaders every command that reads a clinic shares (``summary``, ``report``,
``export-patients``), so they read folders, definitions and users the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = [
    "add_definition_options",
    "add_import_options",
    "cli_user",
    "clinic_of",
    "definitions_of",
    "folder_files",
    "import_folder_of",
    "import_settings",
    "iso_day",
    "print_problems",
    "stored_clinic",
    "written",
]


def add_import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", type=Path, help="column-mapping preset (JSON) for this export")
    parser.add_argument(
        "--keep-month",
        action="store_true",
        help="keep the month of the first session (a limited data set; default keeps the year)",
    )
    parser.add_argument(
        "--prorate",
        action="store_true",
        help="prorate totals when at most 2 items are missing (flagged as prorated)",
    )
    parser.add_argument(
        "--drop-phi",
        action="store_true",
        help="drop columns that look identifying instead of refusing the upload",
    )
    parser.add_argument(
        "--date-order",
        choices=["dmy", "mdy"],
        help="how to read dates such as 03/04/2025 when the files do not make it certain: "
        "day first (dmy) or month first (mdy); never guessed",
    )
    parser.add_argument(
        "--extract-date",
        type=iso_day,
        metavar="YYYY-MM-DD",
        help="the day the export was taken: each patient's follow-up runs to it (default: the "
        "latest date in the files)",
    )


def iso_day(text: str):
    """A YYYY-MM-DD day for ``--extract-date``; argparse reports anything else."""
    import datetime

    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day written YYYY-MM-DD: {text!r}") from None
    if day > datetime.date.today():
        raise argparse.ArgumentTypeError(
            f"{text} is after today: an export cannot be taken in the future"
        )
    return day


def folder_files(args: argparse.Namespace) -> dict[str, bytes]:
    """Every CSV file of the command's folder, found as the importer finds them (``.csv`` in
    any case), so ``validate`` and ``import`` always read the same files."""
    from analytics.ingest.discovery import csv_files

    folder = Path(args.dir)
    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder of CSV files")
    return csv_files(folder)


def import_settings(args: argparse.Namespace):
    """The import options and the column mapping the command line asks for."""
    from analytics.ingest.mapping import load_preset
    from analytics.ingest.options import ImportOptions

    mapping = load_preset(args.mapping) if args.mapping else None
    options = ImportOptions(
        keep_month=args.keep_month,
        prorate=args.prorate,
        drop_phi=args.drop_phi,
        date_order=args.date_order,
        extract_date=args.extract_date,
    )
    return options, mapping


def import_folder_of(args: argparse.Namespace):
    from analytics.ingest.importer import import_files

    files = folder_files(args)
    options, mapping = import_settings(args)
    return import_files(files, options=options, mapping=mapping)


def print_problems(result, *, stream) -> None:
    for problem in result.problems:
        print(str(problem), file=stream)


def definitions_of(args: argparse.Namespace):
    from analytics.core.definitions import OutcomeDefinitions, ResponseRule

    overrides = {}
    if args.response:
        overrides["response"] = ResponseRule.parse(args.response)
    if args.reliability is not None:
        overrides["reliability_r"] = args.reliability
    return OutcomeDefinitions.for_instrument(args.instrument, **overrides)


def stored_clinic():
    from store.clinic import load_clinic

    data = load_clinic()
    if data.patients.empty:
        print(
            "error: the database holds no data; import a folder with "
            "`python -m analytics import DIR`",
            file=sys.stderr,
        )
        return None
    return data


def stored_table(definitions):
    """The stored clinic's per-patient table for ``definitions``: read back when it was kept
    for this data version (after an import), else worked out from the clinic and kept; None,
    with the reason on stderr, when the database holds no patients."""
    from store.patient_tables import stored_patient_table

    table = stored_patient_table(definitions)
    if not len(table):
        print(
            "error: the database holds no data; import a folder with "
            "`python -m analytics import DIR`",
            file=sys.stderr,
        )
        return None
    return table


def cli_user(args: argparse.Namespace) -> str:
    import getpass

    if getattr(args, "user", None):
        return args.user
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def add_definition_options(parser: argparse.ArgumentParser) -> None:
    """The outcome-definition options: instrument, response rule, reliability."""
    parser.add_argument("--instrument", default="PCL-5", help="PCL-5, PHQ-9, GAD-7, BDI-II, MADRS")
    parser.add_argument(
        "--response", help="response rule: pct:30 (default for PCL-5), points:10 or pct:50"
    )
    parser.add_argument(
        "--reliability", type=float, help="test-retest r for reliable change (default .82)"
    )


def clinic_of(args: argparse.Namespace):
    """The clinic of ``args.dir`` (imported, problems printed) or, without a folder, the
    database's; None, with the reason on stderr, when there is none to use."""
    if getattr(args, "dir", None) is None:
        return stored_clinic()
    result = import_folder_of(args)
    if not result.ok:
        print_problems(result, stream=sys.stderr)
        print(
            "The data has errors; run `python -m analytics validate` for the list.",
            file=sys.stderr,
        )
        return None
    return result.data


def written(out: Path, payload: bytes) -> bool:
    """Write ``payload`` to ``out`` (its folder made if need be); False, with the reason on
    stderr, when the disk refuses."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(payload)
    except OSError as exc:
        print(f"error: could not write {out}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True
