"""Round-trip times over a LEO constellation: one sparse graph per snapshot, C Dijkstra from every
ground station (scipy.sparse.csgraph), statistics streamed over the window (stats.py), snapshots
spread over the CPU cores by station (window.py).

Graph of one snapshot (node ids): satellites ``[0, N)``, ground stations ``[N, N+G)``, user
terminals ``[N+G, N+G+U)``. Edges: laser links both ways (unless ``leo_isls`` is off: bent pipe);
station -> satellite; satellite -> user; satellite -> station only with ``leo_ground_relays``
(Hypatia's relay mode: a path may go down to a station and up again). Otherwise ground nodes have
no way back into the sky, so a path never relays through another station or user (Hypatia's
default). Edge weights are one-way km; the per-satellite processing time is folded in as the km
light covers in half of it, on every edge that enters a satellite, so Dijkstra minimises the RTT
actually reported. Users are sinks, so Dijkstra runs on satellites + stations and each user's last
hop is a vectorized minimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from computemoat.latency.constellation import FloatArray, IntArray
from computemoat.latency.geo import EARTH_MEAN_RADIUS_KM, MS_PER_S, ground_ecef_km, surface_normal, vacuum_rtt_ms
from computemoat.latency.shells import constellation_for
from computemoat.model.network import C_VACUUM_KM_PER_S, EarthModel, NetworkSettings

Progress = Callable[[int, int], None]

__all__ = [
    "Ground", "Progress", "constellation_for", "ground_links", "hop_km", "isl_lengths_km", "snapshot_graph",
    "snapshot_rtt_ms", "snapshot_times_s",
]


@dataclass(frozen=True, eq=False)
class Ground:
    """Ground points: Earth-fixed positions (km) and unit "up" vectors, both ``(n, 3)``."""

    xyz_km: FloatArray
    up: FloatArray

    @classmethod
    def at(cls, lat_deg: FloatArray, lon_deg: FloatArray, earth: EarthModel = EarthModel.SPHERE) -> Ground:
        lat, lon = np.atleast_1d(lat_deg), np.atleast_1d(lon_deg)
        return cls(ground_ecef_km(lat, lon, earth).reshape(-1, 3), surface_normal(lat, lon).reshape(-1, 3))

    @classmethod
    def of(cls, xyz_km: FloatArray) -> Ground:
        """Points given in km, "up" taken as the radial direction (sphere)."""
        xyz = np.asarray(xyz_km, dtype=np.float64).reshape(-1, 3)
        return cls(xyz, xyz / np.maximum(np.linalg.norm(xyz, axis=1, keepdims=True), 1e-12))

    def __len__(self) -> int:
        return len(self.xyz_km)


def snapshot_times_s(network: NetworkSettings) -> FloatArray:
    """Start of each snapshot: window start + 0, step, ... (< window); a day at 60 s -> 1,440."""
    return network.leo_window_start_s + np.arange(0, network.leo_window_s, network.leo_step_s, dtype=np.float64)


def hop_km(network: NetworkSettings) -> float:
    """One-way km equivalent to the per-satellite processing time (which is given as RTT)."""
    return network.leo_hop_processing_ms / MS_PER_S * C_VACUUM_KM_PER_S / 2


def _as_ground(points: FloatArray | Ground) -> Ground:
    return points if isinstance(points, Ground) else Ground.of(points)


def ground_links(
    ground: FloatArray | Ground,
    sat_xyz_km: FloatArray,
    min_elevation_deg: float,
    max_range_km: float | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every (ground point, satellite) pair with the satellite at or above ``min_elevation_deg`` over
    the local horizon and, when given, within ``max_range_km``: ground indices (ascending), satellite
    indices and slant ranges in km.

    Candidates first: a satellite at radius r is seen at elevation >= E only within the central
    angle ``acos(R cos E / r) - E`` of the ground point (and within the range's angle), so one
    float32 product of unit vectors per block of ground points keeps the few satellites inside
    that cap (plus a margin for the ellipsoid and float32). The exact tests then run on those."""
    g = _as_ground(ground)
    if len(g) == 0 or len(sat_xyz_km) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    cos_cap = np.cos(_cap_rad(g.xyz_km, sat_xyz_km, min_elevation_deg, max_range_km))
    g_unit = (g.xyz_km / np.linalg.norm(g.xyz_km, axis=1, keepdims=True)).astype(np.float32)
    s_unit_t = np.ascontiguousarray((sat_xyz_km / np.linalg.norm(sat_xyz_km, axis=1, keepdims=True)).T, np.float32)
    block = max(1, _GROUND_BLOCK // len(sat_xyz_km))
    gi: list[IntArray] = []
    si: list[IntArray] = []
    for lo in range(0, len(g), block):
        rows, cols = np.nonzero(_dot3(g_unit[lo : lo + block], s_unit_t) >= cos_cap)
        gi.append(rows.astype(np.int64) + lo)
        si.append(cols.astype(np.int64))
    g_idx, s_idx = np.concatenate(gi), np.concatenate(si)
    los = sat_xyz_km[s_idx] - g.xyz_km[g_idx]
    slant_km = np.linalg.norm(los, axis=1)
    height_km = np.einsum("ij,ij->i", los, g.up[g_idx])  # (s - g) . up = slant x sin(elevation)
    keep = height_km >= np.sin(np.radians(min_elevation_deg)) * slant_km
    keep &= height_km > 0
    if max_range_km is not None:
        keep &= slant_km <= max_range_km
    return g_idx[keep], s_idx[keep], slant_km[keep]


def _dot3(a: NDArray[np.float32], b_t: NDArray[np.float32]) -> NDArray[np.float32]:
    """``a @ b_t`` for 3-vectors as three elementwise passes: BLAS threads gain nothing at K = 3 and
    oversubscribe the cores when worker processes run side by side."""
    out = np.multiply(a[:, 0:1], b_t[0:1], dtype=np.float32)
    tmp = np.empty_like(out)
    for k in (1, 2):
        np.multiply(a[:, k : k + 1], b_t[k : k + 1], out=tmp)
        out += tmp
    return out


_GROUND_BLOCK = 4_000_000  # pairs per block of the candidate test (16 MB of float32)
_CAP_MARGIN_RAD = np.radians(0.5)  # ellipsoid normal vs radial (<= 0.2 deg) and float32 rounding


def _cap_rad(ground_xyz_km: FloatArray, sat_xyz_km: FloatArray, min_elevation_deg: float,
             max_range_km: float | None) -> float:
    """Largest central angle between a ground point and a satellite it may link to, plus a margin."""
    r_g = float(np.linalg.norm(ground_xyz_km, axis=1).min())
    r_s_all = np.linalg.norm(sat_xyz_km, axis=1)
    r_s = float(r_s_all.max())
    elev = np.radians(min_elevation_deg)
    cap = float(np.arccos(np.clip(r_g * np.cos(elev) / r_s, -1.0, 1.0)) - elev)
    if max_range_km is not None:
        # law of cosines at the lowest satellite, where a given range spans the widest angle
        r_lo = float(r_s_all.min())
        cos_range = (r_g**2 + r_lo**2 - max_range_km**2) / (2 * r_g * r_lo)
        cap = min(cap, float(np.arccos(np.clip(cos_range, -1.0, 1.0))))
    return min(max(cap, 0.0) + float(_CAP_MARGIN_RAD), float(np.pi))


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
    stations: FloatArray | Ground,
    users: FloatArray | Ground,
    network: NetworkSettings,
) -> sp.csr_array:
    """The directed graph of one snapshot (node layout in the module docstring), weights in km."""
    st, us = _as_ground(stations), _as_ground(users)
    n, g, u = len(sat_xyz_km), len(st), len(us)
    extra = hop_km(network)
    if network.leo_isls:
        a, b, isl_km = isl_lengths_km(sat_xyz_km, isl_a, isl_b, network.max_isl_km)
    else:
        a, b, isl_km = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    gs_g, gs_s, gs_km = ground_links(st, sat_xyz_km, network.min_elevation_deg, network.max_gsl_km)
    ut_u, ut_s, ut_km = ground_links(us, sat_xyz_km, network.min_elevation_deg, network.max_gsl_km)
    rows = [a, b, n + gs_g, ut_s]
    cols = [b, a, gs_s, n + g + ut_u]
    weights = [isl_km + extra, isl_km + extra, gs_km + extra, ut_km]
    if network.leo_ground_relays:
        rows.append(gs_s)
        cols.append(n + gs_g)
        weights.append(gs_km)
    size = n + g + u
    # a zero weight would read as "no edge" in a sparse matrix; real lengths are far above 1e-9 km
    data = np.maximum(np.concatenate(weights), 1e-9)
    return sp.csr_array((data, (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))


def snapshot_rtt_ms(
    sat_xyz_km: FloatArray,
    isl_a: IntArray,
    isl_b: IntArray,
    stations: FloatArray | Ground,
    users: FloatArray | Ground,
    network: NetworkSettings,
    sources: IntArray | None = None,
) -> FloatArray:
    """RTT (ms) from every user terminal to every ground station in one snapshot (or to the stations
    ``sources`` only; the others still relay), shape (U, G), the access overhead included; ``inf``
    where no satellite path exists. Shortest paths on :func:`snapshot_graph`, in two steps because
    users are sinks of it: C Dijkstra from each station over satellites and stations only, then each
    user's best last hop as one vectorized min over its visible satellites."""
    st, us = _as_ground(stations), _as_ground(users)
    src = np.arange(len(st)) if sources is None else np.asarray(sources, dtype=np.int64)
    n, g, u = len(sat_xyz_km), len(src), len(us)
    out = np.full((u, g), np.inf)
    if g == 0 or u == 0:
        return out
    graph = snapshot_graph(sat_xyz_km, isl_a, isl_b, st, Ground.of(np.empty((0, 3))), network)
    to_sat_km = dijkstra(graph, directed=True, indices=n + src)[:, :n]  # (G, N)
    u_idx, s_idx, last_km = ground_links(us, sat_xyz_km, network.min_elevation_deg, network.max_gsl_km)
    if len(u_idx) == 0:
        return out
    users_seen, starts = np.unique(u_idx, return_index=True)  # u_idx is ascending
    from_sat_km = np.ascontiguousarray(to_sat_km.T)  # (N, G): one row gather per user link
    block = max(1, _MIN_PLUS_BLOCK // len(u_idx))  # bound the (links x stations) temporary
    for lo in range(0, g, block):
        total_km = from_sat_km[s_idx, lo : lo + block] + last_km[:, None]
        out[users_seen, lo : lo + block] = vacuum_rtt_ms(np.minimum.reduceat(total_km, starts, axis=0))
    return out + network.leo_access_overhead_ms


_MIN_PLUS_BLOCK = 4_000_000  # floats per block of the last-hop minimum (32 MB)
