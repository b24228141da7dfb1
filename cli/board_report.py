"""``python -m analytics report [DIR] --out report.pdf``: the board report, headless.

The same report as the Overview's button: the same cohort filters (as options), the same
numbers (the summary's), small-cell suppression on unless ``--no-suppress``, and an entry in
the audit log of the configured database saying who made it, for which cohort, with or
without suppression; never a patient.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from cli.clinic_source import (
    add_definition_options,
    add_import_options,
    cli_user,
    folder_files,
    written,
)
from cli.cohort_options import add_cohort_options, cohort_table_of

__all__ = ["add_report_command", "folder_version"]


def folder_version(args: argparse.Namespace) -> str:
    """The version of a folder's data: a digest of its files' contents, so two reports of the
    same files say the same version."""
    digest = hashlib.sha256()
    for name, content in sorted(folder_files(args).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return f"files {digest.hexdigest()[:12]}"


def _data_version(args: argparse.Namespace) -> str:
    if args.dir is not None:
        return folder_version(args)
    from store.clinic import data_version

    return f"database {data_version()}"


def _cmd_report(args: argparse.Namespace) -> int:
    from analytics.report.board_report import board_report_of
    from analytics.report.cohort import describe_cohort
    from documents.board_report import board_report_pdf
    from store.config import clinic_name

    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        print(f"error: --out must name a .pdf file, not {out.name}", file=sys.stderr)
        return 2
    cohort_table = cohort_table_of(args)
    if isinstance(cohort_table, int):
        return cohort_table
    definitions, filters = cohort_table.definitions, cohort_table.filters
    table, keep = cohort_table.table, cohort_table.keep
    user = cli_user(args)
    cohort = describe_cohort(filters)
    try:
        report = board_report_of(
            table,
            keep,
            definitions,
            clinic_name=args.clinic_name or clinic_name(),
            cohort=cohort,
            data_version=_data_version(args),
            made_by=user,
            by=args.by,
            suppress=not args.no_suppress,
        )
    except ValueError as exc:  # an unknown --by column: the message names the usable ones
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    pdf = board_report_pdf(report)
    if not written(out, pdf):
        return 1
    _record(args, user, out.name, cohort, report)
    suppression = "on" if report.suppression["applied"] else "OFF"
    print(
        f"wrote {out}: board report of {int(keep.sum()):,} patients ({cohort}); "
        f"small-cell suppression {suppression}"
    )
    return 0


def _record(args, user: str, file_name: str, cohort: str, report) -> None:
    """The audit entry of the report: who, which cohort, suppression; no patient."""
    from store.audit import record_audit

    record_audit(
        "export",
        user=user,
        detail={
            "what": "board report",
            "file": file_name,
            "cohort": cohort,
            "instrument": report.instrument,
            "suppression": bool(report.suppression["applied"]),
            "source": "folder" if args.dir is not None else "database",
        },
    )


def add_report_command(commands) -> None:
    """Register ``report`` on the command line's subcommands."""
    report = commands.add_parser(
        "report", help="the board report (PDF) of the clinic or a cohort of it"
    )
    report.add_argument(
        "dir", nargs="?", help="folder holding the clinic's CSV exports (default: the database)"
    )
    report.add_argument("--out", required=True, help="the PDF file to write")
    report.add_argument(
        "--clinic-name",
        help="the clinic's name on the cover (default: the CLINIC_NAME setting)",
    )
    report.add_argument(
        "--no-suppress",
        action="store_true",
        help="show counts from 1 to 10 (small-cell suppression is on by default: only for a "
        "report that stays inside the clinic)",
    )
    report.add_argument(
        "--by", help="compare groups by route or any patients.csv column (default: by route)"
    )
    report.add_argument("--user", help="name on the cover and in the audit log")
    add_definition_options(report)
    add_cohort_options(report)
    add_import_options(report)
    report.set_defaults(func=_cmd_report)
