"""Offence classifiers: one small interface (``OffenceModel``) every model kind obeys."""
