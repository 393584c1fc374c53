"""Random streams keyed by what they drive (a site, a job, a replica), so common random numbers hold:
two grid points, or two plans, that share a site see the same outages of it, and a job keeps its own
failure draws wherever the others run. Keys are hashed with CRC-32 (stable across processes and
Python versions, unlike ``hash``) into a ``numpy.random.SeedSequence`` spawn key."""

from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

CHUNK = 256  # arrivals drawn ahead, in blocks of this size


def stream(seed: int, *key: str) -> np.random.Generator:
    """The generator for ``key`` under ``seed``: independent of every other key, reproducible."""
    words = _words(key)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=words)))


@lru_cache(maxsize=4096)
def _words(key: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(zlib.crc32(k.encode("utf-8")) for k in key)


def unit_exponential(r: NDArray[np.float64]) -> NDArray[np.float64]:
    """-ln(1 - r): a unit exponential from a uniform on [0, 1) (inversion)."""
    return -np.log1p(-r)


def pick(edges: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.intp]:
    """Index of the share each uniform ``u`` falls in (``searchsorted(edges, u, "right")``): with the
    few edges of a job's failure kinds, one comparison pass per edge beats a binary search per draw."""
    if edges.size > 4:
        return np.searchsorted(edges, u, side="right")
    out = np.zeros(u.size, dtype=np.intp)
    for e in edges.tolist():
        out += u >= e
    return out


class Arrivals:
    """A Poisson process of rate ``rate_per_ns`` (which may change) read forward in time; each arrival
    carries a uniform ``u`` (to pick its kind or victim) and a uniform ``r`` for its duration (a unit
    exponential is ``unit_exponential(r)``, taken only by the callers that need durations).

    Arrivals are unit exponential gaps in *exposure* (rate x time), so a change of rate, or reading the
    process in different slices, keeps the same underlying draws: the time change that makes Poisson
    processes of different rates share their randomness. Draws come in fixed blocks of ``CHUNK``
    arrivals (3 x CHUNK uniforms: gaps by inversion, then ``u``, then ``r``), and enough blocks for a
    whole read are drawn in one call: the values never depend on how the process is read, and a year of
    a large job costs one draw, not one per block."""

    def __init__(self, rng: np.random.Generator, rate_per_ns: float = 0.0) -> None:
        self.rng = rng
        self.rate_per_ns = rate_per_ns
        self._cum = np.zeros(0)  # cumulative exposure of the arrivals not yet read, from the process's "now"
        self._u = np.zeros(0)
        self._r = np.zeros(0)

    def _blocks(self, exposure: float) -> None:
        """Draw whole blocks until the buffer covers ``exposure`` (a Poisson count's mean + 3 sd ahead,
        then more in the rare case that falls short)."""
        while self._cum.size == 0 or self._cum[-1] <= exposure:
            have = float(self._cum[-1]) if self._cum.size else 0.0
            short = exposure - have
            n = max(1, math.ceil((short + 3.0 * math.sqrt(max(short, 1.0))) / CHUNK))
            gaps, u, r = self.rng.random((n, 3, CHUNK)).transpose(1, 0, 2).reshape(3, n * CHUNK)  # one copy
            cum = np.cumsum(unit_exponential(gaps))
            if self._cum.size:
                self._cum = np.concatenate((self._cum, have + cum))
                self._u = np.concatenate((self._u, u))
                self._r = np.concatenate((self._r, r))
            else:
                self._cum, self._u, self._r = cum, u, r

    def take(self, t0_ns: int, t1_ns: int) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Arrivals in ``[t0_ns, t1_ns)`` (times sorted, u, r); the process then stands at ``t1_ns``."""
        if self.rate_per_ns <= 0 or t1_ns <= t0_ns:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        exposure = self.rate_per_ns * (t1_ns - t0_ns)
        self._blocks(exposure)
        cum = self._cum
        m = int(np.searchsorted(cum, exposure, side="left"))
        times = (cum[:m] / self.rate_per_ns).astype(np.int64)
        if m:  # cum[:m] < exposure, so only rounding can reach t1: the last arrival is the latest
            times[-1] = min(int(times[-1]), t1_ns - t0_ns - 1)
        times += t0_ns
        u, r = self._u[:m], self._r[:m]
        self._cum, self._u, self._r = cum[m:] - exposure, self._u[m:], self._r[m:]
        return times, u, r
