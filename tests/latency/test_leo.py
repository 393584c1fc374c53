"""LEO routing: shortest paths against an independent networkx implementation, physical bounds,
link rules, and the statistics over a window."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from computemoat.latency.constellation import WalkerShell, plus_grid_isls
from computemoat.latency.geo import great_circle_km, ground_ecef_km, vacuum_rtt_ms
from computemoat.latency.leo import ground_links, snapshot_rtt_ms
from computemoat.latency.stats import LeoStats
from computemoat.latency.window import leo_rtt_stats
from computemoat.model import C_VACUUM_KM_PER_S, LeoShell, NetworkSettings

SMALL = WalkerShell(planes=8, sats_per_plane=10, altitude_km=1200, inclination_deg=60, phasing=1)


def _independent_rtt_ms(
    sats: np.ndarray, station: np.ndarray, user: np.ndarray, planes: int, per_plane: int, net: NetworkSettings
) -> float:
    """Plain-Python graph for one (station, user) pair: +Grid by plane/slot loops (the cross-plane
    partner is the satellite of the next plane nearest in argument of latitude, Walker phasing
    F = 1), visibility by the angle between the local vertical and the line of sight, hop cost split
    over a satellite's links, the access overhead added once."""
    hop = net.leo_hop_processing_ms / 1000 * C_VACUUM_KM_PER_S / 2
    graph = nx.Graph()

    def turns(plane: int, slot: int) -> float:
        return slot / per_plane + plane / (planes * per_plane)  # argument of latitude at t=0, F = 1

    for p in range(planes):
        for s in range(per_plane):
            k = p * per_plane + s
            q = (p + 1) % planes
            nearest = min(range(per_plane), key=lambda j: abs((turns(q, j) - turns(p, s) + 0.5) % 1 - 0.5))
            for other in (p * per_plane + (s + 1) % per_plane, q * per_plane + nearest):
                if other != k:
                    graph.add_edge(k, other, weight=math.dist(sats[k], sats[other]) + hop)
    for name, ground in (("station", station), ("user", user)):
        up = ground / np.linalg.norm(ground)
        for k, sat in enumerate(sats):
            los = sat - ground
            zenith_deg = math.degrees(math.acos(float(np.dot(los, up) / np.linalg.norm(los))))
            if 90 - zenith_deg >= net.min_elevation_deg:
                graph.add_edge(name, k, weight=float(np.linalg.norm(los)) + hop / 2)
    try:
        km = nx.shortest_path_length(graph, "station", "user", weight="weight")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.inf
    return 2 * km / C_VACUUM_KM_PER_S * 1000 + net.leo_access_overhead_ms


@pytest.mark.parametrize("hop_ms", [0.0, 0.7])
def test_shortest_paths_equal_networkx_on_a_small_constellation(hop_ms: float) -> None:
    net = NetworkSettings(min_elevation_deg=10.0, leo_hop_processing_ms=hop_ms)
    rng = np.random.default_rng(7)
    stations = ground_ecef_km(rng.uniform(-55, 55, 4), rng.uniform(-180, 180, 4))
    users = ground_ecef_km(rng.uniform(-55, 55, 6), rng.uniform(-180, 180, 6))
    sats = SMALL.positions_ecef_km([123.0])[0]
    a, b = SMALL.isl_pairs()
    ours = snapshot_rtt_ms(sats, a, b, stations, users, net)
    expected = np.array(
        [[_independent_rtt_ms(sats, st, us, SMALL.planes, SMALL.sats_per_plane, net) for st in stations]
         for us in users]
    )
    assert np.isfinite(expected).sum() >= 12  # the comparison covers real paths, not only "no path"
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_ground_links_respect_the_elevation_mask() -> None:
    sats = SMALL.positions_ecef_km([0.0])[0]
    ground = ground_ecef_km(np.array([0.0, 40.0]), np.array([0.0, 100.0]))
    g, s, slant = ground_links(ground, sats, 25.0)
    los = sats[s] - ground[g]
    up = ground[g] / np.linalg.norm(ground[g], axis=1)[:, None]
    elevation = np.degrees(np.arcsin(np.einsum("ij,ij->i", los, up) / np.linalg.norm(los, axis=1)))
    assert np.all(elevation >= 25.0)
    np.testing.assert_allclose(slant, np.linalg.norm(los, axis=1))
    _, s_all, _ = ground_links(ground, sats, 0.0)
    assert len(s_all) > len(s)  # a lower mask sees more satellites


@pytest.mark.parametrize("min_elevation_deg", [0.0, 25.0, 60.0])
def test_ground_links_find_every_visible_satellite(min_elevation_deg: float) -> None:
    rng = np.random.default_rng(int(min_elevation_deg))
    direction = rng.normal(size=(3000, 3))
    radius_km = 6371.0 + rng.uniform(300, 2000, 3000)  # mixed altitudes, as real TLEs have
    sats = direction / np.linalg.norm(direction, axis=1)[:, None] * radius_km[:, None]
    ground = ground_ecef_km(rng.uniform(-90, 90, 40), rng.uniform(-180, 180, 40))
    los = sats[None, :, :] - ground[:, None, :]
    up = ground / np.linalg.norm(ground, axis=1)[:, None]
    elevation = np.degrees(np.arcsin(np.einsum("gsk,gk->gs", los, up) / np.linalg.norm(los, axis=2)))
    expected = set(zip(*np.nonzero(elevation >= min_elevation_deg), strict=True))
    g, s, _ = ground_links(ground, sats, min_elevation_deg)
    assert set(zip(g.tolist(), s.tolist(), strict=True)) == {(int(i), int(j)) for i, j in expected}
    assert len(expected) > 40


def test_no_leo_rtt_is_below_light_in_vacuum_on_the_great_circle() -> None:
    net = NetworkSettings(leo_window_s=60, leo_step_s=30)
    rng = np.random.default_rng(11)
    st_lat, st_lon = rng.uniform(-60, 60, 8), rng.uniform(-180, 180, 8)
    us_lat, us_lon = rng.uniform(-60, 60, 25), rng.uniform(-180, 180, 25)
    stats = leo_rtt_stats((st_lat, st_lon), (us_lat, us_lon), net)
    bound = vacuum_rtt_ms(great_circle_km(us_lat[:, None], us_lon[:, None], st_lat[None, :], st_lon[None, :]))
    assert np.isfinite(stats.min_ms).mean() > 0.9
    assert np.all(stats.min_ms >= bound)
    assert np.all(stats.min_ms <= stats.median_ms)
    assert np.all(stats.median_ms <= stats.p95_ms)
    assert np.all(stats.p95_ms <= stats.max_ms)


def test_user_directly_under_a_satellite_pays_at_least_two_altitudes_each_way() -> None:
    shell = WalkerShell.from_settings(LeoShell())
    sats = shell.positions_ecef_km([0.0])[0]
    sub = sats[100] / np.linalg.norm(sats[100])
    user_lat, user_lon = np.degrees(np.arcsin(sub[2])), np.degrees(np.arctan2(sub[1], sub[0]))
    user = ground_ecef_km(np.array([user_lat]), np.array([user_lon]))
    station = ground_ecef_km(np.array([user_lat + 1.0]), np.array([user_lon]))
    a, b = plus_grid_isls(shell.planes, shell.sats_per_plane)
    rtt = snapshot_rtt_ms(sats, a, b, station, user, NetworkSettings())
    floor_ms = 2 * 2 * 550.0 / C_VACUUM_KM_PER_S * 1000
    assert np.isfinite(rtt[0, 0])
    assert rtt[0, 0] >= floor_ms
    assert rtt[0, 0] < 3 * floor_ms  # and it is a short bent-pipe path, not a detour


def test_max_isl_length_cuts_laser_links() -> None:
    net_all = NetworkSettings(leo_window_s=10, leo_step_s=10)
    net_none = net_all.model_copy(update={"max_isl_km": 50.0})  # shorter than any link in shell 1
    far = ((np.array([51.5]), np.array([-0.1])), (np.array([40.7]), np.array([-74.0])))
    assert np.isfinite(leo_rtt_stats(*far, net_all).min_ms).all()
    cut = leo_rtt_stats(*far, net_none)
    assert np.isinf(cut.min_ms).all()
    assert cut.outage_fraction[0, 0] == 1.0
    near = ((np.array([51.5]), np.array([-0.1])), (np.array([52.0]), np.array([0.5])))
    assert np.isfinite(leo_rtt_stats(*near, net_none).min_ms).all()  # one satellite both see


def test_a_higher_elevation_mask_never_shortens_a_path() -> None:
    rng = np.random.default_rng(5)
    ends = ((rng.uniform(-50, 50, 3), rng.uniform(-180, 180, 3)), (rng.uniform(-50, 50, 5), rng.uniform(-180, 180, 5)))
    low = leo_rtt_stats(*ends, NetworkSettings(min_elevation_deg=10, leo_window_s=20, leo_step_s=10))
    high = leo_rtt_stats(*ends, NetworkSettings(min_elevation_deg=40, leo_window_s=20, leo_step_s=10))
    assert np.all(high.min_ms >= low.min_ms - 1e-9)
    assert np.any(high.min_ms > low.min_ms)


def test_progress_reports_every_snapshot() -> None:
    calls: list[tuple[int, int]] = []
    ends = ((np.array([0.0]), np.array([0.0])), (np.array([1.0]), np.array([1.0])))
    leo_rtt_stats(*ends, NetworkSettings(leo_window_s=50, leo_step_s=10), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_stats_use_order_statistics_and_count_outages() -> None:
    series = np.array([10.0, 20, 30, 40, np.inf] + [50.0] * 15).reshape(20, 1, 1)
    stats = LeoStats.from_series(series)
    assert (stats.min_ms[0, 0], stats.max_ms[0, 0]) == (10.0, np.inf)
    assert stats.median_ms[0, 0] == 50.0
    assert stats.outage_fraction[0, 0] == pytest.approx(0.05)
    assert stats.p95_ms[0, 0] == np.inf  # 1 of 20 snapshots unreachable: p95 cannot promise a path
    mostly_up = LeoStats.from_series(np.array([10.0] * 39 + [np.inf]).reshape(40, 1, 1))
    assert mostly_up.p95_ms[0, 0] == 10.0
    assert not np.isnan(stats.p95_ms).any()
