"""Splitting a long reply into parts a channel accepts, at the most natural boundary that fits."""

from __future__ import annotations

from collections.abc import Callable

# Tried in order: a paragraph break reads best, a word break is the last resort before a hard cut.
_BOUNDARIES = ("\n\n", "\n", ". ", "! ", "? ", " : ", "; ", ", ", " ")


def _longest_fitting_prefix(text: str, fits: Callable[[str], bool]) -> int:
    # `fits` is monotone in the length of the text (longer never fits better), so bisect.
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Parts of `text`, each accepted by `fits`, cut at paragraph, line, sentence or word boundaries."""
    text = text.strip()
    parts: list[str] = []
    while text and not fits(text):
        limit = _longest_fitting_prefix(text, fits)
        cut = limit
        window = text[:limit]
        for boundary in _BOUNDARIES:
            at = window.rfind(boundary)
            # A boundary in the first half would leave a stub part; a harder cut reads better then.
            if at > limit // 2:
                cut = at + len(boundary.rstrip(" ")) if boundary.strip() else at
                break
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return [part for part in parts if part]


def utf16_length(text: str) -> int:
    """Length as Telegram and UCS-2 count it: characters outside the BMP (emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2
