"""Helpers for building a sparse constraint matrix family by family (COO triplets, bounds, names)."""

from __future__ import annotations

import numpy as np


class Rows:
    """Accumulates constraint families as COO triplets with bounds and names."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.names: list[str] = []
        self.groups: dict[str, slice] = {}
        self.n = 0

    def add(
        self,
        group: str,
        names: list[str],
        rows: np.ndarray,
        cols: np.ndarray,
        vals: np.ndarray,
        lo: np.ndarray | float,
        hi: np.ndarray | float,
    ) -> None:
        m = len(names)
        if m == 0:
            return
        self.r.append(np.asarray(rows, dtype=np.int64) + self.n)
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.asarray(vals, dtype=float))
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (m,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (m,)))
        self.names.extend(names)
        self.groups[group] = slice(self.n, self.n + m)
        self.n += m


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo_i, hi_i): (owner i of each element, element positions), vectorized."""
    counts = hi - lo
    owner = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return owner, starts + np.arange(counts.sum())
