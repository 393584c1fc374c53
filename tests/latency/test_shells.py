"""Shells: seam links that follow the Walker phasing, several shells at once, epoch / RAAN offset /
phase patterns. Oracles: the rotational symmetry of a Walker-delta shell, closed-form orbital
geometry, and the FCC filings' satellite counts."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from computemoat.latency.constellation import EARTH_ROTATION_RAD_PER_S, MultiShell, WalkerShell, greenwich_angle_rad
from computemoat.latency.geo import ecef_to_lat_lon_deg
from computemoat.latency.leo import isl_lengths_km
from computemoat.latency.shells import constellation_for, julian_date
from computemoat.model import LeoShell, NetworkSettings
from computemoat.model.network import PhasePattern


def _cross_lengths(shell: WalkerShell, t_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the last plane's seam links and of plane 0 -> 1 links at ``t_s`` (km)."""
    pos = shell.positions_ecef_km([t_s])[0]
    a, b = shell.isl_pairs()
    s, last = shell.sats_per_plane, shell.planes - 1
    pa, pb = a // s, b // s
    seam = ((pa == 0) & (pb == last))
    first = (pa == 0) & (pb == 1)
    return np.linalg.norm(pos[a[seam]] - pos[b[seam]], axis=1), np.linalg.norm(pos[a[first]] - pos[b[first]], axis=1)


@pytest.mark.parametrize(
    ("planes", "per_plane", "phasing"),
    [(72, 22, 1), (34, 34, 17), (24, 10, 5)],
    ids=["starlink-F1", "kuiper-F17", "F5"],
)
def test_seam_links_follow_the_walker_phasing(planes: int, per_plane: int, phasing: int) -> None:
    """Issue 14 #1: rotating a Walker shell by 360/P maps plane p onto p+1 with its anomaly advanced by
    F x 360 / T, so the seam (plane P-1 -> 0) links at t equal plane 0 -> 1 links at
    t + (P-1) F T_orbit / T, as multisets of lengths (Starlink F=1 had 1,624 km seams vs 520 km;
    Kuiper F=17 had 13,922 km seams, dropped as cut by the Earth)."""
    shell = WalkerShell(planes, per_plane, 550, 53, phasing)
    t = 300.0
    seam, _ = _cross_lengths(shell, t)
    _, first = _cross_lengths(shell, t + (planes - 1) * phasing * shell.period_s / shell.n_sats)
    assert len(seam) == per_plane
    np.testing.assert_allclose(np.sort(seam), np.sort(first), rtol=1e-9)
    pos = shell.positions_ecef_km([t])[0]
    a, b = shell.isl_pairs()
    assert len(isl_lengths_km(pos, a, b, None)[0]) == len(a)  # none cut by the Earth


def test_alternating_half_slot_pattern_is_hypatia_phase_diff() -> None:
    shell = WalkerShell(4, 6, 630, 51.9, phase_pattern=PhasePattern.ALTERNATING_HALF_SLOT)
    np.testing.assert_allclose(shell.plane_phase_slots(), [0, 0.5, 0, 0.5])
    assert shell.seam_shift() == 0
    # at t=0 on the equator-crossing side: slot 0 of plane 1 is 30 deg (half a 60 deg slot) along
    pos = shell.positions_ecef_km([0.0])[0]
    radius = shell.orbit_radius_km
    inc = np.radians(51.9)
    u = np.radians(30.0)
    raan = np.pi / 2
    expected = radius * np.array([
        np.cos(raan) * np.cos(u) - np.sin(raan) * np.sin(u) * np.cos(inc),
        np.sin(raan) * np.cos(u) + np.cos(raan) * np.sin(u) * np.cos(inc),
        np.sin(u) * np.sin(inc),
    ])
    np.testing.assert_allclose(pos[6], expected, atol=1e-6)


def test_raan_offset_and_epoch_turn_the_constellation() -> None:
    """A RAAN offset of x deg moves every satellite x deg east at t=0; an epoch sets the Greenwich
    angle to the sidereal angle then, which moves them west by it."""
    base = WalkerShell(6, 8, 550, 53)
    lat0, lon0 = ecef_to_lat_lon_deg(base.positions_ecef_km([0.0])[0])
    lat1, lon1 = ecef_to_lat_lon_deg(WalkerShell(6, 8, 550, 53, raan_offset_deg=17.0).positions_ecef_km([0.0])[0])
    np.testing.assert_allclose(lat1, lat0, atol=1e-9)
    np.testing.assert_allclose((lon1 - lon0) % 360, 17.0, atol=1e-9)
    epoch = datetime(2000, 1, 1, 12, tzinfo=UTC)  # J2000.0: GMST = 280.46 deg (IAU 1982)
    theta = greenwich_angle_rad(julian_date(epoch))
    assert np.degrees(theta) == pytest.approx(280.46, abs=0.01)
    net = NetworkSettings(leo_shell=LeoShell(planes=6, sats_per_plane=8), leo_epoch=epoch)
    turned = constellation_for(net)
    _, lon2 = ecef_to_lat_lon_deg(turned.positions_ecef_km([0.0])[0])
    np.testing.assert_allclose((lon0 - lon2) % 360, np.degrees(theta) % 360, atol=1e-9)
    # and the Earth keeps turning at its sidereal rate
    assert pytest.approx(2 * np.pi, rel=1e-6) == EARTH_ROTATION_RAD_PER_S * 86_164.0905


def test_mean_motion_sets_the_orbit_by_keplers_law() -> None:
    shell = WalkerShell(34, 34, 630, 51.9, mean_motion_rev_per_day=14.80)
    assert shell.period_s == pytest.approx(86_400 / 14.80, rel=1e-12)
    n_rad_per_s = 14.80 * 2 * np.pi / 86_400
    assert shell.orbit_radius_km == pytest.approx((398_600.4418 / n_rad_per_s**2) ** (1 / 3), rel=1e-12)
    assert shell.orbit_radius_km - 6378.137 == pytest.approx(630, abs=1.0)  # "altitude ~630 km" (Hypatia)


@pytest.mark.parametrize(("name", "n_sats", "n_shells"), [("starlink_gen1", 4408, 5), ("kuiper", 3236, 3)])
def test_bundled_multi_shell_constellations(name: str, n_sats: int, n_shells: int) -> None:
    """FCC filings: Starlink Gen1 4,408 satellites in five shells, Kuiper 3,236 in three; each shell
    keeps its own altitude and inclination, and laser links never join two shells."""
    sats = constellation_for(NetworkSettings(leo_constellation=name))
    assert isinstance(sats, MultiShell) and len(sats.shells) == n_shells
    assert sats.n_sats == n_sats
    pos = sats.positions_ecef_km([0.0, 600.0])
    offsets = np.cumsum([0] + [s.n_sats for s in sats.shells])
    for shell, lo, hi in zip(sats.shells, offsets[:-1], offsets[1:], strict=True):
        np.testing.assert_allclose(np.linalg.norm(pos[:, lo:hi], axis=-1), shell.orbit_radius_km, rtol=1e-12)
        max_lat = np.abs(ecef_to_lat_lon_deg(pos[:, lo:hi])[0]).max()
        assert max_lat <= min(shell.inclination_deg, 180 - shell.inclination_deg) + 1e-9
    a, b = sats.isl_pairs()
    shell_of = np.searchsorted(offsets, np.arange(n_sats), side="right") - 1
    assert (shell_of[a] == shell_of[b]).all()
    assert len(a) == 2 * n_sats  # +Grid: 4 links per satellite


def test_one_constellation_source_at_a_time() -> None:
    with pytest.raises(ValueError, match="give one of leo_shells, leo_constellation"):
        NetworkSettings(leo_shells=(LeoShell(),), leo_constellation="kuiper")
    two = NetworkSettings(leo_shells=(LeoShell(), LeoShell(planes=36, sats_per_plane=20, inclination_deg=70)))
    assert constellation_for(two).n_sats == 1584 + 720
