"""Every chart the product draws, on screen and in the board report: pure functions of tidy
frames returning Plotly figures, with one colour vocabulary. Nothing here imports Streamlit."""
