"""The headless command line (``python -m analytics``): the analytics and the store together."""
