"""The users x sites matrix: which path wins, symmetry, the ground-station fallback, the bundled scenario."""

from __future__ import annotations

import numpy as np
import pytest

from computemoat.catalog import default_scenario
from computemoat.latency import Endpoint, fiber_rtt_ms, great_circle_km, rtt_between, rtt_matrix
from computemoat.latency.geo import vacuum_rtt_ms
from computemoat.latency.matrix import rtt_point
from computemoat.model import NetworkSettings, Provider, ProviderKind, Scenario, Site, UserError, UserRegion

LONDON = Endpoint("London", 51.5074, -0.1278)
NEW_YORK = Endpoint("New York", 40.7128, -74.0060)
SHORT_WINDOW = NetworkSettings(leo_window_s=60, leo_step_s=20)


def _scenario(network: NetworkSettings = SHORT_WINDOW) -> Scenario:
    sites = (
        Site(id="x:ashburn", provider="x", region="ashburn", lat_deg=39.04, lon_deg=-77.49, ground_station=True),
        Site(id="x:frankfurt", provider="x", region="frankfurt", lat_deg=50.11, lon_deg=8.68),
        Site(id="x:madrid", provider="x", region="madrid", lat_deg=40.42, lon_deg=-3.70, ground_station=True),
    )
    users = (
        UserRegion(name="London", lat_deg=51.51, lon_deg=-0.13),
        UserRegion(name="Chicago", lat_deg=41.88, lon_deg=-87.63),
    )
    return Scenario(
        providers=(Provider(name="x", kind=ProviderKind.specialized, jurisdiction="US"),),
        sites=sites,
        user_regions=users,
        network=network,
    )


def test_transatlantic_leo_beats_fiber_with_default_settings() -> None:
    m = rtt_between([LONDON], [NEW_YORK], NetworkSettings())
    assert m.path_kind[0, 0] == "leo"
    assert m.leo_rtt_p95_ms[0, 0] < m.fiber_rtt_ms[0, 0]
    assert m.rtt_ms[0, 0] == m.leo_rtt_p95_ms[0, 0]
    assert m.leo_outage_fraction[0, 0] == 0.0


def test_fiber_beats_leo_over_100_km() -> None:
    a = Endpoint("a", 48.0, 11.0)
    b = Endpoint("b", 48.0 + 100 / 111.195, 11.0)  # 100 km due north
    assert great_circle_km(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg) == pytest.approx(100, rel=1e-3)
    m = rtt_between([a], [b], NetworkSettings())
    assert m.path_kind[0, 0] == "fiber"
    assert m.rtt_ms[0, 0] == m.fiber_rtt_ms[0, 0] < m.leo_rtt_min_ms[0, 0]


def test_rtt_is_symmetric() -> None:
    tokyo = Endpoint("Tokyo", 35.68, 139.69)
    ab = rtt_between([LONDON, tokyo], [NEW_YORK], SHORT_WINDOW)
    ba = rtt_between([NEW_YORK], [LONDON, tokyo], SHORT_WINDOW)
    for field in ("rtt_ms", "fiber_rtt_ms", "leo_rtt_min_ms", "leo_rtt_median_ms", "leo_rtt_p95_ms", "leo_rtt_max_ms"):
        np.testing.assert_allclose(getattr(ab, field), getattr(ba, field).T, rtol=1e-9, err_msg=field)


def test_matrix_of_a_scenario_keeps_order_and_picks_the_better_path() -> None:
    s = _scenario()
    m = rtt_matrix(s)
    assert m.users == ("London", "Chicago")
    assert m.sites == ("x:ashburn", "x:frankfurt", "x:madrid")
    assert m.rtt_ms.shape == m.path_kind.shape == m.leo_outage_fraction.shape == (2, 3)
    np.testing.assert_array_equal(m.rtt_ms, np.minimum(m.fiber_rtt_ms, m.leo_rtt_p95_ms))
    np.testing.assert_array_equal(m.path_kind == "leo", m.leo_rtt_p95_ms < m.fiber_rtt_ms)
    lat = np.array([u.lat_deg for u in s.user_regions])[:, None]
    lon = np.array([u.lon_deg for u in s.user_regions])[:, None]
    s_lat = np.array([x.lat_deg for x in s.sites])[None, :]
    s_lon = np.array([x.lon_deg for x in s.sites])[None, :]
    np.testing.assert_allclose(m.fiber_rtt_ms, fiber_rtt_ms(lat, lon, s_lat, s_lon, s.network))
    assert np.all(m.rtt_ms >= vacuum_rtt_ms(great_circle_km(lat, lon, s_lat, s_lon)))
    assert len(m.to_frame()) == 6


def test_site_without_ground_station_goes_via_best_station_then_fiber() -> None:
    s = _scenario()
    m = rtt_matrix(s)
    users = [Endpoint(r.name, r.lat_deg, r.lon_deg) for r in s.user_regions]
    stations = [Endpoint("ashburn", 39.04, -77.49), Endpoint("madrid", 40.42, -3.70)]
    to_station = rtt_between(users, stations, s.network)
    backhaul = fiber_rtt_ms(np.array([39.04, 40.42]), np.array([-77.49, -3.70]), 50.11, 8.68, s.network)
    # Frankfurt hosts no station: per user, the station with the lowest LEO p95 + fiber on to Frankfurt
    via_each = to_station.leo_rtt_p95_ms + backhaul[None, :]
    best = via_each.argmin(axis=1)
    np.testing.assert_allclose(m.leo_rtt_p95_ms[:, 1], via_each.min(axis=1))
    np.testing.assert_allclose(m.leo_rtt_min_ms[:, 1], to_station.leo_rtt_min_ms[[0, 1], best] + backhaul[best])
    assert list(best) == [1, 1]  # London and Chicago both enter at Madrid (1,450 km of fiber, not 6,500)


def test_best_station_is_per_user_not_the_one_nearest_the_site() -> None:
    """Reykjavik (no station) is nearest Madrid, but Chicago does better via Ashburn + fiber."""
    base = _scenario()
    reykjavik = Site(id="x:reykjavik", provider="x", region="reykjavik", lat_deg=64.15, lon_deg=-21.94)
    s = base.model_copy(update={"sites": (*base.sites, reykjavik)})
    m = rtt_matrix(s)
    users = [Endpoint(r.name, r.lat_deg, r.lon_deg) for r in s.user_regions]
    to_station = rtt_between(users, [Endpoint("ashburn", 39.04, -77.49), Endpoint("madrid", 40.42, -3.70)],
                             s.network)
    backhaul = fiber_rtt_ms(np.array([39.04, 40.42]), np.array([-77.49, -3.70]), 64.15, -21.94, s.network)
    via_each = to_station.leo_rtt_p95_ms + backhaul[None, :]
    assert list(via_each.argmin(axis=1)) == [1, 0]  # London via Madrid, Chicago via Ashburn
    np.testing.assert_allclose(m.leo_rtt_p95_ms[:, 3], via_each.min(axis=1))

    none = rtt_matrix(_scenario(SHORT_WINDOW.model_copy(update={"leo_site_fallback": "none"})))
    assert np.isinf(none.leo_rtt_min_ms[:, 1]).all()
    np.testing.assert_array_equal(none.leo_outage_fraction[:, 1], 1.0)
    assert (none.path_kind[:, 1] == "fiber").all()
    np.testing.assert_allclose(none.leo_rtt_min_ms[:, [0, 2]], m.leo_rtt_min_ms[:, [0, 2]])


def test_leo_disabled_leaves_fiber_only() -> None:
    m = rtt_matrix(_scenario(SHORT_WINDOW.model_copy(update={"leo_enabled": False})))
    assert (m.path_kind == "fiber").all()
    assert np.isinf(m.leo_rtt_p95_ms).all()
    np.testing.assert_array_equal(m.leo_outage_fraction, 1.0)
    np.testing.assert_array_equal(m.rtt_ms, m.fiber_rtt_ms)


def test_bundled_scenario_matrix() -> None:
    s = default_scenario()
    s = s.model_copy(update={"network": s.network.model_copy(update={"leo_window_s": 20})})
    m = rtt_matrix(s)
    assert m.users == tuple(r.name for r in s.user_regions)
    assert m.sites == tuple(x.id for x in s.sites)
    assert np.isfinite(m.rtt_ms).all()
    assert {"fiber", "leo"} == set(m.path_kind.ravel().tolist())


def test_rtt_point_to_a_site_matches_the_matrix_column() -> None:
    s = _scenario()
    user = Endpoint("London", 51.51, -0.13, ground_station=False)
    one = rtt_point(user, "x:frankfurt", s)
    full = rtt_matrix(s)
    assert one.sites == ("x:frankfurt",)
    assert one.rtt_ms.shape == (1, 1)
    assert one.leo_rtt_p95_ms[0, 0] == pytest.approx(full.leo_rtt_p95_ms[0, 1])
    assert one.rtt_ms[0, 0] == pytest.approx(full.rtt_ms[0, 1])


def test_unknown_site_is_one_clear_line() -> None:
    with pytest.raises(UserError) as e:
        rtt_point(LONDON, "x:frankfrt", _scenario())
    assert len(e.value.lines) == 1
    assert "unknown site 'x:frankfrt'" in e.value.lines[0]
    assert "did you mean 'x:frankfurt'" in e.value.lines[0]
