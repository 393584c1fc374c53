"""Random streams keyed by what they drive (a site, a job, a replica), so common random numbers hold:
two grid points, or two plans, that share a site see the same outages of it, and a job keeps its own
failure draws wherever the others run. Keys are hashed with CRC-32 (stable across processes and
Python versions, unlike ``hash``) into a ``numpy.random.SeedSequence`` spawn key."""

from __future__ import annotations

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


class Arrivals:
    """A Poisson process of rate ``rate_per_ns`` (which may change) read forward in time; each arrival
    carries a uniform ``u`` (to pick its kind or victim) and a unit exponential ``v`` (its duration).

    Arrivals are unit exponential gaps in *exposure* (rate x time), so a change of rate, or reading the
    process in different slices, keeps the same underlying draws: the time change that makes Poisson
    processes of different rates share their randomness. Draws come in fixed blocks, so the values never
    depend on how the process is read."""

    def __init__(self, rng: np.random.Generator, rate_per_ns: float = 0.0) -> None:
        self.rng = rng
        self.rate_per_ns = rate_per_ns
        self._gaps = np.zeros(0)
        self._u = np.zeros(0)
        self._v = np.zeros(0)
        self._have = 0.0
        self._block()

    def _block(self) -> None:
        g = self.rng.standard_exponential(CHUNK)
        self._gaps = np.concatenate((self._gaps, g))
        self._u = np.concatenate((self._u, self.rng.random(CHUNK)))
        self._v = np.concatenate((self._v, self.rng.standard_exponential(CHUNK)))
        self._have += float(g.sum())

    def take(self, t0_ns: int, t1_ns: int) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Arrivals in ``[t0_ns, t1_ns)`` (times sorted, u, v); the process then stands at ``t1_ns``."""
        if self.rate_per_ns <= 0 or t1_ns <= t0_ns:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        exposure = self.rate_per_ns * (t1_ns - t0_ns)
        while self._have <= exposure:
            self._block()
        cum = np.cumsum(self._gaps)
        m = int(np.searchsorted(cum, exposure, side="left"))
        times = t0_ns + np.minimum((cum[:m] / self.rate_per_ns).astype(np.int64), t1_ns - t0_ns - 1)
        u, v = self._u[:m], self._v[:m]
        self._gaps, self._u, self._v = self._gaps[m:].copy(), self._u[m:], self._v[m:]
        self._gaps[0] = cum[m] - exposure
        self._have = float(cum[-1] - exposure)
        return times, u, v
