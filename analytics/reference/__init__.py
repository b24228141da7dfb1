"""Figures from outside the clinic, each with its source: the Spravato label's trial frequencies
and published response and remission figures."""
