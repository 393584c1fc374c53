"""RTT statistics over a time window, kept as a stream: one snapshot at a time goes in, memory is
users x stations x bins, never time x users x stations.

min, max and the outage fraction are exact. Quantiles come from a per-pair histogram on a
geometric grid anchored at the pair's physical lower bound ``L`` (bin ``b`` holds
``[L (1+d)^b, L (1+d)^(b+1))``, d = 0.2 %): a quantile is reported as the upper edge of its bin,
clipped to the exact min and max, so it is never below the exact order statistic and at most 0.2 %
above it. Values beyond the grid (``L x 3.6``) land in an overflow bin whose quantile is reported as
the exact max (an upper bound). Unreachable snapshots count as ``+inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from computemoat.latency.constellation import FloatArray

BIN_RATIO = 0.002  # relative width of a histogram bin: a quantile is at most 0.2 % high
BINS = 640  # (1.002)^640 = 3.59: paths up to 3.6 x the pair's lower bound are binned
_LOG_STEP = math.log1p(BIN_RATIO)
_CUMSUM_BLOCK = 4_000_000  # histogram cells per block when reading quantiles (16 MB of int32)


@dataclass(frozen=True, eq=False)
class LeoStats:
    """Per (user, station) pair over the snapshots of the window. Order statistics (numpy's
    ``method="higher"``) with an unreachable snapshot counted as +inf, so p95 is +inf once 5% or
    more of snapshots have no path (the planner must not promise an SLO the constellation misses
    that often)."""

    min_ms: FloatArray
    median_ms: FloatArray
    p95_ms: FloatArray
    max_ms: FloatArray
    outage_fraction: FloatArray

    @classmethod
    def from_series(cls, rtt_ms: FloatArray) -> LeoStats:
        """Exact statistics of a series held in memory; ``rtt_ms`` has time as its first axis."""
        if rtt_ms.shape[0] == 0:
            raise ValueError("no snapshots")
        quant = np.quantile(rtt_ms, [0.5, 0.95], axis=0, method="higher")
        return cls(
            min_ms=rtt_ms.min(axis=0),
            median_ms=quant[0],
            p95_ms=quant[1],
            max_ms=rtt_ms.max(axis=0),
            outage_fraction=np.mean(~np.isfinite(rtt_ms), axis=0),
        )

    @classmethod
    def concat(cls, parts: list[LeoStats], axis: int) -> LeoStats:
        """Stats of disjoint pair blocks side by side (e.g. station groups computed apart)."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts], axis=axis) for f in _FIELDS))


_FIELDS = ("min_ms", "median_ms", "p95_ms", "max_ms", "outage_fraction")


class StreamStats:
    """Accumulates snapshots ``(U, G)`` of RTT ms; :meth:`result` gives the :class:`LeoStats`."""

    def __init__(self, lower_bound_ms: FloatArray, expected_snapshots: int) -> None:
        self.anchor_ms = np.maximum(np.asarray(lower_bound_ms, dtype=np.float64), 1e-3)
        shape = self.anchor_ms.shape
        self.count = 0
        self.min_ms = np.full(shape, np.inf)
        self.max_ms = np.full(shape, -np.inf)
        self.outages = np.zeros(shape, dtype=np.int32)
        dtype = np.uint16 if expected_snapshots < np.iinfo(np.uint16).max else np.uint32
        self.hist = np.zeros((*shape, BINS + 1), dtype=dtype)  # last bin: overflow
        self._flat_base = np.arange(self.anchor_ms.size, dtype=np.int64) * (BINS + 1)

    def add(self, rtt_ms: FloatArray) -> None:
        self.count += 1
        np.minimum(self.min_ms, rtt_ms, out=self.min_ms)
        finite = np.isfinite(rtt_ms)
        np.maximum(self.max_ms, np.where(finite, rtt_ms, -np.inf), out=self.max_ms)  # finite max
        self.outages += ~finite
        ratio = np.where(finite, rtt_ms, self.anchor_ms) / self.anchor_ms
        b = np.clip(np.floor(np.log(np.maximum(ratio, 1.0)) / _LOG_STEP), 0, BINS).astype(np.int64)
        cells = (self._flat_base + b.ravel())[finite.ravel()]
        self.hist.reshape(-1)[cells] += 1  # one value per pair, so no index repeats

    def quantile_ms(self, q: float) -> FloatArray:
        """numpy ``method="higher"`` order statistic, from the histogram (see the module docstring)."""
        need = math.ceil(q * (self.count - 1)) + 1  # 1-based rank of the order statistic
        flat_hist = self.hist.reshape(-1, BINS + 1)
        bins = np.empty(len(flat_hist), dtype=np.int64)
        block = max(1, _CUMSUM_BLOCK // (BINS + 1))
        for lo in range(0, len(flat_hist), block):
            cum = np.cumsum(flat_hist[lo : lo + block], axis=1, dtype=np.int32)
            bins[lo : lo + block] = np.argmax(cum >= need, axis=1)
            bins[lo : lo + block][cum[:, -1] < need] = -1  # rank falls among the unreachable snapshots
        grid = bins.reshape(self.anchor_ms.shape)
        upper = self.anchor_ms * np.exp((grid + 1) * _LOG_STEP)
        value = np.clip(np.where(grid == BINS, self.max_ms, upper), self.min_ms, np.maximum(self.max_ms, self.min_ms))
        return np.where(grid < 0, np.inf, value)

    def result(self) -> LeoStats:
        if self.count == 0:
            raise ValueError("no snapshots")
        max_ms = np.where(self.outages > 0, np.inf, self.max_ms)
        return LeoStats(
            min_ms=self.min_ms.copy(),
            median_ms=self.quantile_ms(0.5),
            p95_ms=self.quantile_ms(0.95),
            max_ms=max_ms,
            outage_fraction=self.outages / self.count,
        )
