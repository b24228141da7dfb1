"""``python -m analytics export-patients [DIR] --out FILE.csv|FILE.xlsx``: one row per patient.

The rows a spreadsheet recomputes every headline rate from (:mod:`analytics.report.patient_export`):
as CSV, or as an Excel workbook with a sheet of the summary (small cells suppressed unless
``--no-suppress``) and a sheet of definitions. Written to the audit log without a patient.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.clinic_source import (
    add_definition_options,
    add_import_options,
    cli_user,
    clinic_of,
    definitions_of,
)
from cli.cohort_options import add_cohort_options, cohort_filters_of

__all__ = ["add_export_command", "export_files"]

SUFFIXES = (".csv", ".xlsx")


def export_files(table, keep, definitions, *, suppress: bool) -> dict[str, object]:
    """The export's parts: ``patients`` (the rows), ``summary`` (the headline rates, suppressed
    when asked) and ``definitions``, each a frame, and the ``suppression`` note."""
    from analytics.report.patient_export import export_definitions, patient_export_of, summary_rows
    from analytics.report.summary import summary_of
    from analytics.report.suppression import suppress_summary, suppression_note

    summary = summary_of(table, keep, definitions)
    note = suppression_note(False)
    if suppress:
        summary = suppress_summary(summary)
        note = summary["suppression"]
    rows = patient_export_of(table, keep, definitions)
    return {
        "patients": rows,
        "summary": summary_rows(summary),
        "definitions": export_definitions(rows, summary, suppression=note),
        "suppression": note,
    }


def export_bytes(parts: dict, suffix: str) -> bytes:
    """The file: the rows as CSV, or the three sheets as a workbook."""
    from analytics.core.spreadsheet import csv_bytes
    from documents.workbook import workbook_bytes

    if suffix == ".csv":
        return csv_bytes(parts["patients"])
    return workbook_bytes(
        {
            "Patients": parts["patients"],
            "Summary": parts["summary"],
            "Definitions": parts["definitions"],
        }
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from analytics.report.cohort import cohort_ids, describe_cohort
    from analytics.report.patients import patient_table
    from store.audit import record_audit

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        print(f"error: --out must name a .csv or .xlsx file, not {out.name}", file=sys.stderr)
        return 2
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
    parts = export_files(table, keep, definitions, suppress=not args.no_suppress)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(export_bytes(parts, suffix))
    except OSError as exc:
        print(f"error: could not write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    cohort = describe_cohort(filters)
    applied = bool(parts["suppression"]["applied"])
    record_audit(
        "export",
        user=cli_user(args),
        detail={
            "what": "patient export",
            "file": out.name,
            "rows": len(parts["patients"]),
            "cohort": cohort,
            "instrument": definitions.instrument,
            "suppression": applied,
            "source": "folder" if args.dir is not None else "database",
        },
    )
    print(
        f"wrote {out}: {len(parts['patients']):,} patients ({cohort}); summary small-cell "
        f"suppression {'on' if applied else 'OFF'}"
    )
    return 0


def add_export_command(commands) -> None:
    """Register ``export-patients`` on the command line's subcommands."""
    export = commands.add_parser(
        "export-patients", help="one row per patient (CSV, or an Excel workbook with the summary)"
    )
    export.add_argument(
        "dir", nargs="?", help="folder holding the clinic's CSV exports (default: the database)"
    )
    export.add_argument("--out", required=True, help="the .csv or .xlsx file to write")
    export.add_argument(
        "--no-suppress",
        action="store_true",
        help="show counts from 1 to 10 in the workbook's summary sheet (on by default)",
    )
    export.add_argument("--user", help="name recorded in the audit log")
    add_definition_options(export)
    add_cohort_options(export)
    add_import_options(export)
    export.set_defaults(func=_cmd_export)
