"""Data: upload a clinic's CSV exports, map their columns, validate, and store them as a batch."""

import json
import re
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.core.problems import WARNING, problems_frame
from analytics.ingest.mapping import (
    ColumnMapping,
    guess_column_days,
    guess_mapping,
    list_presets,
    load_preset,
    save_preset,
    wide_to_long,
)
from analytics.ingest.options import ImportOptions
from analytics.ingest.reader import read_table
from analytics.ingest.redcap import convert_redcap
from store import import_upload
from ui import auth, cohort, results, settings
from ui import components as ui

REPORT_KEY = "data_import_report"

auth.require_page("data")
context = cohort.get_context()
st.title("Data")
ui.data_banner(context.loaded)


def _show_report(report: dict) -> None:
    """The outcome of the last import: the batch's counts, and every problem with its place."""
    problems = report["problems"]
    if report["ok"]:
        counts = report["counts"]
        added = ", ".join(
            f"{c['added']:,} {table.replace('_', ' ')}" for table, c in counts.items()
        )
        unchanged = sum(c["unchanged"] for c in counts.values())
        st.success(
            f"Imported as batch {report['batch_id']}: {added} added; {unchanged:,} rows were "
            "already stored unchanged. It is in the database: every page shows it, for every "
            "user, after a restart too.",
            icon=":material/check_circle:",
        )
        for warning in report["warnings"]:
            st.warning(warning, icon=":material/warning:")
        if report["conflicts"]:
            st.warning(
                f"{report['conflicts']:,} stored value(s) differ in this upload. The stored "
                "values stay until a director replaces or keeps them on the Import history page.",
                icon=":material/rule:",
            )
        if report.get("mapping"):
            auth.audited_download(
                "Download this column mapping (JSON)",
                report["mapping"].encode(),
                file_name="column-mapping.json",
                rows=0,
                mime="application/json",
            )
    else:
        errors = int((problems["severity"] == "error").sum()) if not problems.empty else 0
        st.error(
            f"Nothing was imported: {errors} error(s). Each is listed below with its file, row "
            "and column; fix them in the export and upload again.",
            icon=":material/error:",
        )
    if not problems.empty:
        st.subheader("Validation report")
        st.dataframe(problems, hide_index=True, width="stretch")
        ui.download_table(problems, "validation_report")


last_report = st.session_state.get(REPORT_KEY)
if last_report is not None:
    _show_report(last_report)

TABLES = ("sessions", "assessments", "side_effects", "patients")
# saved column mappings (git-ignored with the rest of var/)
PRESET_DIR = Path("var/presets")

with st.expander("What to upload", icon=":material/help:"):
    st.markdown(
        "- **sessions.csv**: one row per treatment session (patient id, date or day, route, "
        "dose, blood pressure, dissociation, sedation, clinician, site).\n"
        "- **assessments.csv**: one row per questionnaire (patient id, date or day, instrument, "
        "items or total).\n"
        "- **side_effects.csv** (optional): one row per effect at a session.\n"
        "- **patients.csv** (optional): extra columns become cohort filters.\n\n"
        "Dates become days since each patient's first session; only the year of the first "
        "session is kept unless you choose to keep months. Names, contact details and other "
        "identifiers are refused (or dropped, if you allow it)."
    )

kind = st.radio(
    "What kind of export is it?",
    [
        "CSV tables (sessions, assessments, ...)",
        "REDCap export",
        "Wide sheet (one row per patient)",
    ],
    horizontal=True,
    key="data_kind",
)
uploads = st.file_uploader(
    "Upload CSV files",
    type=["csv", "txt"],
    accept_multiple_files=True,
    key="data_files",
    help="Name each file after its table (sessions.csv, assessments.csv, side_effects.csv, "
    "patients.csv) or choose the table below.",
)

with st.expander("Import options", icon=":material/settings:"):
    o1, o2, o3 = st.columns(3)
    keep_month = o1.checkbox(
        "Keep month of first session",
        key="opt_keep_month",
        help="A limited data set: months are not allowed under HIPAA Safe Harbor.",
    )
    prorate = o2.checkbox(
        "Prorate totals (at most 2 items missing)",
        key="opt_prorate",
        help="Mean of the answered items x item count, flagged as prorated; never used for the "
        "PCL-5 diagnosis rule. There is no official proration rule.",
    )
    drop_phi = o3.checkbox(
        "Drop identifying columns instead of refusing",
        key="opt_drop_phi",
        help="Columns that look like names, contact details or full dates are removed.",
    )

if not uploads:
    st.caption("Choose files to start. Nothing is stored until you import them.")
    st.stop()

files = {f.name: f.getvalue() for f in uploads}


def _read(name: str, payload: bytes) -> pd.DataFrame | None:
    return read_table(name, payload).frame


def _table_of(name: str) -> str | None:
    stem = name.rsplit(".", 1)[0].lower().replace("-", "_").replace(" ", "_")
    return next((t for t in TABLES if stem == t or stem.endswith(t)), None)


mapping = None

# ---------------------------------------------------------------------------- conversions
if kind.startswith("REDCap"):
    source = st.selectbox("REDCap export file", list(files), key="redcap_file")
    frame = _read(source, files[source])
    if frame is None:
        st.error(f"{source} could not be read as CSV.")
        st.stop()
    events = (
        sorted(frame["redcap_event_name"].dropna().astype(str).unique())
        if "redcap_event_name" in frame
        else []
    )
    if not events:
        st.error("No `redcap_event_name` column: export the project as a longitudinal CSV.")
        st.stop()
    st.markdown("**Day of each event** (days since the first treatment session; 0 = baseline).")
    # "week_4_arm_1" -> "week_4": the arm suffix says nothing about the day
    stems = {e: re.sub(r"_arm_\d+$", "", e) for e in events}
    by_stem = guess_column_days(list(stems.values()))
    guessed = {e: by_stem.get(stem) for e, stem in stems.items()}
    event_table = st.data_editor(
        pd.DataFrame({"event": events, "day": [guessed.get(e) for e in events]}),
        key="redcap_events",
        disabled=["event"],
        hide_index=True,
        column_config={"day": st.column_config.NumberColumn("day", step=1)},
    )
    id_field = st.text_input("Record id field (blank: the first column)", key="redcap_id")
    missing = event_table["day"].isna()
    if missing.any():
        st.warning(
            "Events without a day are left out: " + ", ".join(event_table.loc[missing, "event"])
        )
    event_days = {str(r.event): int(r.day) for r in event_table[~missing].itertuples(index=False)}
    if not st.button("Convert and import", type="primary", icon=":material/sync:"):
        st.stop()
    tables, converted_problems = convert_redcap(
        frame, events=event_days, id_field=id_field or None, file=source
    )
    if any(p.severity == "error" for p in converted_problems):
        st.error("The REDCap export could not be converted.")
        st.dataframe(problems_frame(converted_problems), hide_index=True)
        st.stop()
    files = {f"{name}.csv": t.to_csv(index=False).encode("utf-8") for name, t in tables.items()}

elif kind.startswith("Wide"):
    source = st.selectbox("Wide sheet", list(files), key="wide_file")
    frame = _read(source, files[source])
    if frame is None:
        st.error(f"{source} could not be read as CSV.")
        st.stop()
    columns = [c for c in frame.columns if c != "_row"]
    w1, w2 = st.columns(2)
    id_column = w1.selectbox("Patient id column", columns, key="wide_id")
    instrument = w2.selectbox(
        "Instrument of the totals", ["PCL-5", "PHQ-9", "GAD-7", "BDI-II", "MADRS"], key="wide_instr"
    )
    guessed = guess_column_days(columns)
    st.markdown("**Day of each column** (blank: not a timepoint, left out).")
    day_table = st.data_editor(
        pd.DataFrame(
            {
                "column": [c for c in columns if c != id_column],
                "day": [guessed.get(c) for c in columns if c != id_column],
            }
        ),
        key="wide_days",
        disabled=["column"],
        hide_index=True,
        column_config={"day": st.column_config.NumberColumn("day", step=1)},
    )
    mapped = day_table[day_table["day"].notna()]
    column_days = {str(r.column): int(r.day) for r in mapped.itertuples(index=False)}
    ignore = day_table.loc[day_table["day"].isna(), "column"].tolist()
    if not st.button("Convert and import", type="primary", icon=":material/sync:"):
        st.stop()
    long, converted_problems = wide_to_long(
        frame,
        id_column=id_column,
        column_days=column_days,
        instrument=instrument,
        file=source,
        ignore=ignore,
    )
    if any(p.severity == "error" for p in converted_problems):
        st.error("The wide sheet could not be converted.")
        st.dataframe(problems_frame(converted_problems), hide_index=True)
        st.stop()
    files = {
        "assessments.csv": long.drop(columns="_row", errors="ignore")
        .to_csv(index=False)
        .encode("utf-8")
    }

# ---------------------------------------------------------------------------- column mapping
else:
    assigned = {}
    unknown = [name for name in files if _table_of(name) is None]
    if unknown:
        st.markdown("**Which table is each file?**")
        for name in unknown:
            assigned[name] = st.selectbox(
                name,
                ["(skip)", *TABLES],
                key=f"table_of_{name}",
                help="Name it after its table to skip this step next time.",
            )
    renamed = {}
    for name, payload in files.items():
        table = _table_of(name) or assigned.get(name)
        if table and table != "(skip)":
            renamed[name if _table_of(name) else f"{table}.csv"] = payload
    files = renamed
    if files:
        headers = {}
        for name, payload in files.items():
            frame = _read(name, payload)
            if frame is not None:
                headers.setdefault(_table_of(name), []).extend(
                    [c for c in frame.columns if c != "_row"]
                )
        guessed = guess_mapping(headers)
        presets = list_presets(PRESET_DIR)
        if presets:
            preset = st.selectbox(
                "Column mapping",
                ["Guess from the headers", *presets],
                key="mapping_preset",
                help="A mapping saved from an earlier upload of the same export.",
            )
            if preset != "Guess from the headers":
                guessed = load_preset(PRESET_DIR / f"{preset}.json")
        rows = [
            {"table": t, "their column": h, "our column": c}
            for t, cols in guessed.columns.items()
            for h, c in cols.items()
        ] + [
            {"table": t, "their column": h, "our column": f"total of {instr}"}
            for t, cols in guessed.totals.items()
            for h, instr in cols.items()
        ]
        if rows:
            st.markdown(
                "**Column mapping.** Your headers differ from ours; check the guesses and edit "
                "them (delete a row to leave a column as it is)."
            )
            edited = st.data_editor(
                pd.DataFrame(rows), key="mapping_editor", hide_index=True, num_rows="dynamic"
            )
            columns_map: dict = {}
            totals_map: dict = {}
            for r in edited.dropna(subset=["table", "their column", "our column"]).itertuples(
                index=False
            ):
                target = str(r[2])
                if target.startswith("total of "):
                    totals_map.setdefault(r[0], {})[r[1]] = target.removeprefix("total of ")
                else:
                    columns_map.setdefault(r[0], {})[r[1]] = target
            mapping = ColumnMapping(columns=columns_map, values=guessed.values, totals=totals_map)
            p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
            preset_name = p1.text_input(
                "Save this mapping as a preset named",
                key="preset_name",
                help="Letters, digits, - and _ only, e.g. ehr-export.",
            ).strip()
            valid_name = re.fullmatch(r"[A-Za-z0-9_-]{1,60}", preset_name) is not None
            if preset_name and not valid_name:
                p1.warning("Use letters, digits, - and _ only (at most 60).")
            if p2.button("Save preset", icon=":material/save:", disabled=not valid_name):
                path = save_preset(
                    ColumnMapping(columns_map, guessed.values, totals_map, preset_name),
                    PRESET_DIR / f"{preset_name}.json",
                )
                st.toast(f"Saved preset {path.stem}.")
    if not st.button("Validate and import", type="primary", icon=":material/task_alt:"):
        st.stop()

# ---------------------------------------------------------------------------- import

with st.status("Reading, validating and storing…", expanded=True) as status:
    st.write(f"{len(files)} file(s): " + ", ".join(files))
    options = ImportOptions(keep_month=keep_month, prorate=prorate, drop_phi=drop_phi)
    result = import_upload(files, auth.run_user(), options, mapping)
    if result.ok:
        st.write("Preparing each patient's outcomes for the dashboard…")
        try:
            # done here, once, so the Overview's first visit after an import is quick
            results.prepare_table(settings.current_definitions("PCL-5"))
        except Exception:  # noqa: BLE001  (a warm-up only: the Overview computes it on its visit)
            pass
    status.update(
        label=f"Stored as batch {result.batch_id}" if result.ok else "Not imported: see below",
        state="complete" if result.ok else "error",
        expanded=False,
    )

importer_warnings = {
    str(p).removeprefix(f"{WARNING}: ") for p in result.problems if p.severity == WARNING
}
report = {
    "ok": result.ok,
    "batch_id": result.batch_id,
    "counts": result.counts,
    "conflicts": result.conflicts,
    # the store's own notes (sample removed, same files as before); the importer's are below
    "warnings": [w for w in result.warnings if w not in importer_warnings],
    "problems": problems_frame(list(result.problems)),
    "mapping": None,
}
if result.ok and mapping is not None:
    report["mapping"] = json.dumps(mapping.to_dict(), indent=2)
st.session_state[REPORT_KEY] = report
# rerun so the sidebar, the banner and every page read the new data version at once
st.rerun()
