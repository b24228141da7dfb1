"""Audit log: who signed in, imported, decided, rolled back, downloaded or changed what, and when."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from analytics.core.spreadsheet import csv_bytes
from store import read_audit, verify_audit_chain
from store.audit import ACTIONS
from store.users import list_users
from ui import auth
from ui.labels import ACTION_LABELS, describe_audit_entry

auth.require_page("audit")
st.title("Audit log")
st.caption(
    "Who signed in, imported, decided, rolled back, downloaded or changed what, and when. "
    "Entries can never be changed or deleted."
)
with st.expander("What an entry holds"):
    st.markdown(
        "User names, counts, file names and batch numbers; never a password or a patient "
        "identifier. The database itself refuses to change or delete an entry (it is "
        "append-only), so the log is a faithful record even for a director. Each entry is also "
        "sealed to the one before it, so an entry changed, deleted or slipped in by someone "
        "working on the database directly is named in the check at the top of this page."
    )

# The chain is checked on every visit: a director sees at once when the log was tampered with.
chain = verify_audit_chain()
if chain.ok:
    st.success(
        f"Audit trail intact: {chain.checked:,} {'entry' if chain.checked == 1 else 'entries'}, "
        "each chained to the one before.",
        icon=":material/verified_user:",
    )
else:
    st.error(
        f"{chain.sentence} Someone may have altered the audit log outside the dashboard. Do not "
        "delete or restore anything yet: ask whoever looks after the clinic's database to keep a "
        "copy of it as it is now and to compare the log with a backup from before that entry.",
        icon=":material/gpp_bad:",
    )

ALL = "(all)"
today = datetime.now(UTC).date()
f1, f2, f3 = st.columns([2, 2, 3])
action = f1.selectbox(
    "Event",
    [ALL, *sorted(ACTIONS, key=lambda a: ACTION_LABELS.get(a, a))],
    key="audit_action",
    format_func=lambda a: "All events" if a == ALL else ACTION_LABELS.get(a, a),
)
names = list_users()["username"].tolist()
username = f2.selectbox(
    "User",
    [ALL, *names, "system"],
    key="audit_user",
    format_func=lambda u: "All users" if u == ALL else u,
)
period = f3.date_input(
    "Between (UTC days, both included)",
    value=(today - timedelta(days=30), today),
    max_value=today,
    key="audit_period",
)
# while the second day is being picked the widget holds one date
start, end = (period[0], period[-1]) if isinstance(period, tuple) and period else (today, today)

entries = read_audit(
    action=None if action == ALL else action,
    username=None if username == ALL else username,
    since=datetime.combine(start, time.min, tzinfo=UTC),
    until=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    limit=None,
)
if entries.empty:
    st.info("No entries match.", icon=":material/search_off:")
    st.stop()

# One sentence per entry ("Downloaded outcomes.csv (250 rows)"), never the stored JSON.
shown = pd.DataFrame(
    {
        "When (UTC)": entries["at"],
        "User": entries["username"].fillna("(unknown)"),
        "Event": entries["action"].map(lambda a: ACTION_LABELS.get(a, a)),
        "What happened": [
            describe_audit_entry(a, d) for a, d in zip(entries["action"], entries["detail"])
        ],
    }
)
st.caption(f"{len(shown):,} entries, newest first.")
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "When (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        "What happened": st.column_config.TextColumn(width="large"),
    },
)
auth.audited_download(
    "Download these entries (CSV)",
    csv_bytes(shown.assign(**{"When (UTC)": shown["When (UTC)"].dt.strftime("%Y-%m-%d %H:%M:%S")})),
    file_name=f"audit-{start:%Y%m%d}-{end:%Y%m%d}.csv",
    rows=len(shown),
    mime="text/csv",
    key="audit_download",
    icon=":material/download:",
)
