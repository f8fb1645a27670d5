"""Transitional: the scoring test helpers' old import path, holding no tests.

The streaming tests are tests/core/test_score_streaming.py and the helpers tests/scoring_helpers.py.
tests/test_model_integrity.py still imports the helpers from here; delete this file once it imports
``scoring_helpers`` (and uses the ``model_dir`` fixture of tests/conftest.py).
"""

from scoring_helpers import input_rows, model_folder, write_input

__all__ = ["input_rows", "model_folder", "write_input"]
