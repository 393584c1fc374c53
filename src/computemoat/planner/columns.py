"""A column allocator for the MILP: named blocks of columns with cost, bounds, integrality and names.

Each block is one kind of decision variable (:class:`Block`); families of constraints address columns
through ``cols[Block.y]`` instead of hand-counted offsets, and names are built only when asked for
(a 10,000-workload model has millions of assignment columns)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import numpy as np


class Block(StrEnum):
    x = "x"  # training candidate chosen (binary)
    y = "y"  # replicas of a service at an offering (integer)
    n = "n"  # whole instances of a replica variable whose replicas share instances (integer)
    z = "z"  # requests/s of a demand row served by a site under a failure set
    T = "T"  # total spend, USD (provider share caps)
    G = "G"  # total GPUs rented (provider share caps)
    s = "s"  # job not placed (partial plans, binary)
    w = "w"  # requests/s not served (partial plans)
    m = "m"  # replica variable changed from the current plan (replan, binary)


Names = Callable[[], list[str]]


class Columns:
    """Blocks appended in order; ``cols[b]`` is the slice of block ``b`` (empty when never added)."""

    def __init__(self) -> None:
        self.cost: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.blocks: dict[Block, slice] = {}
        self._names: list[tuple[int, Names]] = []
        self.n = 0

    def add(
        self,
        block: Block,
        count: int,
        names: Names,
        *,
        cost: np.ndarray | float = 0.0,
        lower: np.ndarray | float = 0.0,
        upper: np.ndarray | float = np.inf,
        integer: bool = False,
    ) -> np.ndarray:
        """Append ``count`` columns as ``block``; returns their indices."""
        self.blocks[block] = slice(self.n, self.n + count)
        for dest, value in ((self.cost, cost), (self.lower, lower), (self.upper, upper)):
            dest.append(np.broadcast_to(np.asarray(value, dtype=float), (count,)).copy())
        self.integer.append(np.full(count, 1 if integer else 0, dtype=np.int32))
        self._names.append((count, names))
        self.n += count
        return np.arange(self.n - count, self.n)

    def __getitem__(self, block: Block) -> slice:
        return self.blocks.get(block, slice(self.n, self.n))

    def idx(self, block: Block) -> np.ndarray:
        s = self[block]
        return np.arange(s.start, s.stop)

    def names(self) -> list[str]:
        out: list[str] = []
        for count, make in self._names:
            got = make()
            assert len(got) == count
            out.extend(got)
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cost, lower, upper, integrality) over every column."""

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return cat(self.cost, float), cat(self.lower, float), cat(self.upper, float), cat(self.integer, np.int32)
