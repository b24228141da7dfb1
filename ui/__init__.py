"""The Streamlit layer: cached loaders, sidebar filters, settings and pure Plotly figures.

Nothing here computes a clinical number; every number comes from :mod:`analytics`.
"""
