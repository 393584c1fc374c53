"""One "did you mean" for every unknown name a user can type (a key, a site, a city, a policy)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(value: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The choice most similar to ``value`` (difflib ratio >= ``cutoff``), or None."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(value: str, choices: Iterable[str], *, cutoff: float = 0.6, known: bool = False) -> str:
    """``"did you mean 'x'?"`` for the closest choice; with none close, ``"known: a, b, c"`` when
    ``known`` is set, else ``""``. Callers place the text in their own message."""
    options = sorted(set(choices))
    match = closest(value, options, cutoff=cutoff)
    if match is not None:
        return f"did you mean {match!r}?"
    return f"known: {', '.join(options)}" if known and options else ""
