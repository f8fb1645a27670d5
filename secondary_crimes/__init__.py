"""secondary_crimes: find crimes that were reported to the police but never recorded."""

__version__ = "0.1.0"
