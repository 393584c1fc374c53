"""Ground-link range limit, ellipsoid ground points, bent pipe and ground-station relays, places
without fiber, time series, window start, streamed statistics and the default window. Oracles:
brute-force geometry over every satellite, closed-form ellipsoid figures, exact order statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from computemoat.latency import Endpoint, rtt_between
from computemoat.latency.constellation import WalkerShell
from computemoat.latency.geo import ground_ecef_km, surface_normal, vacuum_rtt_ms
from computemoat.latency.leo import Ground, ground_links, snapshot_rtt_ms, snapshot_times_s
from computemoat.latency.matrix import PATH_LEO, PATH_NONE, leo_rtt_series_between
from computemoat.latency.stats import BIN_RATIO, LeoStats, StreamStats
from computemoat.latency.window import leo_rtt_stats
from computemoat.model import LeoShell, NetworkSettings
from computemoat.model.network import EarthModel

SHELL1 = WalkerShell.from_settings(LeoShell())


def _brute_links(g: Ground, sats: np.ndarray, elev_deg: float, max_km: float | None) -> set[tuple[int, int]]:
    out = set()
    for i, (x, up) in enumerate(zip(g.xyz_km, g.up, strict=True)):
        for k, s in enumerate(sats):
            los = s - x
            d = float(np.linalg.norm(los))
            elev = math.degrees(math.asin(float(np.dot(los, up)) / d))
            if elev >= elev_deg and (max_km is None or d <= max_km):
                out.add((i, k))
    return out


@pytest.mark.parametrize("earth", list(EarthModel))
@pytest.mark.parametrize(("elev", "max_km"), [(25.0, None), (0.0, 1100.0), (10.0, 1500.0)])
def test_ground_links_by_elevation_and_range(earth: EarthModel, elev: float, max_km: float | None) -> None:
    rng = np.random.default_rng(3)
    g = Ground.at(rng.uniform(-60, 60, 40), rng.uniform(-180, 180, 40), earth)
    sats = SHELL1.positions_ecef_km([77.0])[0]
    gi, si, slant = ground_links(g, sats, elev, max_km)
    assert set(zip(gi.tolist(), si.tolist(), strict=True)) == _brute_links(g, sats, elev, max_km)
    np.testing.assert_allclose(slant, np.linalg.norm(sats[si] - g.xyz_km[gi], axis=1))
    assert len(gi) > 40


def test_ellipsoid_ground_points() -> None:
    """WGS72 (a = 6,378.135 km, f = 1/298.26): equator at a, pole at a (1 - f); the "up" vector is
    the ellipsoid normal, which is not the radial direction at mid latitudes."""
    a, f = 6378.135, 1 / 298.26
    eq, pole = ground_ecef_km([0.0, 90.0], [0.0, 0.0], EarthModel.WGS72)
    assert np.linalg.norm(eq) == pytest.approx(a, abs=1e-9)
    assert np.linalg.norm(pole) == pytest.approx(a * (1 - f), abs=1e-9)
    p45 = ground_ecef_km(45.0, 10.0, EarthModel.WGS84)
    normal = surface_normal(45.0, 10.0)
    angle = math.degrees(math.acos(float(np.dot(p45, normal) / np.linalg.norm(p45))))
    assert angle == pytest.approx(0.192, abs=0.002)  # geodetic - geocentric latitude at 45 deg
    # a satellite straight up the normal is at 90 deg elevation, so seen even with an 89.9 deg mask
    sat = p45 + 550 * normal
    g = Ground.at(np.array([45.0]), np.array([10.0]), EarthModel.WGS84)
    assert len(ground_links(g, sat[None, :], 89.9)[0]) == 1


def _bent_pipe_km(a: np.ndarray, b: np.ndarray, sats: np.ndarray, elev: float) -> float:
    best = math.inf
    for s in sats:
        ok = all(math.degrees(math.asin(np.dot(s - x, x / np.linalg.norm(x)) / np.linalg.norm(s - x))) >= elev
                 for x in (a, b))
        if ok:
            best = min(best, float(np.linalg.norm(s - a) + np.linalg.norm(s - b)))
    return best


def test_bent_pipe_uses_one_satellite_and_relays_chain_stations() -> None:
    net = NetworkSettings(leo_isls=False, min_elevation_deg=25, leo_access_overhead_ms=0)
    sats = SHELL1.positions_ecef_km([0.0])[0]
    user, near, far, relay = ground_ecef_km([48.0, 49.0, 48.5, 48.5], [2.0, 4.0, 25.0, 13.0])
    stations = np.stack([near, far, relay])
    rtt = snapshot_rtt_ms(sats, np.empty(0, np.int64), np.empty(0, np.int64), stations, user[None], net)[0]
    assert rtt[0] == pytest.approx(float(vacuum_rtt_ms(_bent_pipe_km(user, near, sats, 25))), rel=1e-9)
    assert _bent_pipe_km(user, far, sats, 25) == math.inf and rtt[1] == math.inf  # 1,700 km: no common satellite
    relayed = snapshot_rtt_ms(sats, np.empty(0, np.int64), np.empty(0, np.int64), stations, user[None],
                              net.model_copy(update={"leo_ground_relays": True}))[0]
    via_relay_km = _bent_pipe_km(user, relay, sats, 25) + _bent_pipe_km(relay, far, sats, 25)
    assert relayed[1] == pytest.approx(float(vacuum_rtt_ms(via_relay_km)), rel=1e-9)
    assert relayed[0] <= rtt[0]


def test_a_place_without_terrestrial_route_says_so() -> None:
    """Issue 14 #3: McMurdo -> Frankfurt went "over fiber" at 248 ms. No cable lands in Antarctica:
    fiber is unreachable; Starlink shell 1 (53 deg) never rises 25 deg there either, so there is no
    path at all; with Gen1's polar shells LEO reaches it."""
    mcmurdo, frankfurt = Endpoint("McMurdo", -77.85, 166.67), Endpoint("Frankfurt", 50.11, 8.68)
    m = rtt_between([mcmurdo], [frankfurt], NetworkSettings(leo_window_s=600))
    assert m.fiber_rtt_ms[0, 0] == math.inf and m.rtt_ms[0, 0] == math.inf and m.path_kind[0, 0] == PATH_NONE
    polar = rtt_between([mcmurdo], [frankfurt], NetworkSettings(leo_constellation="starlink_gen1", leo_window_s=60,
                                                                  leo_step_s=30, leo_hop_processing_ms=0))
    assert polar.path_kind[0, 0] == PATH_LEO
    assert polar.rtt_ms[0, 0] > float(vacuum_rtt_ms(15_000))  # farther than 15,000 km of arc


def test_time_series_at_fractional_times_and_window_start() -> None:
    net = NetworkSettings(leo_window_start_s=1000.5, leo_window_s=40, leo_step_s=10, min_elevation_deg=25)
    a, b = Endpoint("London", 51.5, -0.13), Endpoint("New York", 40.71, -74.0)
    times = snapshot_times_s(net)
    np.testing.assert_allclose(times, [1000.5, 1010.5, 1020.5, 1030.5])
    series = leo_rtt_series_between([(a, b)], times, net)[:, 0]
    sats = SHELL1.positions_ecef_km(times)
    isl = SHELL1.isl_pairs()
    direct = [snapshot_rtt_ms(p, *isl, ground_ecef_km(40.71, -74.0)[None], ground_ecef_km(51.5, -0.13)[None], net)[0, 0]
              for p in sats]
    np.testing.assert_allclose(series, direct, rtol=1e-12)
    stats = leo_rtt_stats((np.array([40.71]), np.array([-74.0])), (np.array([51.5]), np.array([-0.13])), net)
    assert stats.min_ms[0, 0] == pytest.approx(series.min(), rel=1e-12)
    assert stats.max_ms[0, 0] == pytest.approx(series.max(), rel=1e-12)


def test_streamed_statistics_bound_the_exact_order_statistics() -> None:
    """Against numpy's exact order statistics: min, max and outage equal; median and p95 never
    below and at most one bin (0.2 %) above; p95 inf once 5% of snapshots have no path."""
    rng = np.random.default_rng(11)
    lower = rng.uniform(4, 80, (7, 5))
    series = lower[None] * rng.uniform(1.0, 1.8, (300, 7, 5))
    series[rng.uniform(size=series.shape) < 0.02] = np.inf
    series[:, 0, 0] = np.where(np.arange(300) < 20, np.inf, 30.0)  # 6.7% outage
    series[:, 1, 1] = lower[1, 1] * 5  # beyond the grid: reported as the exact max
    stream = StreamStats(lower, 300)
    for snap in series:
        stream.add(snap)
    got, exact = stream.result(), LeoStats.from_series(series)
    np.testing.assert_array_equal(got.min_ms, exact.min_ms)
    np.testing.assert_array_equal(got.max_ms, exact.max_ms)
    np.testing.assert_array_equal(got.outage_fraction, exact.outage_fraction)
    for ours, ref in ((got.median_ms, exact.median_ms), (got.p95_ms, exact.p95_ms)):
        finite = np.isfinite(ref)
        np.testing.assert_array_equal(np.isfinite(ours), finite)
        assert (ours[finite] >= ref[finite]).all()
        assert (ours[finite] <= ref[finite] * (1 + BIN_RATIO) + 1e-12).all()
    assert got.p95_ms[0, 0] == math.inf and got.median_ms[0, 0] == 30.0
    assert got.p95_ms[1, 1] == pytest.approx(lower[1, 1] * 5)


@pytest.mark.parametrize("relays", [False, True])
def test_worker_processes_give_the_same_statistics(relays: bool) -> None:
    """Split by station, every worker still has every station as a relay (bent pipe + relays)."""
    net = NetworkSettings(leo_window_s=120, leo_step_s=30, leo_isls=not relays, leo_ground_relays=relays)
    rng = np.random.default_rng(5)
    st = (rng.uniform(30, 55, 8), rng.uniform(-10, 30, 8))
    us = (rng.uniform(30, 55, 9), rng.uniform(-10, 30, 9))
    one, two = leo_rtt_stats(st, us, net, workers=1), leo_rtt_stats(st, us, net, workers=2)
    assert np.isfinite(one.min_ms).mean() > 0.5
    for field in ("min_ms", "median_ms", "p95_ms", "max_ms", "outage_fraction"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))


def test_default_window_is_a_day_at_a_step_inside_every_pass() -> None:
    """A day of snapshots (the ground track pattern of every shell) at a step under a quarter of the
    shortest time a shell-1 satellite stays above 25 deg (pass = 2 x reach angle / orbital rate)."""
    net = NetworkSettings()
    assert len(snapshot_times_s(net)) == 1440
    r_e, r_s, e = 6371.0088, SHELL1.orbit_radius_km, math.radians(net.min_elevation_deg)
    reach_rad = math.acos(r_e * math.cos(e) / r_s) - e
    pass_s = 2 * reach_rad / (2 * math.pi / SHELL1.period_s)
    assert net.leo_step_s <= pass_s / 4


def test_planner_default_rtts_come_from_a_day() -> None:
    """The bundled scenario (what `computemoat plan` uses by default) keeps the day-long window."""
    from computemoat.catalog import default_scenario

    net = default_scenario().network
    times = snapshot_times_s(net)
    assert len(times) == 1440 and times[-1] == 86_400 - 60
