"""The headless entry point: ``python -m analytics COMMAND``.

The same functions the dashboard calls, for checking numbers and for nightly jobs:

- ``validate DIR``: import a folder of CSV exports and report every problem (exit 1 on errors).
- ``convert-redcap EXPORT.csv --events "name=day,..." --out DIR``: REDCap longitudinal export to
  canonical CSV tables.
- ``summary DIR``: outcome and safety summary of a folder, as text or ``--json``.
- ``make-sample DIR``: write the seeded synthetic sample clinic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _add_import_options(parser: argparse.ArgumentParser) -> None:
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


def _import(args: argparse.Namespace):
    from analytics.importer import ImportOptions, import_folder
    from analytics.mapping import load_preset

    folder = Path(args.dir)
    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder of CSV files")
    mapping = load_preset(args.mapping) if args.mapping else None
    options = ImportOptions(
        keep_month=args.keep_month, prorate=args.prorate, drop_phi=args.drop_phi
    )
    return import_folder(folder, options=options, mapping=mapping)


def _print_problems(result, *, stream) -> None:
    for problem in result.problems:
        print(str(problem), file=stream)


def _cmd_validate(args: argparse.Namespace) -> int:
    result = _import(args)
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
        _print_problems(result, stream=sys.stdout)
        if result.ok:
            counts = ", ".join(f"{n} {table}" for table, n in result.summary().items())
            print(f"OK: {counts}.")
        else:
            print(f"{len(errors)} error(s); nothing was imported.")
    return 0 if result.ok else 1


def _cmd_convert_redcap(args: argparse.Namespace) -> int:
    from analytics.reader import read_table
    from analytics.redcap import convert_redcap, parse_events

    source = Path(args.export)
    try:
        events = parse_events(args.events)
    except ValueError as exc:
        print(f"error: --events: {exc}", file=sys.stderr)
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
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
        print(f"wrote {out / (name + '.csv')}: {len(frame)} rows")
    return 0


def _definitions(args: argparse.Namespace):
    from analytics.definitions import OutcomeDefinitions, ResponseRule

    overrides = {}
    if args.response:
        overrides["response"] = ResponseRule.parse(args.response)
    if args.reliability is not None:
        overrides["reliability_r"] = args.reliability
    return OutcomeDefinitions.for_instrument(args.instrument, **overrides)


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
    from analytics.summary import build_summary

    result = _import(args)
    if not result.ok:
        _print_problems(result, stream=sys.stderr)
        print(
            "The data has errors; run `python -m analytics validate` for the list.", file=sys.stderr
        )
        return 1
    try:
        definitions = _definitions(args)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        summary = build_summary(result.data, definitions, by=args.by)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Outcome and safety analytics for ketamine and esketamine clinics.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a folder of CSV exports")
    validate.add_argument("dir", help="folder holding sessions.csv, assessments.csv, ...")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_import_options(validate)
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
    summary.add_argument("dir", help="folder holding the clinic's CSV exports")
    summary.add_argument("--instrument", default="PCL-5", help="PCL-5, PHQ-9, GAD-7, BDI-II, MADRS")
    summary.add_argument(
        "--response", help="response rule: pct:30 (default for PCL-5), points:10 or pct:50"
    )
    summary.add_argument(
        "--reliability", type=float, help="test-retest r for reliable change (default .82)"
    )
    summary.add_argument("--by", help="split by route or any patients.csv column")
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_import_options(summary)
    summary.set_defaults(func=_cmd_summary)

    sample = commands.add_parser("make-sample", help="write the synthetic sample clinic")
    sample.add_argument("out", type=Path, help="folder to write into")
    sample.add_argument("--patients", type=int, default=250)
    sample.add_argument("--seed", type=int, help="random seed (default: the sample's own)")
    sample.set_defaults(func=_cmd_make_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
