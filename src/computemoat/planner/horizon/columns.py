"""A column allocator with named blocks: each block of decision variables gets its cost, bounds,
integrality and names in one call, and the index range it was given is looked up by name."""

from __future__ import annotations

import numpy as np

NEVER = np.iinfo(np.int64).max  # period key of columns a re-plan never fixes (totals)


class Columns:
    """Accumulates column blocks; ``block(name)`` gives the indices a block was allocated."""

    def __init__(self) -> None:
        self._cost: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._period: list[np.ndarray] = []
        self.names: list[str] = []
        self.blocks: dict[str, slice] = {}
        self.n = 0

    def add(
        self,
        name: str,
        names: list[str],
        *,
        cost: np.ndarray | float = 0.0,
        lower: np.ndarray | float = 0.0,
        upper: np.ndarray | float = np.inf,
        integer: bool = False,
        period: np.ndarray | int = NEVER,
    ) -> np.ndarray:
        """Allocate ``len(names)`` columns as block ``name``; returns their indices. ``period``: the last
        period a column's decision belongs to (a re-plan from period m keeps columns with period < m)."""
        if name in self.blocks:
            raise ValueError(f"column block {name!r} allocated twice")
        m = len(names)
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (m,)).copy())
        self._lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (m,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (m,)).copy())
        self._integer.append(np.full(m, 1 if integer else 0, dtype=np.int32))
        self._period.append(np.broadcast_to(np.asarray(period, dtype=np.int64), (m,)).copy())
        self.names.extend(names)
        self.blocks[name] = slice(self.n, self.n + m)
        self.n += m
        return np.arange(self.n - m, self.n)

    def block(self, name: str) -> np.ndarray:
        s = self.blocks.get(name, slice(0, 0))
        return np.arange(s.start, s.stop)

    def cost(self) -> np.ndarray:
        return np.concatenate(self._cost) if self._cost else np.zeros(0)

    def lower(self) -> np.ndarray:
        return np.concatenate(self._lower) if self._lower else np.zeros(0)

    def upper(self) -> np.ndarray:
        return np.concatenate(self._upper) if self._upper else np.zeros(0)

    def period(self) -> np.ndarray:
        return np.concatenate(self._period) if self._period else np.zeros(0, dtype=np.int64)

    def integrality(self) -> np.ndarray:
        return np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=np.int32)
