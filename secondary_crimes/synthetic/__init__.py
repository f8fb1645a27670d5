"""Synthetic labelled incidents for training, tests and benchmarks."""

from secondary_crimes.synthetic.generator import generate_incidents, iter_incidents, load_bank

__all__ = ["generate_incidents", "iter_incidents", "load_bank"]
