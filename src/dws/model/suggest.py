"""Suggestions ("did you mean …?") for a name that was not found."""

from __future__ import annotations

from collections.abc import Iterable

MAX_DISTANCE = 2  # edits (insert, delete, substitute) between what was typed and a name
MAX_SUGGESTIONS = 3


def did_you_mean(typed: str, known: Iterable[str]) -> str:
    """A suffix for a not-found message, `` (did you mean v1?)``, naming the known names
    closest to ``typed`` (at most three): those equal to it ignoring case if any, else those
    the fewest edits away, up to two (case not counted). ``""`` when there is none. A name
    is never suggested by replacing everything that was typed (``ab`` does not suggest
    ``v1``)."""
    lowered = typed.lower()
    scored = []
    for name in set(known):
        if name == typed or abs(len(name) - len(typed)) > MAX_DISTANCE:
            continue
        distance = _distance(lowered, name.lower())
        if distance <= MAX_DISTANCE and distance < max(len(typed), 1):
            scored.append((distance, _distance(typed, name), name))
    if not scored:
        return ""
    best = min(distance for distance, *_ in scored)
    closest = [name for distance, _, name in sorted(scored) if distance == best]
    closest = closest[:MAX_SUGGESTIONS]
    listed = closest[0] if len(closest) == 1 else ", ".join(closest[:-1]) + " or " + closest[-1]
    return f" (did you mean {listed}?)"


def _distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
