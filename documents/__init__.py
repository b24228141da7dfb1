"""What leaves the clinic: the board report (PDF). Built from the per-patient table's
aggregations and the same charts the dashboard draws; nothing here imports Streamlit or the
store, so the dashboard and the command line make the same document."""
