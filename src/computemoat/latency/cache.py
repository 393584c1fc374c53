"""A content-addressed disk cache for LEO window statistics.

A day of snapshots over the bundled scenario costs seconds of Dijkstra, and every `plan`, `replan`,
`simulate` and `dashboard` of the same scenario asks for the same numbers. The key is a SHA-256 of
everything the statistics depend on: the ground points, the network settings, the bytes of a TLE
file when one is used, and the source of this package (so a code change never reads an old answer).
Entries are ``.npz`` files written atomically (temp file + rename), so parallel runs never read half
a file. ``COMPUTEMOAT_CACHE_DIR`` moves the cache; ``COMPUTEMOAT_CACHE_DIR=off`` disables it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from computemoat.latency.constellation import FloatArray
from computemoat.latency.stats import LeoStats
from computemoat.model.network import NetworkSettings

ENV_CACHE_DIR = "COMPUTEMOAT_CACHE_DIR"
_FIELDS = ("min_ms", "median_ms", "p95_ms", "max_ms", "outage_fraction")


def cache_dir() -> Path | None:
    """Where entries live (None: caching is off)."""
    raw = os.environ.get(ENV_CACHE_DIR)
    if raw is not None and raw.strip().lower() in ("off", "0", "none", ""):
        return None
    if raw:
        return Path(raw)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "computemoat" / "leo"


@functools.cache
def _code_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(stations: tuple[FloatArray, FloatArray], users: tuple[FloatArray, FloatArray],
              network: NetworkSettings) -> str:
    h = hashlib.sha256(_code_digest().encode())
    for arr in (*stations, *users):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        h.update(b"|")
    h.update(network.model_dump_json().encode())
    if network.tle_file:
        try:
            h.update(Path(network.tle_file).read_bytes())
        except OSError:
            h.update(b"unreadable")  # the loader reports it; never a cache hit for a missing file
    return h.hexdigest()


def cached_stats(key: str, compute: Callable[[], LeoStats], on_hit: Callable[[], None] | None = None) -> LeoStats:
    """``compute()``, or its earlier result under ``key``; a broken or unwritable cache only costs time."""
    root = cache_dir()
    if root is None:
        return compute()
    path = root / f"{key}.npz"
    try:
        with np.load(path) as z:
            hit = LeoStats(*(np.array(z[f]) for f in _FIELDS))
        if on_hit is not None:
            on_hit()
        return hit
    except (OSError, KeyError, ValueError):
        pass
    stats = compute()
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{name: getattr(stats, name) for name in _FIELDS})
        os.replace(tmp, path)
    except OSError:
        pass
    return stats
