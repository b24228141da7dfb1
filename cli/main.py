"""The headless entry point: ``python -m analytics COMMAND``.

The same functions the dashboard calls, for checking numbers and for nightly jobs:

- ``validate DIR``: import a folder of CSV exports and report every problem (exit 1 on errors).
- ``convert-redcap EXPORT.csv --events "name=day,..." --out DIR``: REDCap longitudinal export to
  canonical CSV tables.
- ``summary DIR``: outcome and safety summary of a folder, as text or ``--json``.
- ``make-sample DIR``: write the seeded synthetic sample clinic.
- ``report [DIR] --out report.pdf``: the board report of the clinic or a cohort (the sidebar's
  filters as options), small cells suppressed unless ``--no-suppress``; audited.
- ``export-patients [DIR] --out FILE.csv|FILE.xlsx``: one row per patient, from which every
  headline rate recomputes (the workbook adds the summary and the definitions); audited.

Storage (the configured database: ``DATABASE_URL``, else ``var/clinic.sqlite``):

- ``import DIR``: import a folder as one batch (prints the batch; exit 1, nothing stored, on errors).
- ``imports``: the import history. ``rollback BATCH``: remove exactly what a batch added.
- ``users add|remove|passwd|list|unlock``: manage sign-in users.
- ``summary`` without a folder: the summary of the clinic as stored.
- ``audit verify``: check that no audit entry was changed, forged or deleted (exit 1 if one was).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.audit_log import add_audit_command
from cli.board_report import add_report_command
from cli.clinic_source import (
    add_definition_options,
    add_import_options,
    cli_user,
    clinic_of,
    definitions_of,
    folder_files,
    import_folder_of,
    import_settings,
    print_problems,
    stored_table,
)
from cli.patient_export import add_export_command

__all__ = ["main"]


def _cmd_validate(args: argparse.Namespace) -> int:
    result = import_folder_of(args)
    errors = [p for p in result.problems if p.severity == "error"]
    if args.json:
        payload = {
            "ok": result.ok,
            "tables": result.table_of_files,
            "counts": result.summary() if result.ok else None,
            "problems": [
                {k: getattr(p, k) for k in ("severity", "file", "row", "column", "value", "rule")}
                for p in result.problems
            ],
        }
        print(json.dumps(payload, indent=2))
    else:
        print_problems(result, stream=sys.stdout)
        if result.ok:
            counts = ", ".join(f"{n} {table}" for table, n in result.summary().items())
            print(f"OK: {counts}.")
        else:
            print(f"{len(errors)} error(s); nothing was imported.")
    return 0 if result.ok else 1


def _cmd_convert_redcap(args: argparse.Namespace) -> int:
    from analytics.core.spreadsheet import csv_bytes
    from analytics.ingest.reader import read_table
    from analytics.ingest.redcap import convert_redcap, parse_events

    source = Path(args.export)
    try:
        events = parse_events(args.events)
    except ValueError as exc:
        print(f"error: --events: {exc}", file=sys.stderr)
        return 2
    if not source.is_file():
        print(f"error: {source.name} is not a file", file=sys.stderr)
        return 2
    read = read_table(source.name, source.read_bytes())
    problems = list(read.problems)
    tables = {}
    if read.frame is not None:
        tables, converted = convert_redcap(
            read.frame, events=events, id_field=args.id_field, file=source.name
        )
        problems += converted
    for problem in problems:
        print(str(problem), file=sys.stderr)
    if any(p.severity == "error" for p in problems):
        print("Nothing was written.", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        (out / f"{name}.csv").write_bytes(csv_bytes(frame))
        print(f"wrote {out / (name + '.csv')}: {len(frame)} rows")
    return 0


def _format_rate(rate: dict | None) -> str:
    if not rate or rate.get("n", 0) == 0 or rate.get("rate") is None:
        return "n/a"
    return (
        f"{rate['rate']:.0%} ({rate['k']}/{rate['n']}; "
        f"95% CI {rate['ci_low']:.0%}-{rate['ci_high']:.0%})"
    )


def _print_summary_text(summary: dict) -> None:
    counts = summary["counts"]
    print(
        f"{counts['patients']} patients, {counts['sessions']} sessions, "
        f"{counts['assessments']} assessments. Instrument: {summary['instrument']}."
    )
    for key, text in summary["definitions"].items():
        print(f"  {key}: {text}")
    base = summary["baseline"]
    if base.get("n"):
        print(f"Baseline: n = {base['n']}, mean {base['mean']:.1f} (SD {base['sd']:.1f})")
    for tp in summary["timepoints"]:
        print(
            f"{tp['label']:>8}: n = {tp['n']:>4}, mean change {tp['mean_change']:+.1f} "
            f"| response {_format_rate(tp['response'])} "
            f"| ITT {_format_rate(tp['response_itt'])} "
            f"| remission {_format_rate(tp['remission'])}"
        )
    for effect in summary.get("side_effects", []):
        print(
            f"{effect['effect']:>26}: patients {_format_rate(effect['patients'])}; "
            f"sessions {_format_rate(effect['sessions'])}"
        )


def _cmd_summary(args: argparse.Namespace) -> int:
    from analytics.report.summary import build_summary, summary_of

    try:
        definitions = definitions_of(args)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dir is None:
        # The stored clinic's table is kept per data version: adding it up is the summary.
        table = stored_table(definitions)
        if table is None:
            return 1
        data = None
    else:
        data = clinic_of(args)
        if data is None:
            return 1
    try:
        if data is None:
            summary = summary_of(table, table.keep(), definitions, by=args.by)
        else:
            summary = build_summary(data, definitions, by=args.by)
    except (KeyError, ValueError) as exc:
        # an unknown grouping column: say which columns exist
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False))
    else:
        _print_summary_text(summary)
    return 0


def _cmd_make_sample(args: argparse.Namespace) -> int:
    from analytics.sample import generate_clinic, write_clinic

    seed = {} if args.seed is None else {"seed": args.seed}
    tables = generate_clinic(args.patients, **seed)
    write_clinic(args.out, tables)
    counts = ", ".join(f"{len(frame)} {name}" for name, frame in tables.items())
    print(f"wrote {args.out}: {counts}")
    return 0


def _cmd_import_batch(args: argparse.Namespace) -> int:
    from analytics.core.definitions import OutcomeDefinitions
    from store.conflicts import resolve_conflicts
    from store.failures import StorageError
    from store.imports import import_upload
    from store.patient_tables import prepare_patient_table

    files = folder_files(args)
    options, mapping = import_settings(args)
    user = cli_user(args)
    result = import_upload(files, user, options, mapping)
    if not result.ok:
        for problem in result.problems:
            print(str(problem), file=sys.stderr)
        print("\n".join(result.summary_lines()), file=sys.stderr)
        return 1
    print("\n".join(result.summary_lines()))
    if result.conflicts and args.conflicts != "pending":
        resolved = resolve_conflicts(result.batch_id, args.conflicts, user)
        print(f"Conflicts: {resolved.replaced} replaced, {resolved.kept} kept.")
    # Worked out now, so that the first page and the first summary only add it up.
    try:
        prepare_patient_table(OutcomeDefinitions.for_instrument("PCL-5"))
    except StorageError as error:  # the import is stored: the first page works it out instead
        print(f"note: each patient's outcomes were not prepared: {error}", file=sys.stderr)
    return 0


def _cmd_imports(args: argparse.Namespace) -> int:
    from store.history import list_batches

    history = list_batches()
    if args.json:
        out = history.assign(
            created_at=history["created_at"].map(lambda t: t.isoformat()),
            rolled_back_at=history["rolled_back_at"].map(
                lambda t: None if _is_missing(t) else t.isoformat()
            ),
        )
        print(json.dumps(out.to_dict("records"), indent=2, default=str))
        return 0
    if history.empty:
        print("No imports yet.")
        return 0
    for row in history.itertuples():
        when = row.created_at.strftime("%Y-%m-%d %H:%M UTC")
        status = row.status if row.status == "active" else f"rolled back by {row.rolled_back_by}"
        print(
            f"{row.batch_id:>5}  {when}  {row.username:<16} {row.kind:<7} {status:<10} "
            f"+{row.rows_added} ={row.rows_unchanged} !{row.rows_conflicting} "
            f"(pending {row.conflicts_pending})  {row.files}"
        )
    return 0


def _is_missing(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _cmd_rollback(args: argparse.Namespace) -> int:
    from store.rollbacks import rollback

    try:
        result = rollback(args.batch, cli_user(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    removed = ", ".join(f"{n} {table}" for table, n in result.removed.items())
    restored = sum(result.restored.values())
    print(f"Rolled back batch {result.batch_id}: removed {removed}; {restored} values restored.")
    return 0


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin, or a random one (True: show it once)."""
    from store.users import generate_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return generate_password(), True


def _cmd_users(args: argparse.Namespace) -> int:
    from store import users

    actor = cli_user(args)
    try:
        if args.users_command == "list":
            table = users.list_users()
            if table.empty:
                print("No users yet.")
            for row in table.itertuples():
                print(f"{row.username:<20} {row.role:<10}")
            return 0
        if args.users_command == "unlock":
            cleared = users.unblock_login(args.name, actor=actor)
            where = "1 address" if cleared == 1 else f"{cleared} addresses"
            print(f"Sign-in waits cleared for {args.name} ({where}).")
            return 0
        if args.users_command == "remove":
            users.remove_user(args.name, actor=actor)
            print(f"Removed {args.name}.")
            return 0
        password, show = _new_password(args)
        if args.users_command == "add":
            users.add_user(args.name, password, args.role, actor=actor)
            print(f"Added {args.name} ({args.role}).")
        else:
            users.set_password(args.name, password, actor=actor)
            print(f"New password set for {args.name}.")
        if show:
            print(f"Password (shown once): {password}")
        return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _add_store_commands(commands) -> None:
    batch = commands.add_parser("import", help="import a folder into the database as one batch")
    batch.add_argument("dir", help="folder holding the clinic's CSV exports")
    add_import_options(batch)
    batch.add_argument("--user", help="name recorded on the batch (default: cli:<login name>)")
    batch.add_argument(
        "--conflicts",
        choices=["pending", "keep", "replace"],
        default="pending",
        help="changed values: leave for a director to decide in the app (default), keep the "
        "stored ones, or replace them",
    )
    batch.set_defaults(func=_cmd_import_batch)

    history = commands.add_parser("imports", help="the import history")
    history.add_argument("--json", action="store_true", help="print the history as JSON")
    history.set_defaults(func=_cmd_imports)

    undo = commands.add_parser("rollback", help="remove exactly the rows of one import")
    undo.add_argument("batch", type=int, help="the batch id (see `imports`)")
    undo.add_argument("--user", help="name recorded in the audit log")
    undo.set_defaults(func=_cmd_rollback)

    users = commands.add_parser("users", help="manage sign-in users")
    users.add_argument("--user", help="name recorded in the audit log")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add a user (prints a random password once)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["director", "clinician", "staff"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    remove = sub.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    passwd = sub.add_parser("passwd", help="set a new password (random unless --password-stdin)")
    passwd.add_argument("name")
    passwd.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    sub.add_parser("list", help="list users and roles")
    unlock = sub.add_parser("unlock", help="let a name sign in again at once from every address")
    unlock.add_argument("name")
    users.set_defaults(func=_cmd_users)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Outcome and safety analytics for ketamine and esketamine clinics.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a folder of CSV exports")
    validate.add_argument("dir", help="folder holding sessions.csv, assessments.csv, ...")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    add_import_options(validate)
    validate.set_defaults(func=_cmd_validate)

    redcap = commands.add_parser("convert-redcap", help="REDCap export to canonical tables")
    redcap.add_argument("export", help="the REDCap longitudinal export (CSV)")
    redcap.add_argument(
        "--events",
        required=True,
        help='event-to-day table, e.g. "screening_arm_1=-14,baseline_arm_1=0,week_4_arm_1=28"',
    )
    redcap.add_argument("--id-field", help="record id column (default: record_id or *_id)")
    redcap.add_argument("--out", required=True, help="folder to write canonical CSVs into")
    redcap.set_defaults(func=_cmd_convert_redcap)

    summary = commands.add_parser("summary", help="outcome and safety summary")
    summary.add_argument(
        "dir", nargs="?", help="folder holding the clinic's CSV exports (default: the database)"
    )
    add_definition_options(summary)
    summary.add_argument("--by", help="split by route or any patients.csv column")
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_import_options(summary)
    summary.set_defaults(func=_cmd_summary)

    sample = commands.add_parser("make-sample", help="write the synthetic sample clinic")
    sample.add_argument("out", type=Path, help="folder to write into")
    sample.add_argument("--patients", type=int, default=250)
    sample.add_argument("--seed", type=int, help="random seed (default: the sample's own)")
    sample.set_defaults(func=_cmd_make_sample)
    add_report_command(commands)
    add_audit_command(commands)
    add_export_command(commands)
    _add_store_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:
        from store.failures import storage_failure_sentence

        sentence = storage_failure_sentence(error)
        if sentence is None:
            raise
        print(f"error: {sentence}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
