"""Data: upload a clinic's CSV exports, map their columns, validate, and store them as a batch."""

import datetime
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics.core.instruments import INSTRUMENTS
from analytics.core.problems import problems_frame
from analytics.ingest import vocabularies as vocab
from analytics.ingest.mapping import (
    COLUMN_LABELS,
    SYNONYMS,
    ColumnMapping,
    file_key,
    guess_column_days,
    guess_mapping,
    list_presets,
    load_preset,
    save_preset,
    wide_to_long,
)
from analytics.ingest.options import ImportOptions
from analytics.ingest.preview import UploadPreview, preview_upload
from analytics.ingest.reader import read_table
from analytics.ingest.redcap import convert_redcap
from store import StorageError, import_upload
from ui import auth, cohort, results, settings
from ui import components as ui
from ui.labels import counted

REPORT_KEY = "data_import_report"

auth.require_page("data")
context = cohort.get_context()
st.title("Data")
ui.data_banner(context.loaded)


# The report's columns as the page shows them.
REPORT_COLUMNS = {
    "severity": "Kind",
    "file": "File",
    "column": "Column",
    "rule": "What is wrong",
    "rows": "Rows",
    "examples": "Example rows",
}
# Problems listed with their values, below the counts.
EXAMPLES_SHOWN = 200


def _report_table(counts: pd.DataFrame) -> pd.DataFrame:
    """The per-rule counts in words: a problem with a whole file or column has no row count."""
    table = counts.rename(columns=REPORT_COLUMNS)[list(REPORT_COLUMNS.values())].copy()
    table["Kind"] = table["Kind"].map({"error": "Error", "warning": "Warning"})
    table["Column"] = table["Column"].fillna("(whole file)")
    table["Rows"] = [f"{n:,}" if n else "the whole file or column" for n in table["Rows"]]
    return table


def _show_report(report: dict) -> None:
    """The outcome of the last import: the batch's counts, then every rule broken with the
    number of rows that break it, a few example rows, and the full list to download."""
    counts = report["problem_counts"]
    if report["ok"]:
        added = ", ".join(
            f"{c['added']:,} {table.replace('_', ' ')}" for table, c in report["counts"].items()
        )
        unchanged = sum(c["unchanged"] for c in report["counts"].values())
        st.success(
            f"Imported as batch {report['batch_id']}: {added} added; {unchanged:,} rows were "
            "already stored unchanged. It is in the database: every page shows it, for every "
            "user, after a restart too.",
            icon=":material/check_circle:",
        )
        for note in report["notes"]:
            st.warning(note[:1].upper() + note[1:], icon=":material/warning:")
        if report["conflicts"]:
            st.warning(
                f"{counted(report['conflicts'], 'stored value')} "
                f"{'differs' if report['conflicts'] == 1 else 'differ'} in this upload. The stored "
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
        errors = counts[counts["severity"] == "error"]
        files = errors["file"].nunique()
        rows = report["error_rows"]
        on_rows = f", on {counted(rows, 'row')}" if rows else ""
        st.error(
            f"Nothing was imported: {counted(len(errors), 'problem')} to fix in "
            f"{counted(files, 'file')}"
            f"{on_rows}. Each is listed below with its file, column and example rows; fix "
            "them in the export (or choose how to read them above) and validate again.",
            icon=":material/error:",
        )
    if counts.empty:
        return
    st.subheader("Validation report")
    st.caption(
        "One line per problem, with how many rows have it. Values that may identify a patient "
        "are never shown."
    )
    st.table(_report_table(counts), hide_index=True)
    examples = report["examples"]
    if not examples.empty:
        with st.expander("The first rows of each problem, with their values"):
            shown = examples.head(EXAMPLES_SHOWN).rename(
                columns={**REPORT_COLUMNS, "row": "Row", "value": "Value"}
            )
            shown["Kind"] = shown["Kind"].map({"error": "Error", "warning": "Warning"})
            st.table(
                shown[["Kind", "File", "Row", "Column", "Value", "What is wrong"]], hide_index=True
            )
    every_row = report["problem_rows"].rename(columns={**REPORT_COLUMNS, "row": "Row"})
    if "Kind" in every_row:
        every_row["Kind"] = every_row["Kind"].map({"error": "Error", "warning": "Warning"})
    ui.download_table(
        every_row if not every_row.empty else _report_table(counts),
        "validation_report",
        label=f"Download every affected row ({len(every_row):,} rows, CSV)",
        cohort=False,  # about the upload, not about the cohort on screen
    )


def _problems_table(problems) -> pd.DataFrame:
    """Problems of a conversion as the page shows them: titles and kinds in words."""
    frame = problems_frame(problems).rename(
        columns={**REPORT_COLUMNS, "row": "Row", "value": "Value"}
    )
    frame["Kind"] = frame["Kind"].map({"error": "Error", "warning": "Warning"})
    return frame


last_report = st.session_state.get(REPORT_KEY)
if last_report is not None:
    _show_report(last_report)

TABLES = ("sessions", "assessments", "side_effects", "patients")
# Each table in words, as the column mapping shows it.
TABLE_WORDS = {
    "sessions": "Sessions",
    "assessments": "Assessments",
    "side_effects": "Side effects",
    "patients": "Patients",
}
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
        "Your files may keep their own names (Visits_Export_2025.csv, PCL5_Scores.csv): the "
        "page guesses which table each one holds and says why, and you can correct it. "
        "Blood pressure may be written in one cell, such as 120/80.\n\n"
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
    help="Your export's own files, named as they are: each file's table is guessed from its "
    "name and columns, and you can change the guess below.",
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
    given_extract = st.checkbox(
        "I know the day this export was taken",
        key="opt_extract_given",
        help="Each patient's follow-up runs from the first session to that day, so a patient "
        "who started three weeks before it is not yet due at week 24 and is not counted as "
        "a non-responder. Unticked: the latest date anywhere in the files. The day itself is "
        "not stored.",
    )
    extract_date = (
        st.date_input(
            "Day the export was taken",
            key="opt_extract_date",
            format="YYYY-MM-DD",
            max_value=datetime.date.today(),  # an export is never taken in the future
        )
        if given_extract
        else None
    )

if not uploads:
    st.caption("Choose files to start. Nothing is stored until you import them.")
    st.stop()

files = {f.name: f.getvalue() for f in uploads}

GUESS = "Guess from the headers"
SKIP = "(skip)"
TABLE_LABELS = {
    SKIP: "(skip) — not imported",
    "sessions": "Sessions — one row per treatment session",
    "assessments": "Assessments — one row per questionnaire",
    "side_effects": "Side effects — one row per effect at a session",
    "patients": "Patients — one row per patient",
}
# Every canonical column with what it holds, as the mapping editor offers it.
COLUMN_OPTIONS = [
    f"{code} — {label}"
    for code, label in COLUMN_LABELS.items()
    if any(code in SYNONYMS[t] for t in TABLES)
] + [f"total of {name} — the {name} total score" for name in INSTRUMENTS]
VALUE_KINDS = {
    "route": "Routes",
    "effect": "Side effects",
    "severity": "Severities",
    "phase": "Treatment phases",
    "yes_no": "Yes/no answers",
}
VALUE_CODES = {
    "route": vocab.ROUTES,
    "effect": vocab.EFFECTS,
    "severity": vocab.SEVERITIES,
    "phase": vocab.PHASES,
    "yes_no": {"yes": "Yes", "no": "No"},
}
DATE_ORDER_LABELS = {"dmy": "Day first (25/03/2025)", "mdy": "Month first (03/25/2025)"}


def _read(name: str, payload: bytes) -> pd.DataFrame | None:
    return read_table(name, payload).frame


def _column_option(code: str) -> str:
    label = COLUMN_LABELS.get(code)
    return f"{code} — {label}" if label else code


def _total_option(instrument: str) -> str:
    return f"total of {instrument} — the {instrument} total score"


def _value_key(value: str) -> str:
    # widget keys stay short and plain whatever the spelling holds
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@st.cache_data(show_spinner=False, max_entries=8)
def _cached_preview(
    files: tuple[tuple[str, bytes], ...], mapping: str | None, tables: str | None
) -> UploadPreview:
    return preview_upload(
        dict(files),
        None if mapping is None else ColumnMapping.from_dict(json.loads(mapping)),
        tables=None if tables is None else json.loads(tables),
    )


def _preview(files, mapping=None, tables=None) -> UploadPreview:
    """:func:`preview_upload`, read once per upload and mapping (the page reruns on each click)."""
    return _cached_preview(
        tuple(files.items()),
        None if mapping is None else json.dumps(mapping.to_dict(), sort_keys=True),
        None if tables is None else json.dumps(dict(tables), sort_keys=True),
    )


def _date_order_choice(upload: UploadPreview, base) -> tuple[str | None, bool]:
    """The date order to import with, and whether the user must give it."""
    order = upload.date_order
    if order in ("dmy", "mdy"):
        example = next((f for f in upload.files if f.date_order == order and f.date_example), None)
        written = "day/month/year" if order == "dmy" else "month/day/year"
        certain = f": {example.date_example} in {example.file} makes it certain" if example else ""
        st.caption(f"Dates read as {written}{certain}.")
        return order, False
    if order == "ymd":
        st.caption("Dates are written year first (2025-03-25): nothing to choose.")
        return None, False
    if order is None:  # no file has dates
        return None, False
    if order == "conflicting":
        ways = ", ".join(
            f"{name}: {DATE_ORDER_LABELS.get(o, 'both ways').split(' (')[0].lower()}"
            for name, o in upload.date_orders.items()
            if o in ("dmy", "mdy", "conflicting")
        )
        st.warning(
            f"The files write their dates in different ways ({ways}). Check the export; the "
            "order you choose below is used for every file.",
            icon=":material/warning:",
        )
    saved = base.date_order if base is not None else None
    picked = st.radio(
        "How are the dates written? Nothing in the files makes it certain (no day above 12).",
        list(DATE_ORDER_LABELS),
        index=list(DATE_ORDER_LABELS).index(saved) if saved in DATE_ORDER_LABELS else None,
        format_func=DATE_ORDER_LABELS.get,
        horizontal=True,
        key="data_date_order",
    )
    return picked, True


mapping = None
chosen = None
date_order = None

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
        pd.DataFrame({"REDCap event": events, "Day": [guessed.get(e) for e in events]}),
        key="redcap_events",
        disabled=["REDCap event"],
        hide_index=True,
        column_config={"Day": st.column_config.NumberColumn(step=1)},
    )
    id_field = st.text_input("Record id field (blank: the first column)", key="redcap_id")
    missing = event_table["Day"].isna()
    if missing.any():
        st.warning(
            "Events without a day are left out: "
            + ", ".join(event_table.loc[missing, "REDCap event"])
        )
    event_days = {
        str(event): int(day)
        for event, day in event_table.loc[~missing, ["REDCap event", "Day"]].itertuples(index=False)
    }
    if not st.button("Convert and import", type="primary", icon=":material/sync:"):
        st.stop()
    tables, converted_problems = convert_redcap(
        frame, events=event_days, id_field=id_field or None, file=source
    )
    if any(p.severity == "error" for p in converted_problems):
        st.error("The REDCap export could not be converted.")
        st.dataframe(_problems_table(converted_problems), hide_index=True)
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
                "Column": [c for c in columns if c != id_column],
                "Day": [guessed.get(c) for c in columns if c != id_column],
            }
        ),
        key="wide_days",
        disabled=["Column"],
        hide_index=True,
        column_config={"Day": st.column_config.NumberColumn(step=1)},
    )
    mapped = day_table[day_table["Day"].notna()]
    column_days = {
        str(column): int(day) for column, day in mapped[["Column", "Day"]].itertuples(index=False)
    }
    ignore = day_table.loc[day_table["Day"].isna(), "Column"].tolist()
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
        st.dataframe(_problems_table(converted_problems), hide_index=True)
        st.stop()
    files = {
        "assessments.csv": long.drop(columns="_row", errors="ignore")
        .to_csv(index=False)
        .encode("utf-8")
    }

# ---------------------------------------------------------------------------- column mapping
else:
    # 1. a saved mapping, if the user picks one: it fixes tables, headers, values, date order
    base = None
    presets = list_presets(PRESET_DIR)
    preset = GUESS
    if presets:
        preset = st.selectbox(
            "Saved mapping",
            [GUESS, *presets],
            key="mapping_preset",
            help="A mapping saved from an earlier upload of the same export: which table each "
            "file holds, which column is which, your own spellings and how dates are written.",
        )
        if preset != GUESS:
            base = load_preset(PRESET_DIR / f"{preset}.json")
    first = _preview(files, base)

    # 2. which table each file holds, with the reason, editable
    st.markdown("**Which table is each file?** Check the guesses; choose another if one is wrong.")
    chosen: dict[str, str] = {}
    for found in first.files:
        c1, c2 = st.columns([2, 3], vertical_alignment="center")
        choices = [SKIP, *TABLES]
        choice = c1.selectbox(
            found.file,
            choices,
            index=choices.index(found.table or SKIP),
            format_func=lambda t: TABLE_LABELS.get(t, t),
            key=f"table_of_{preset}_{found.file}",
        )
        if found.error:
            c2.caption(f"Could not be read: {found.error}")
        elif found.table is None:
            c2.caption(f"Not recognised: {found.guess.reason}. Choose its table, or skip it.")
        else:
            c2.caption(
                f"Guessed {TABLE_LABELS[found.table].split(' — ')[0].lower()}: "
                f"{found.guess.reason}."
            )
        if choice != SKIP:
            chosen[found.file] = choice
    files = {name: payload for name, payload in files.items() if name in chosen}
    if not files:
        st.warning("Every file is skipped: choose the table of at least one file above.")
        st.stop()

    # 3. the column mapping, as guessed from the headers (or the saved mapping)
    headers: dict[str, list[str]] = {}
    for found in first.files:
        if found.file in chosen:
            headers.setdefault(chosen[found.file], []).extend(found.headers)
    guessed = base if base is not None else guess_mapping(headers)
    rows = [
        {"Table": TABLE_WORDS[t], "Their column": h, "Our column": _column_option(c)}
        for t, cols in guessed.columns.items()
        if t in headers
        for h, c in cols.items()
    ] + [
        {"Table": TABLE_WORDS[t], "Their column": h, "Our column": _total_option(instr)}
        for t, cols in guessed.totals.items()
        if t in headers
        for h, instr in cols.items()
    ]
    columns_map: dict = {}
    totals_map: dict = {}
    if rows:
        st.markdown(
            "**Column mapping.** Your headers differ from ours; check the guesses and edit "
            "them (delete a row to leave a column as it is)."
        )
        options = sorted({r["Our column"] for r in rows} | set(COLUMN_OPTIONS))
        edited = st.data_editor(
            pd.DataFrame(rows, columns=["Table", "Their column", "Our column"]),
            key=f"mapping_editor_{preset}",
            hide_index=True,
            num_rows="dynamic",
            column_config={
                "Table": st.column_config.SelectboxColumn(options=list(TABLE_WORDS.values())),
                "Our column": st.column_config.SelectboxColumn(options=options, width="large"),
            },
        )
        table_codes = {words: code for code, words in TABLE_WORDS.items()}
        for words, theirs, ours in edited.dropna(
            subset=["Table", "Their column", "Our column"]
        ).itertuples(index=False):
            table = table_codes.get(words, words)
            target = str(ours).split(" — ")[0]
            if target.startswith("total of "):
                totals_map.setdefault(table, {})[theirs] = target.removeprefix("total of ")
            else:
                columns_map.setdefault(table, {})[theirs] = target
    known_values = dict(base.values) if base is not None else {}
    second = _preview(
        files,
        ColumnMapping(columns=columns_map, values=known_values, totals=totals_map),
        tables=chosen,
    )

    # 4. spellings no code matches: the user says what each one means
    values_map = {kind: dict(spellings) for kind, spellings in known_values.items()}
    unknown = second.unknown
    if unknown:
        st.markdown(
            "**Values we do not know.** Say what each one means; one left unknown stops the "
            "import with its rows listed. Your choices are kept with a saved mapping."
        )
        for kind, spellings in unknown.items():
            codes = VALUE_CODES[kind]
            with st.expander(f"{VALUE_KINDS[kind]}: {len(spellings)} unknown", expanded=True):
                cells = st.columns(2)
                for i, (value, count) in enumerate(spellings.items()):
                    picked = cells[i % 2].selectbox(
                        f"“{value}” ({count:,} row{'s' if count != 1 else ''})",
                        [None, *codes],
                        format_func=lambda c, codes=codes: (
                            "(unknown: leave as it is)" if c is None else f"{c} — {codes[c]}"
                        ),
                        key=f"value_{preset}_{kind}_{_value_key(value)}",
                    )
                    if picked is not None:
                        values_map.setdefault(kind, {})[value] = picked

    # 5. how the dates are written: said by the files, or asked
    date_order, order_needed = _date_order_choice(second, base)

    mapping = ColumnMapping(
        columns=columns_map,
        values=values_map,
        totals=totals_map,
        tables={file_key(name): table for name, table in chosen.items()},
        date_order=date_order,
    )
    p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
    preset_name = p1.text_input(
        "Save this mapping as a preset named",
        key="preset_name",
        help="Letters, digits, - and _ only, e.g. ehr-export. It keeps each file's table, "
        "the column mapping, your spellings and the date order.",
    ).strip()
    valid_name = re.fullmatch(r"[A-Za-z0-9_-]{1,60}", preset_name) is not None
    if preset_name and not valid_name:
        p1.warning("Use letters, digits, - and _ only (at most 60).")
    if p2.button("Save preset", icon=":material/save:", disabled=not valid_name):
        path = save_preset(replace(mapping, name=preset_name), PRESET_DIR / f"{preset_name}.json")
        st.toast(f"Saved preset {path.stem}.")
    if order_needed and date_order is None:
        st.caption("Say how the dates are written (above) to validate.")
    if not st.button(
        "Validate and import",
        type="primary",
        icon=":material/task_alt:",
        disabled=order_needed and date_order is None,
        key="data_validate",
    ):
        st.stop()

# ---------------------------------------------------------------------------- import

with st.status("Reading, validating and storing…", expanded=True) as status:
    st.write(f"{counted(len(files), 'file')}: " + ", ".join(files))
    options = ImportOptions(
        keep_month=keep_month,
        prorate=prorate,
        drop_phi=drop_phi,
        date_order=date_order,
        extract_date=extract_date,
    )
    try:
        result = import_upload(files, auth.run_user(), options, mapping, tables=chosen)
    except StorageError as error:
        refusal = error
        status.update(label="Not imported: the database refused", state="error", expanded=False)
    else:
        refusal = None
    if refusal is None and result.ok:
        st.write("Preparing each patient's outcomes for the dashboard…")
        try:
            # done here, once, so the Overview's first visit after an import is quick
            results.prepare_table(settings.current_definitions("PCL-5"))
        except Exception:  # noqa: BLE001  (a warm-up only: the Overview computes it on its visit)
            pass
    if refusal is None:
        status.update(
            label=f"Stored as batch {result.batch_id}" if result.ok else "Not imported: see below",
            state="complete" if result.ok else "error",
            expanded=False,
        )
if refusal is not None:
    # the store's own sentence: which database, what happened, what to do; nothing was stored
    st.error(str(refusal), icon=":material/database:")
    st.stop()

problem_report = result.report
report = {
    "ok": result.ok,
    "batch_id": result.batch_id,
    "counts": result.counts,
    "conflicts": result.conflicts,
    # the store's own notes (sample removed, same files as before); the importer's are below
    "notes": list(result.notes),
    "problem_counts": problem_report.counts,
    "problem_rows": problem_report.rows,
    "error_rows": problem_report.error_rows,
    "examples": problems_frame([p for p in result.problems if p.row is not None]),
    "mapping": None,
}
if result.ok and mapping is not None:
    report["mapping"] = json.dumps(mapping.to_dict(), indent=2)
st.session_state[REPORT_KEY] = report
# rerun so the sidebar, the banner and every page read the new data version at once
st.rerun()
