"""Outcome and safety analytics for ketamine and esketamine clinics.

Plain pandas and SciPy: nothing here imports Streamlit. The dashboard and the command line
(``python -m analytics``) both call these functions, so every number has one source.
"""

__version__ = "0.1.0"
