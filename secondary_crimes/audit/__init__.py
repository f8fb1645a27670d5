"""Audit: crime-recording rule checks, audit sampling, recording-rate estimation and the report."""

from secondary_crimes.recording_rules import RULES, check_rules, check_scored_record

__all__ = ["RULES", "check_rules", "check_scored_record"]
