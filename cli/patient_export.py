"""``python -m analytics export-patients [DIR] --out FILE.csv|FILE.xlsx``: one row per patient.

The rows a spreadsheet recomputes every headline rate from (:mod:`analytics.report.patient_export`):
as CSV (the rows alone), or as an Excel workbook with the rows, a sheet of the summary (small
cells suppressed unless ``--no-suppress``) and a sheet of definitions. The cohort options are the
sidebar's filters; without DIR the configured database is read. Each export is written to the
audit log with its cohort and suppression, never a patient.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.clinic_source import (
    add_definition_options,
    add_import_options,
    cli_user,
    written,
)
from cli.cohort_options import add_cohort_options, cohort_table_of

__all__ = ["add_export_command"]


def _cmd_export(args: argparse.Namespace) -> int:
    from analytics.report.cohort import describe_cohort
    from analytics.report.patient_export import patient_export_sheets
    from documents.workbook import SUFFIXES, export_file_bytes

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        print(f"error: --out must name a .csv or .xlsx file, not {out.name}", file=sys.stderr)
        return 2
    cohort_table = cohort_table_of(args)
    if isinstance(cohort_table, int):
        return cohort_table
    definitions, filters = cohort_table.definitions, cohort_table.filters
    table, keep = cohort_table.table, cohort_table.keep
    cohort = describe_cohort(filters)
    export = patient_export_sheets(
        table, keep, definitions, suppress=not args.no_suppress, cohort=cohort
    )
    if not written(out, export_file_bytes(export.sheets(), suffix)):
        return 1
    rows = len(export.patients)
    # a CSV holds the rows alone: nothing in it is suppressed
    suppressed = suffix == ".xlsx" and bool(export.suppression["applied"])
    _record(args, out.name, rows, cohort, definitions.instrument, suppressed)
    what = "rows" if suffix == ".csv" else "rows, summary and definitions"
    if suffix == ".csv":
        suppression = "no summary in a CSV; per-patient rows are never suppressed"
    else:
        suppression = f"summary small-cell suppression {'on' if suppressed else 'OFF'}"
    print(f"wrote {out}: per-patient {what} of {rows:,} patients ({cohort}); {suppression}")
    return 0


def _record(args, file_name: str, rows: int, cohort: str, instrument: str, suppressed: bool):
    """The audit entry of the export: who, which file and cohort, suppression; no patient."""
    from store.audit import record_audit

    record_audit(
        "export",
        user=cli_user(args),
        detail={
            "what": "patient export",
            "file": file_name,
            "rows": rows,
            "cohort": cohort,
            "instrument": instrument,
            "suppression": suppressed,
            "source": "folder" if args.dir is not None else "database",
        },
    )


def add_export_command(commands) -> None:
    """Register ``export-patients`` on the command line's subcommands."""
    export = commands.add_parser(
        "export-patients",
        help="one row per patient of the clinic or a cohort (CSV, or an Excel workbook with the "
        "summary and the definitions)",
    )
    export.add_argument(
        "dir", nargs="?", help="folder holding the clinic's CSV exports (default: the database)"
    )
    export.add_argument("--out", required=True, help="the .csv or .xlsx file to write")
    export.add_argument(
        "--no-suppress",
        action="store_true",
        help="show counts from 1 to 10 in the workbook's summary sheet (small-cell suppression "
        "is on by default; the per-patient rows are never suppressible)",
    )
    export.add_argument("--user", help="name recorded in the audit log")
    add_definition_options(export)
    add_cohort_options(export)
    add_import_options(export)
    export.set_defaults(func=_cmd_export)
