"""Round-trip times over a LEO constellation: one sparse graph per snapshot, C Dijkstra from every
ground station at once (scipy.sparse.csgraph), then order statistics over the time window.

Graph of one snapshot (node ids): satellites ``[0, N)``, ground stations ``[N, N+G)``, user
terminals ``[N+G, N+G+U)``. Edges: laser links both ways; station -> satellite; satellite -> user.
Ground nodes have no way back into the sky, so a path never relays through another station or
user (Hypatia's default: ground stations are endpoints, not relays). Edge weights are one-way km;
the per-satellite processing time is folded in as the km light covers in half of it, on every edge
that enters a satellite, so Dijkstra minimises the RTT actually reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from computemoat.latency.constellation import Constellation, FloatArray, IntArray, WalkerShell, plus_grid_isls
from computemoat.latency.geo import EARTH_MEAN_RADIUS_KM, MS_PER_S, ground_ecef_km, vacuum_rtt_ms
from computemoat.model.network import C_VACUUM_KM_PER_S, NetworkSettings

Progress = Callable[[int, int], None]


def constellation_for(network: NetworkSettings) -> Constellation:
    """The Walker shell of the settings, or the satellites of ``network.tle_file`` when given."""
    shell = network.leo_shell
    if network.tle_file:
        from computemoat.latency.tle import load_tle_file

        return load_tle_file(network.tle_file, shell.planes, shell.sats_per_plane)
    return WalkerShell.from_settings(shell)


def snapshot_times_s(network: NetworkSettings) -> FloatArray:
    """Start of each snapshot in the window: 0, step, ... (< window); 600 s / 10 s -> 60 snapshots."""
    return np.arange(0, network.leo_window_s, network.leo_step_s, dtype=np.float64)


def hop_km(network: NetworkSettings) -> float:
    """One-way km equivalent to the per-satellite processing time (which is given as RTT)."""
    return network.leo_hop_processing_ms / MS_PER_S * C_VACUUM_KM_PER_S / 2


def ground_links(
    ground_xyz_km: FloatArray, sat_xyz_km: FloatArray, min_elevation_deg: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every (ground point, satellite) pair with the satellite at or above ``min_elevation_deg``:
    ground indices, satellite indices and slant ranges in km."""
    g_norm = np.linalg.norm(ground_xyz_km, axis=1)
    dot = ground_xyz_km @ sat_xyz_km.T  # (M, N)
    range2 = g_norm[:, None] ** 2 + np.einsum("ij,ij->i", sat_xyz_km, sat_xyz_km)[None, :] - 2 * dot
    slant_km = np.sqrt(np.maximum(range2, 0.0))
    # sin(elevation) = (sat - ground) . up / |sat - ground|, with up = ground / |ground|
    height_km = dot / g_norm[:, None] - g_norm[:, None]
    visible = height_km >= np.sin(np.radians(min_elevation_deg)) * slant_km
    g_idx, s_idx = np.nonzero(visible)
    return g_idx.astype(np.int64), s_idx.astype(np.int64), slant_km[g_idx, s_idx]


def isl_lengths_km(
    sat_xyz_km: FloatArray, isl_a: IntArray, isl_b: IntArray, max_isl_km: float | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """Laser links that exist in this snapshot: not longer than ``max_isl_km`` and not cut by the
    Earth (the chord's closest point to the centre stays above the surface)."""
    pa, pb = sat_xyz_km[isl_a], sat_xyz_km[isl_b]
    d = pb - pa
    length = np.linalg.norm(d, axis=1)
    t = np.clip(-np.einsum("ij,ij->i", pa, d) / np.maximum(length**2, 1e-12), 0.0, 1.0)
    closest_km = np.linalg.norm(pa + t[:, None] * d, axis=1)
    keep = closest_km > EARTH_MEAN_RADIUS_KM
    if max_isl_km is not None:
        keep &= length <= max_isl_km
    return isl_a[keep], isl_b[keep], length[keep]


def snapshot_graph(
    sat_xyz_km: FloatArray,
    isl_a: IntArray,
    isl_b: IntArray,
    station_xyz_km: FloatArray,
    user_xyz_km: FloatArray,
    network: NetworkSettings,
) -> sp.csr_array:
    """The directed graph of one snapshot (node layout in the module docstring), weights in km."""
    n, g, u = len(sat_xyz_km), len(station_xyz_km), len(user_xyz_km)
    extra = hop_km(network)
    a, b, isl_km = isl_lengths_km(sat_xyz_km, isl_a, isl_b, network.max_isl_km)
    gs_g, gs_s, gs_km = ground_links(station_xyz_km, sat_xyz_km, network.min_elevation_deg)
    ut_u, ut_s, ut_km = ground_links(user_xyz_km, sat_xyz_km, network.min_elevation_deg)
    rows = np.concatenate([a, b, n + gs_g, ut_s])
    cols = np.concatenate([b, a, gs_s, n + g + ut_u])
    # a zero weight would read as "no edge" in a sparse matrix; real lengths are far above 1e-9 km
    weights = np.concatenate([isl_km + extra, isl_km + extra, gs_km + extra, ut_km])
    size = n + g + u
    return sp.csr_array((np.maximum(weights, 1e-9), (rows, cols)), shape=(size, size))


def snapshot_rtt_ms(
    sat_xyz_km: FloatArray,
    isl_a: IntArray,
    isl_b: IntArray,
    station_xyz_km: FloatArray,
    user_xyz_km: FloatArray,
    network: NetworkSettings,
) -> FloatArray:
    """RTT (ms) from every user terminal to every ground station in one snapshot, shape (U, G);
    ``inf`` where no satellite path exists."""
    n, g = len(sat_xyz_km), len(station_xyz_km)
    if g == 0 or len(user_xyz_km) == 0:
        return np.full((len(user_xyz_km), g), np.inf)
    graph = snapshot_graph(sat_xyz_km, isl_a, isl_b, station_xyz_km, user_xyz_km, network)
    dist_km = dijkstra(graph, directed=True, indices=np.arange(n, n + g))  # (G, size)
    return vacuum_rtt_ms(dist_km[:, n + g :].T)


@dataclass(frozen=True, eq=False)
class LeoStats:
    """Per (user, station) pair over the snapshots of the window. Order statistics (no interpolation)
    with an unreachable snapshot counted as +inf, so p95 is +inf once 5% or more of snapshots have
    no path (the planner must not promise an SLO the constellation misses that often)."""

    min_ms: FloatArray
    median_ms: FloatArray
    p95_ms: FloatArray
    max_ms: FloatArray
    outage_fraction: FloatArray

    @classmethod
    def from_series(cls, rtt_ms: FloatArray) -> LeoStats:
        """``rtt_ms`` has time as its first axis."""
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


def leo_rtt_stats(
    station_lat_lon_deg: tuple[FloatArray, FloatArray],
    user_lat_lon_deg: tuple[FloatArray, FloatArray],
    network: NetworkSettings,
    *,
    constellation: Constellation | None = None,
    progress: Progress | None = None,
) -> LeoStats:
    """LEO RTT statistics users x stations over the window of ``network`` (one Dijkstra batch per
    snapshot); ``progress(done, total)`` is called after each snapshot."""
    sats = constellation or constellation_for(network)
    times = snapshot_times_s(network)
    positions = sats.positions_ecef_km(times)
    isl_a, isl_b = plus_grid_isls(sats.planes, sats.sats_per_plane)
    station_xyz = ground_ecef_km(*station_lat_lon_deg).reshape(-1, 3)
    user_xyz = ground_ecef_km(*user_lat_lon_deg).reshape(-1, 3)
    series = np.empty((len(times), len(user_xyz), len(station_xyz)))
    for i in range(len(times)):
        series[i] = snapshot_rtt_ms(positions[i], isl_a, isl_b, station_xyz, user_xyz, network)
        if progress is not None:
            progress(i + 1, len(times))
    return LeoStats.from_series(series)
