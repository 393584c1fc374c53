"""Random streams keyed by what they drive (a site, a job, a replica), so common random numbers hold:
two grid points, or two plans, that share a site see the same outages of it, and a job keeps its own
failure draws wherever the others run. Keys are hashed with CRC-32 (stable across processes and
Python versions, unlike ``hash``) into a ``numpy.random.SeedSequence`` spawn key."""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import NDArray

CHUNK = 64  # exponential gaps drawn at a time; fixed, so a stream's values never depend on how it is read


def stream(seed: int, *key: str) -> np.random.Generator:
    """The generator for ``key`` under ``seed``: independent of every other key, reproducible."""
    words = tuple(zlib.crc32(k.encode("utf-8")) for k in key)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=words)))


class Arrivals:
    """A Poisson process of rate ``rate_per_ns`` (which may change) read forward in time.

    Arrivals are unit exponential gaps in *exposure* (rate x time), so a change of rate, or reading the
    process in different slices, keeps the same underlying draws: the time change that makes Poisson
    processes of different rates share their randomness."""

    def __init__(self, rng: np.random.Generator, rate_per_ns: float = 0.0) -> None:
        self.rng = rng
        self.rate_per_ns = rate_per_ns
        self._gaps: NDArray[np.float64] = rng.standard_exponential(CHUNK)

    def take(self, t0_ns: int, t1_ns: int) -> NDArray[np.int64]:
        """Arrival times in ``[t0_ns, t1_ns)``, sorted; the process then stands at ``t1_ns``."""
        if self.rate_per_ns <= 0 or t1_ns <= t0_ns:
            return np.zeros(0, dtype=np.int64)
        exposure = self.rate_per_ns * (t1_ns - t0_ns)
        while float(self._gaps.sum()) <= exposure:
            self._gaps = np.concatenate((self._gaps, self.rng.standard_exponential(CHUNK)))
        cum = np.cumsum(self._gaps)
        m = int(np.searchsorted(cum, exposure, side="left"))
        times = t0_ns + np.minimum((cum[:m] / self.rate_per_ns).astype(np.int64), t1_ns - t0_ns - 1)
        rest = self._gaps[m:].copy()
        rest[0] = cum[m] - exposure
        self._gaps = rest
        return times
