"""Import history: every batch with its files, counts and warnings; conflicts; rollback."""

import pandas as pd
import streamlit as st

from store import (
    batch_details,
    conflict_detail,
    list_batches,
    list_conflicts,
    resolve_conflicts,
    rollback,
)
from ui import auth
from ui.labels import (
    column_title,
    counted,
    describe_import_options,
    readable_table,
    value_label,
)

user = auth.require_page("import_history")
st.title("Import history")
st.caption(
    "Every import, with its files and counts. Where an import disagrees with what is stored, "
    "you decide which value to keep; an import can be undone."
)
with st.expander("How imports are kept"):
    st.markdown(
        "Each upload is one batch, stored in one transaction: all of it or nothing. A value "
        "that differs from the stored one is a conflict: the stored value stays until you "
        "replace or keep it. Rolling a batch back removes exactly the rows it added and brings "
        "back the values it replaced. A file's fingerprint (the start of its SHA-256 hash) "
        "tells two exports with the same name apart."
    )

NOTICE_KEY = "imports_notice"
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice, icon=":material/check_circle:")

batches = list_batches()
if batches.empty:
    st.info("No imports yet: upload the clinic's exports on the Data page.")
    st.stop()

details = {int(b): batch_details(int(b)) for b in batches["batch_id"]}
# Few columns with short titles, so the history fits a 1024-px screen: each batch's files,
# counts per table and fingerprints are in its own tables below.
history = pd.DataFrame(
    {
        "Batch": batches["batch_id"].astype(int),
        "When (UTC)": batches["created_at"],
        "By": batches["username"],
        "What": [
            f"{value_label('kind', k)}, {value_label('status', s).lower()}"
            for k, s in zip(batches["kind"], batches["status"])
        ],
        "Files": [len(details[int(b)]["files"]) for b in batches["batch_id"]],
        "Rows added": batches["rows_added"].astype(int),
        "To decide": batches["conflicts_pending"].astype(int),
    }
)
if not history["To decide"].any():
    history = history.drop(columns="To decide")  # said only when a conflict waits
small = st.column_config.NumberColumn(width="small")
st.dataframe(
    history,
    hide_index=True,
    width="stretch",
    column_config={
        "Batch": small,
        "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "Files": small,
        "To decide": st.column_config.NumberColumn(
            width="small", help="Conflicts still waiting for a decision."
        ),
    },
)

ids = [int(b) for b in batches["batch_id"]]
pending_first = sorted(
    ids, key=lambda b: -int(batches.loc[batches["batch_id"] == b, "conflicts_pending"].iloc[0])
)
batch_id = st.selectbox(
    "Batch",
    ids,
    index=ids.index(pending_first[0]),
    format_func=lambda b: (
        f"Batch {b} ({value_label('kind', details[b]['kind']).lower()}, "
        f"{value_label('status', details[b]['status']).lower()})"
    ),
    key="imports_batch",
)
detail = details[batch_id]

st.subheader(f"Batch {batch_id}")
# One above the other: side by side, neither table fits a 1024-px screen.
st.markdown(
    f"**By** {detail['username']} · **at** {pd.Timestamp(detail['created_at']):%Y-%m-%d %H:%M} "
    f"UTC · **status** {value_label('status', detail['status']).lower()}"
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "File": f["name"],
                "Read as": value_label("table", f["table"]) if f["table"] else "(not used)",
                "Fingerprint": f["sha256"][:16],
            }
            for f in detail["files"]
        ]
    ),
    hide_index=True,
    width="stretch",
)
counts = pd.DataFrame(detail.get("counts") or {}).T
if not counts.empty:
    counts = counts.rename_axis("table").reset_index()
    st.dataframe(readable_table(counts), hide_index=True, width="stretch")
options = describe_import_options(detail.get("options"))
st.caption("Import options: " + ("; ".join(options) if options else "the defaults") + ".")
warnings = detail.get("warnings") or []
if warnings:
    with st.expander(counted(len(warnings), "warning"), icon=":material/warning:"):
        st.markdown("\n".join(f"- {w}" for w in warnings))


def _conflict_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Conflicts as the page shows them: the differing columns as one text, titles in words."""
    shown = frame.drop(columns=["batch_id", "status"]).assign(
        # the store writes them as "bp_systolic_peak, dose_mg"
        columns=frame["columns"].map(lambda c: ", ".join(map(_field, str(c).split(", "))))
    )
    return readable_table(shown)


def _field(column: str) -> str:
    """A stored table's column in words ("bp_systolic_peak" -> "Systolic peak (mmHg)")."""
    return column_title(column) or column


# ---------------------------------------------------------------------------- conflicts
conflicts = list_conflicts(batch_id)
if not conflicts.empty:
    st.subheader("Conflicts")
    pending = conflicts[conflicts["status"] == "pending"]
    st.caption(
        f"{len(pending):,} pending of {len(conflicts):,}. A patient-level conflict means the "
        "export has a different first session for that patient, so every day would shift: "
        "replacing swaps all of the patient's rows at once."
    )
    decided = conflicts[conflicts["status"] != "pending"]
    if not pending.empty:
        table = _conflict_table(pending).assign(Decision="keep stored")
        edited = st.data_editor(
            table,
            hide_index=True,
            width="stretch",
            disabled=[c for c in table.columns if c != "Decision"],
            key=f"conflicts_{batch_id}",
            column_config={
                "Decision": st.column_config.SelectboxColumn(
                    "Decision", options=["keep stored", "replace"], required=True
                )
            },
        )
        first_row = pending[pending["kind"] == "row"]
        if not first_row.empty:
            cid = st.selectbox(
                "Stored and incoming values of conflict",
                first_row["conflict_id"].tolist(),
                key=f"conflict_detail_{batch_id}",
            )
            compared = conflict_detail(int(cid))
            st.dataframe(
                readable_table(compared.assign(column=compared["column"].map(_field))),
                hide_index=True,
            )
        b1, b2, b3 = st.columns(3)
        decisions = None
        if b1.button("Apply the decisions", type="primary", key="conflicts_apply"):
            decisions = {
                int(c): "replace" if d == "replace" else "keep"
                for c, d in zip(edited["Conflict"], edited["Decision"])
            }
        if b2.button("Replace all with the incoming values", key="conflicts_replace_all"):
            decisions = "replace"
        if b3.button("Keep all stored values", key="conflicts_keep_all"):
            decisions = "keep"
        if decisions is not None:
            try:
                done = resolve_conflicts(batch_id, decisions, user)
            except ValueError as error:
                st.error(f"Not applied: {error}", icon=":material/block:")
            else:
                st.session_state[NOTICE_KEY] = f"{done.replaced} replaced, {done.kept} kept."
                st.rerun()
    if not decided.empty:
        with st.expander(f"{len(decided):,} decided"):
            st.dataframe(
                _conflict_table(decided).assign(
                    Decision=decided["status"].map(lambda v: value_label("status", v)).tolist()
                ),
                hide_index=True,
                width="stretch",
            )

# ---------------------------------------------------------------------------- rollback
if detail["status"] == "active":
    st.subheader("Roll back")
    st.caption(
        "Removes exactly the rows this batch added and brings back the values it replaced. "
        "Not possible while a later batch changed the same patients: roll that one back first."
    )
    sure = st.checkbox(
        f"I want to roll back batch {batch_id} ({detail['rows_added']:,} rows added)",
        key=f"rollback_confirm_{batch_id}",
    )
    if st.button(
        f"Roll back batch {batch_id}",
        disabled=not sure,
        icon=":material/undo:",
        key="rollback_button",
    ):
        try:
            done = rollback(batch_id, user)
        except ValueError as error:
            st.error(f"Not rolled back: {error}", icon=":material/block:")
        else:
            removed = sum(done.removed.values())
            restored = sum(done.restored.values())
            st.session_state[NOTICE_KEY] = (
                f"Batch {batch_id} rolled back: {removed:,} rows removed, {restored:,} former "
                "values restored."
            )
            st.rerun()
else:
    st.caption(
        f"Rolled back by {detail.get('rolled_back_by')} at "
        f"{pd.Timestamp(detail.get('rolled_back_at')):%Y-%m-%d %H:%M} UTC."
    )
