"""Walker-delta geometry and +Grid topology: the figures of Starlink shell 1 and Walker's pattern."""

from __future__ import annotations

import numpy as np
import pytest

from computemoat.latency.constellation import (
    EARTH_EQUATORIAL_RADIUS_KM,
    EARTH_ROTATION_RAD_PER_S,
    WalkerShell,
    plus_grid_isls,
)
from computemoat.latency.geo import ecef_to_lat_lon_deg
from computemoat.model import LeoShell

SHELL1 = WalkerShell.from_settings(LeoShell())


def test_shell1_size_altitude_inclination_and_period() -> None:
    assert SHELL1.n_sats == 1584
    pos = SHELL1.positions_ecef_km(np.arange(0, 6000, 60))
    assert pos.shape == (100, 1584, 3)
    np.testing.assert_allclose(np.linalg.norm(pos, axis=-1), EARTH_EQUATORIAL_RADIUS_KM + 550.0)
    lat, _ = ecef_to_lat_lon_deg(pos)
    assert np.abs(lat).max() == pytest.approx(53.0, abs=0.05)
    assert SHELL1.period_s / 60 == pytest.approx(95.6, abs=0.1)


def test_after_one_period_satellites_return_in_the_inertial_frame() -> None:
    start, later = SHELL1.positions_ecef_km([0.0, SHELL1.period_s])
    theta = EARTH_ROTATION_RAD_PER_S * SHELL1.period_s  # the Earth turned under them meanwhile
    c, s = np.cos(theta), np.sin(theta)
    back = np.stack([c * later[:, 0] - s * later[:, 1], s * later[:, 0] + c * later[:, 1], later[:, 2]], axis=1)
    np.testing.assert_allclose(back, start, atol=1e-6)
    assert not np.allclose(later, start, atol=1.0)


def test_walker_phasing_offsets_adjacent_planes() -> None:
    shell = WalkerShell(planes=4, sats_per_plane=5, altitude_km=1000, inclination_deg=60, phasing=0)
    first_slots = shell.positions_ecef_km([0.0])[0, ::5]  # slot 0 of every plane
    np.testing.assert_allclose(first_slots[:, 2], 0.0, atol=1e-6)  # F=0: all at the ascending node
    phased = WalkerShell(planes=4, sats_per_plane=5, altitude_km=1000, inclination_deg=60, phasing=1)
    z = phased.positions_ecef_km([0.0])[0, ::5, 2]
    expected = phased.orbit_radius_km * np.sin(2 * np.pi * np.arange(4) / 20) * np.sin(np.radians(60))
    np.testing.assert_allclose(z, expected, atol=1e-6)


def test_plus_grid_gives_every_satellite_four_distinct_neighbours() -> None:
    a, b = plus_grid_isls(72, 22)
    assert len(a) == 2 * 1584
    assert np.all(a < b)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(a)
    degree = np.bincount(np.concatenate([a, b]), minlength=1584)
    assert np.all(degree == 4)
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    # satellite 0: slot 1 and the last slot of plane 0; slot 0 of plane 1 and of plane 71
    assert {(0, 1), (0, 21), (0, 22), (0, 71 * 22)} <= pairs


def test_plus_grid_links_stay_short_in_shell1() -> None:
    a, b = plus_grid_isls(72, 22)
    pos = SHELL1.positions_ecef_km([0.0, 300.0])
    lengths = np.linalg.norm(pos[:, a] - pos[:, b], axis=-1)
    in_plane_km = 2 * SHELL1.orbit_radius_km * np.sin(np.pi / 22)
    assert lengths.max() == pytest.approx(in_plane_km, rel=1e-6)  # in-plane links are the longest
    assert lengths.min() > 100


@pytest.mark.parametrize(("planes", "sats"), [(1, 1), (1, 2), (2, 2), (2, 5), (3, 1)])
def test_tiny_shells_have_no_self_or_duplicate_links(planes: int, sats: int) -> None:
    a, b = plus_grid_isls(planes, sats)
    assert np.all(a < b)
    assert len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(a)
    assert np.all(b < planes * sats)
