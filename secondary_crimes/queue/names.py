"""The one spelling of a login name, used to create accounts, log in, lock out and log."""

from __future__ import annotations

import unicodedata

MAX_USERNAME = 64


def login_name(name: str) -> str:
    """``name`` NFKC-normalised, trimmed and case-folded: " Carol ", "CAROL" and "carol" are one account."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name or "").casefold()).strip()
