"""Scoring engines beyond the local streaming one (``secondary_crimes.score``): Spark."""
