"""Helpers for the extraction tests."""

from __future__ import annotations


def kinds(extraction, *, affirmed: bool | None = None) -> set[str]:
    return {i.kind for i in extraction.indicators if affirmed is None or i.affirmed == affirmed}


def find(extraction, kind: str):
    found = [i for i in extraction.indicators if i.kind == kind]
    assert found, f"no {kind} indicator in {[(i.kind, i.span.text) for i in extraction.indicators]}"
    return found[0]
