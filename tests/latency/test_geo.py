"""Great-circle distances and fiber RTTs against known figures and the formula's own invariants."""

from __future__ import annotations

import numpy as np
import pytest

from computemoat.latency import fiber_rtt_ms, great_circle_km
from computemoat.latency.geo import EARTH_MEAN_RADIUS_KM, ecef_to_lat_lon_deg, ground_ecef_km, vacuum_rtt_ms
from computemoat.model import C_VACUUM_KM_PER_S, NetworkSettings

LONDON = (51.5074, -0.1278)
NEW_YORK = (40.7128, -74.0060)


def test_london_new_york_distance_matches_published_figure() -> None:
    # commonly quoted great-circle distance: about 5,570 km
    assert great_circle_km(*LONDON, *NEW_YORK) == pytest.approx(5570, rel=0.005)


def test_special_distances() -> None:
    assert great_circle_km(10.0, 20.0, 10.0, 20.0) == 0.0
    assert great_circle_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(np.pi * EARTH_MEAN_RADIUS_KM)
    assert great_circle_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(np.pi * EARTH_MEAN_RADIUS_KM)
    # one degree of longitude on the equator
    assert great_circle_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(2 * np.pi * EARTH_MEAN_RADIUS_KM / 360)


def test_broadcasting_gives_a_matrix_and_is_symmetric() -> None:
    rng = np.random.default_rng(1)
    lat_a, lon_a = rng.uniform(-80, 80, 3), rng.uniform(-180, 180, 3)
    lat_b, lon_b = rng.uniform(-80, 80, 4), rng.uniform(-180, 180, 4)
    d = great_circle_km(lat_a[:, None], lon_a[:, None], lat_b[None, :], lon_b[None, :])
    assert d.shape == (3, 4)
    d_t = great_circle_km(lat_b[:, None], lon_b[:, None], lat_a[None, :], lon_a[None, :])
    np.testing.assert_allclose(d, d_t.T)
    assert d[1, 2] == pytest.approx(great_circle_km(lat_a[1], lon_a[1], lat_b[2], lon_b[2]))


def test_great_circle_equals_angle_between_ecef_vectors() -> None:
    rng = np.random.default_rng(2)
    lat, lon = rng.uniform(-90, 90, (2, 50)), rng.uniform(-180, 180, (2, 50))
    xyz = ground_ecef_km(lat, lon)
    cos_angle = np.einsum("ij,ij->i", xyz[0], xyz[1]) / EARTH_MEAN_RADIUS_KM**2
    expected = EARTH_MEAN_RADIUS_KM * np.arccos(np.clip(cos_angle, -1, 1))
    np.testing.assert_allclose(great_circle_km(lat[0], lon[0], lat[1], lon[1]), expected, atol=1e-6)
    back_lat, back_lon = ecef_to_lat_lon_deg(xyz[0])
    np.testing.assert_allclose(back_lat, lat[0], atol=1e-9)
    np.testing.assert_allclose(np.cos(np.radians(back_lon - lon[0])), 1.0, atol=1e-12)


def test_fiber_rtt_follows_stretch_refractive_index_and_overhead() -> None:
    net = NetworkSettings(fiber_route_stretch=1.5, fiber_refractive_index=1.468, fiber_overhead_ms=1.0)
    d_km = great_circle_km(*LONDON, *NEW_YORK)
    expected = 2 * d_km * 1.5 / (C_VACUUM_KM_PER_S / 1.468) * 1000 + 1.0
    assert fiber_rtt_ms(*LONDON, *NEW_YORK, net) == pytest.approx(expected)
    assert fiber_rtt_ms(*LONDON, *LONDON, net) == pytest.approx(1.0)
    longer = net.model_copy(update={"fiber_route_stretch": 2.0})
    assert fiber_rtt_ms(*LONDON, *NEW_YORK, longer) > fiber_rtt_ms(*LONDON, *NEW_YORK, net)


def test_fiber_never_beats_light_in_vacuum_on_the_great_circle() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-90, 90, (2, 200)), rng.uniform(-180, 180, (2, 200))
    fastest = NetworkSettings(fiber_route_stretch=1.0, fiber_refractive_index=1.0, fiber_overhead_ms=0.0)
    bound = vacuum_rtt_ms(great_circle_km(lat[0], lon[0], lat[1], lon[1]))
    assert np.all(fiber_rtt_ms(lat[0], lon[0], lat[1], lon[1], fastest) >= bound - 1e-9)
    assert np.all(fiber_rtt_ms(lat[0], lon[0], lat[1], lon[1], NetworkSettings()) > bound)
