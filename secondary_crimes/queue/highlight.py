"""Evidence spans as highlighted HTML, one colour per offence."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from secondary_crimes.taxonomy import load_taxonomy

HUES = 12


def colour(offence: str) -> int:
    """The colour class index of an offence (stable: its position in the taxonomy)."""
    labels = load_taxonomy().labels
    return labels.index(offence) % HUES if offence in labels else HUES - 1


def locate(text: str, start: int, end: int, quoted: str = "") -> tuple[int, int] | None:
    """The span in ``text``: the offsets if they hold the quote, else where the quote is."""
    if quoted and text[start:end] != quoted:
        found = text.find(quoted)
        if found >= 0:
            return found, found + len(quoted)
    start, end = max(0, start), min(len(text), end)
    return (start, end) if start < end else None


def highlight(text: str, spans: Iterable[tuple[int, int, str]]) -> Markup:
    """``text`` escaped, with ``<mark>`` around each (start, end, offence) span; overlaps split."""
    spans = [(start, end, offence) for start, end, offence in spans if 0 <= start < end <= len(text)]
    if not spans:
        return Markup(escape(text))
    cuts = sorted({0, len(text)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
    offences = load_taxonomy().offences
    parts = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[left:right])
        covering = sorted({o for s, e, o in spans if s <= left and right <= e}, key=colour)
        if not covering:
            parts.append(piece)
            continue
        names = ", ".join(offences[o].name if o in offences else o for o in covering)
        classes = f"ev h{colour(covering[0])}" + (" multi" if len(covering) > 1 else "")
        parts.append(
            Markup('<mark class="{}" data-offences="{}" title="Evidence: {}">{}</mark>').format(
                classes, " ".join(covering), names, piece
            )
        )
    return Markup("").join(parts)
