"""Audit log: who signed in, imported, decided, rolled back, downloaded or changed what, and when."""

import json
from datetime import UTC, datetime, time, timedelta

import streamlit as st

from analytics.core.spreadsheet import csv_bytes
from store import read_audit
from store.audit import ACTIONS
from store.users import list_users
from ui import auth

auth.require_page("audit")
st.title("Audit log")
st.caption(
    "Append-only: the database refuses to change or delete an entry. Entries hold user names, "
    "counts, file names and batch numbers; never a password or a patient identifier."
)

ALL = "(all)"
today = datetime.now(UTC).date()
f1, f2, f3 = st.columns([2, 2, 3])
action = f1.selectbox("Event", [ALL, *sorted(ACTIONS)], key="audit_action")
names = list_users()["username"].tolist()
username = f2.selectbox("User", [ALL, *names, "system"], key="audit_user")
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

shown = entries.assign(
    username=entries["username"].fillna("(unknown)"),
    detail=entries["detail"].map(lambda d: json.dumps(d, sort_keys=True) if d else ""),
)
st.caption(f"{len(shown):,} entries, newest first.")
st.dataframe(
    shown[["at", "username", "action", "detail"]],
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "username": "User",
        "action": "Event",
        "detail": st.column_config.TextColumn("Detail", width="large"),
    },
)
auth.audited_download(
    "Download these entries (CSV)",
    csv_bytes(shown),
    file_name=f"audit-{start:%Y%m%d}-{end:%Y%m%d}.csv",
    rows=len(shown),
    mime="text/csv",
    key="audit_download",
    icon=":material/download:",
)
