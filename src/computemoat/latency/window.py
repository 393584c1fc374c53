"""The LEO RTT over time: statistics over a window (streamed, spread over the CPU cores) and raw
time series at arbitrary (fractional) times.

Parallelism is by ground station: each worker process runs every snapshot for its share of the
stations as Dijkstra sources (every station is still in its graph, so relays through the others
stay possible; the work splits evenly and nothing is exchanged but the final statistics);
satellite positions and ground links are recomputed in each worker, which is cheap next to the
shortest paths. Small jobs stay in the calling process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from computemoat.latency.constellation import Constellation, FloatArray
from computemoat.latency.geo import EARTH_MEAN_RADIUS_KM, great_circle_km, vacuum_rtt_ms
from computemoat.latency.leo import Ground, Progress, snapshot_rtt_ms, snapshot_times_s
from computemoat.latency.shells import constellation_for
from computemoat.latency.stats import LeoStats, StreamStats
from computemoat.model.network import EarthModel, NetworkSettings

LatLon = tuple[FloatArray, FloatArray]
_TIME_BLOCK = 32  # snapshots whose positions are computed in one numpy call
# station x satellite x snapshot products above which worker processes pay for their start
PARALLEL_MIN_WORK = 5_000_000

__all__ = ["LeoStats", "leo_rtt_series_ms", "leo_rtt_stats", "lower_bound_ms"]


def lower_bound_ms(stations: LatLon, users: LatLon, network: NetworkSettings, min_radius_km: float) -> FloatArray:
    """A floor under every LEO RTT users x stations: light along the great circle, or up to the
    lowest shell and down again, whichever is longer, plus the access overhead."""
    arc_ms = vacuum_rtt_ms(great_circle_km(users[0][:, None], users[1][:, None], stations[0][None, :],
                                           stations[1][None, :]))
    up_down_ms = float(vacuum_rtt_ms(2 * max(min_radius_km - EARTH_MEAN_RADIUS_KM, 0.0)))
    return np.maximum(arc_ms, up_down_ms) + network.leo_access_overhead_ms


def _grounds(stations: LatLon, users: LatLon, earth: EarthModel) -> tuple[Ground, Ground]:
    return Ground.at(*stations, earth), Ground.at(*users, earth)


def leo_rtt_stats(
    station_lat_lon_deg: tuple[FloatArray, FloatArray],
    user_lat_lon_deg: tuple[FloatArray, FloatArray],
    network: NetworkSettings,
    *,
    constellation: Constellation | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> LeoStats:
    """LEO RTT statistics users x stations over the window of ``network`` (one Dijkstra batch per
    snapshot, statistics streamed); ``progress(done, total)`` is called as snapshots complete.
    ``workers``: processes to use (default: every core the process may run on, for large jobs)."""
    sats = constellation or constellation_for(network)
    stations = tuple(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in station_lat_lon_deg)
    users = tuple(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in user_lat_lon_deg)
    st_ll: LatLon = (stations[0], stations[1])
    us_ll: LatLon = (users[0], users[1])
    times = snapshot_times_s(network)
    n_st = len(st_ll[0])
    n = _worker_count(workers, len(times) * n_st * sats.n_sats, n_st)
    if n <= 1:
        return _window_stats(sats, times, st_ll, us_ll, network, progress)
    groups = [g for g in np.array_split(np.arange(n_st), n) if len(g)]
    return _parallel_stats(sats, times, st_ll, us_ll, network, progress, groups)


def _worker_count(requested: int | None, work: int, n_stations: int) -> int:
    if requested is not None:
        return max(1, min(requested, n_stations))
    if work < PARALLEL_MIN_WORK:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, n_stations))


def _window_stats(
    sats: Constellation, times: FloatArray, stations: LatLon, users: LatLon, network: NetworkSettings,
    progress: Progress | None, sources: np.ndarray | None = None,
) -> LeoStats:
    """Stats users x stations (x ``sources`` of the stations only; every station still relays)."""
    st, us = _grounds(stations, users, network.earth_model)
    isl_a, isl_b = sats.isl_pairs()
    src = np.arange(len(st)) if sources is None else sources
    bound = lower_bound_ms((stations[0][src], stations[1][src]), users, network, sats.min_radius_km)
    stream = StreamStats(bound, len(times))
    for lo in range(0, len(times), _TIME_BLOCK):
        positions = sats.positions_ecef_km(times[lo : lo + _TIME_BLOCK])
        for i, pos in enumerate(positions):
            stream.add(snapshot_rtt_ms(pos, isl_a, isl_b, st, us, network, src))
            if progress is not None:
                progress(lo + i + 1, len(times))
    return stream.result()


_QUEUE: Any = None  # the worker's progress queue, set by _init_worker


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue


def _worker_stats(
    sats: Constellation, times: FloatArray, stations: LatLon, users: LatLon, network: NetworkSettings,
    sources: np.ndarray,
) -> LeoStats:
    def report(done: int, total: int) -> None:
        if _QUEUE is not None:
            _QUEUE.put(1)

    return _window_stats(sats, times, stations, users, network, report, sources)


def _parallel_stats(
    sats: Constellation, times: FloatArray, stations: LatLon, users: LatLon, network: NetworkSettings,
    progress: Progress | None, groups: list[np.ndarray],
) -> LeoStats:
    import multiprocessing as mp
    import queue as queue_mod

    # fork: workers start in milliseconds with everything imported, and never re-run the caller's
    # __main__ (spawn and forkserver do, which breaks scripts without a main guard)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    q = ctx.Queue()
    with ProcessPoolExecutor(len(groups), mp_context=ctx, initializer=_init_worker, initargs=(q,)) as pool:
        futures: list[Future[LeoStats]] = [
            pool.submit(_worker_stats, sats, times, stations, users, network, g) for g in groups
        ]
        done = 0
        while not all(f.done() for f in futures):
            try:
                q.get(timeout=0.1)
                done += 1
                if progress is not None:
                    progress(min(done // len(groups), len(times) - 1), len(times))
            except queue_mod.Empty:
                pass
        parts = [f.result() for f in futures]
    if progress is not None:
        progress(len(times), len(times))
    return LeoStats.concat(parts, axis=1)


def leo_rtt_series_ms(
    station_lat_lon_deg: tuple[ArrayLike, ArrayLike],
    user_lat_lon_deg: tuple[ArrayLike, ArrayLike],
    times_s: Sequence[float] | FloatArray,
    network: NetworkSettings,
    *,
    constellation: Constellation | None = None,
) -> FloatArray:
    """RTT (ms) users x stations at each of ``times_s`` (seconds after t=0, any fraction), shape
    ``(T, U, G)``; ``inf`` where there is no path. For a few pairs at many times, the companion of
    :func:`leo_rtt_stats`."""
    sats = constellation or constellation_for(network)
    st_ll = (np.atleast_1d(np.asarray(station_lat_lon_deg[0], np.float64)),
             np.atleast_1d(np.asarray(station_lat_lon_deg[1], np.float64)))
    us_ll = (np.atleast_1d(np.asarray(user_lat_lon_deg[0], np.float64)),
             np.atleast_1d(np.asarray(user_lat_lon_deg[1], np.float64)))
    st, us = _grounds(st_ll, us_ll, network.earth_model)
    isl_a, isl_b = sats.isl_pairs()
    times = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
    out = np.empty((len(times), len(us), len(st)))
    for lo in range(0, len(times), _TIME_BLOCK):
        for i, pos in enumerate(sats.positions_ecef_km(times[lo : lo + _TIME_BLOCK])):
            out[lo + i] = snapshot_rtt_ms(pos, isl_a, isl_b, st, us, network)
    return out
