"""Round-trip times over a LEO constellation: one sparse graph per snapshot, C Dijkstra from every
ground station (scipy.sparse.csgraph), then order statistics over the time window.

Graph of one snapshot (node ids): satellites ``[0, N)``, ground stations ``[N, N+G)``, user
terminals ``[N+G, N+G+U)``. Edges: laser links both ways; station -> satellite; satellite -> user.
Ground nodes have no way back into the sky, so a path never relays through another station or
user (Hypatia's default: ground stations are endpoints, not relays). Edge weights are one-way km;
the per-satellite processing time is folded in as the km light covers in half of it, on every edge
that enters a satellite, so Dijkstra minimises the RTT actually reported. Users are sinks, so
Dijkstra runs on satellites + stations and each user's last hop is a vectorized minimum.
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
    ground indices (ascending), satellite indices and slant ranges in km.

    A k-d tree over directions finds the candidates (a satellite at radius r is seen at elevation
    >= E only within the central angle ``acos(R cos E / r) - E``; the highest satellite bounds it),
    so the exact elevation test runs on a few satellites per ground point instead of all of them."""
    if len(ground_xyz_km) == 0 or len(sat_xyz_km) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    from scipy.spatial import cKDTree

    elev = np.radians(min_elevation_deg)
    g_norm = np.linalg.norm(ground_xyz_km, axis=1)
    s_norm = np.linalg.norm(sat_xyz_km, axis=1)
    reach_rad = np.arccos(np.clip(g_norm.min() * np.cos(elev) / s_norm.max(), -1.0, 1.0)) - elev
    chord = 2 * np.sin(min(max(reach_rad, 0.0), np.pi) / 2) + 1e-9
    pairs = cKDTree(ground_xyz_km / g_norm[:, None]).sparse_distance_matrix(
        cKDTree(sat_xyz_km / s_norm[:, None]), chord, output_type="ndarray"
    )
    order = np.lexsort((pairs["j"], pairs["i"]))
    g_idx, s_idx = pairs["i"][order].astype(np.int64), pairs["j"][order].astype(np.int64)
    los = sat_xyz_km[s_idx] - ground_xyz_km[g_idx]
    slant_km = np.linalg.norm(los, axis=1)
    # sin(elevation) = (sat - ground) . up / |sat - ground|, with up = ground / |ground|
    height_km = np.einsum("ij,ij->i", los, ground_xyz_km[g_idx]) / g_norm[g_idx]
    keep = height_km >= np.sin(elev) * slant_km
    return g_idx[keep], s_idx[keep], slant_km[keep]


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
    ``inf`` where no satellite path exists. Shortest paths on :func:`snapshot_graph`, computed in
    two steps because users are sinks of it: C Dijkstra from each station over satellites and
    stations only, then each user's best last hop as one vectorized min over its visible satellites."""
    n, g, u = len(sat_xyz_km), len(station_xyz_km), len(user_xyz_km)
    out = np.full((u, g), np.inf)
    if g == 0 or u == 0:
        return out
    no_users = np.empty((0, 3))
    graph = snapshot_graph(sat_xyz_km, isl_a, isl_b, station_xyz_km, no_users, network)
    to_sat_km = dijkstra(graph, directed=True, indices=np.arange(n, n + g))[:, :n]  # (G, N)
    u_idx, s_idx, last_km = ground_links(user_xyz_km, sat_xyz_km, network.min_elevation_deg)
    if len(u_idx) == 0:
        return out
    users_seen, starts = np.unique(u_idx, return_index=True)  # u_idx is ascending
    from_sat_km = np.ascontiguousarray(to_sat_km.T)  # (N, G): one row gather per user link
    block = max(1, _MIN_PLUS_BLOCK // len(u_idx))  # bound the (links x stations) temporary
    for lo in range(0, g, block):
        total_km = from_sat_km[s_idx, lo : lo + block] + last_km[:, None]
        out[users_seen, lo : lo + block] = vacuum_rtt_ms(np.minimum.reduceat(total_km, starts, axis=0))
    return out


_MIN_PLUS_BLOCK = 4_000_000  # floats per block of the last-hop minimum (32 MB)


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
