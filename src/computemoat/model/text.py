"""Wording shared by every message: counts with the right noun form."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``"1 job"``, ``"2 jobs"``, ``"0 jobs"`` (``many`` for irregular plurals: ``"replicas"``)."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"
