"""Real-TLE constellations: a Walker shell written as TLEs by sgp4 itself, read back and propagated,
lands where the analytic shell is; malformed files fail with file:line messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec
from sgp4.exporter import export_tle
from sgp4.propagation import gstime

from computemoat.latency import Endpoint, rtt_between
from computemoat.latency.constellation import EARTH_GM_KM3_PER_S2, WalkerShell
from computemoat.latency.tle import load_tle_file, tle_checksum
from computemoat.model import LeoShell, NetworkSettings, UserError

SHELL = WalkerShell(planes=6, sats_per_plane=8, altitude_km=550, inclination_deg=53, phasing=1)
EPOCH_JD = 2460310.5  # 2024-01-01 00:00 UTC
SGP4_EPOCH0_JD = 2433281.5  # sgp4init counts days from 1949-12-31 00:00 UTC


def _walker_tle_lines(shell: WalkerShell) -> list[str]:
    """The shell as named 3-line TLEs, planes turned so Greenwich sits where the analytic shell puts it."""
    gmst0 = gstime(EPOCH_JD)
    mean_motion_rad_per_min = np.sqrt(EARTH_GM_KM3_PER_S2 / shell.orbit_radius_km**3) * 60
    lines: list[str] = []
    for k in range(shell.n_sats):
        plane, slot = divmod(k, shell.sats_per_plane)
        anomaly = 2 * np.pi * (slot / shell.sats_per_plane + shell.phasing * plane / shell.n_sats)
        raan = gmst0 + 2 * np.pi * plane / shell.planes
        sat = Satrec()
        sat.sgp4init(
            WGS72, "i", k + 1, EPOCH_JD - SGP4_EPOCH0_JD, 0.0, 0.0, 0.0, 0.0, 0.0,
            np.radians(shell.inclination_deg), anomaly % (2 * np.pi), mean_motion_rad_per_min, raan % (2 * np.pi),
        )
        sat.classification, sat.intldesg = "U", "24001A"
        lines += [f"WALKER-{k}", *export_tle(sat)]
    return lines


@pytest.fixture
def tle_path(tmp_path: Path) -> Path:
    path = tmp_path / "walker.tle"
    path.write_text("\n".join(_walker_tle_lines(SHELL)) + "\n")
    return path


def test_tle_constellation_matches_the_analytic_shell(tle_path: Path) -> None:
    sats = load_tle_file(tle_path, SHELL.planes, SHELL.sats_per_plane)
    assert sats.n_sats == 48
    assert sats.start_jd == pytest.approx(EPOCH_JD)
    t = np.arange(0, 600, 60.0)
    gap_km = np.linalg.norm(sats.positions_ecef_km(t) - SHELL.positions_ecef_km(t), axis=-1)
    # SGP4 adds J2 perturbations the circular model leaves out: about 12 km here, the orbit is 7,000 km
    assert gap_km.max() < 25.0


def test_tle_file_drives_the_matrix(tle_path: Path) -> None:
    shell = LeoShell(planes=SHELL.planes, sats_per_plane=SHELL.sats_per_plane)
    net = NetworkSettings(tle_file=str(tle_path), leo_shell=shell, min_elevation_deg=10, leo_window_s=60)
    analytic = net.model_copy(update={"tle_file": None})
    ends = ([Endpoint("a", 0.5, 0.0)], [Endpoint("b", -0.5, 1.0)])  # satellite 0 starts above (0, 0)
    from_tle, from_shell = rtt_between(*ends, net), rtt_between(*ends, analytic)
    assert np.isfinite(from_tle.leo_rtt_min_ms).all()
    # 25 km of position error moves a bent-pipe RTT by well under a millisecond
    assert abs(from_tle.leo_rtt_min_ms[0, 0] - from_shell.leo_rtt_min_ms[0, 0]) < 0.5


def test_checksum_is_the_published_one() -> None:
    iss_line1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
    assert tle_checksum(iss_line1) == 7


def test_bad_checksum_names_file_and_line(tle_path: Path) -> None:
    lines = tle_path.read_text().splitlines()
    lines[4] = lines[4][:68] + str((int(lines[4][68]) + 1) % 10)  # line 2 of the second satellite
    tle_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError) as e:
        load_tle_file(tle_path, SHELL.planes, SHELL.sats_per_plane)
    assert e.value.lines == (f"{tle_path}:5: bad TLE checksum (column 69 should be {tle_checksum(lines[4])})",)


def test_wrong_satellite_count_and_missing_file(tle_path: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"48 satellites, but network.leo_shell says 6 planes x 9 = 54"):
        load_tle_file(tle_path, 6, 9)
    with pytest.raises(UserError, match="cannot read TLE file"):
        load_tle_file(tmp_path / "nope.tle", 6, 8)


def test_orphan_and_short_lines(tmp_path: Path) -> None:
    lines = _walker_tle_lines(SHELL)
    path = tmp_path / "broken.tle"
    path.write_text("\n".join([lines[2], lines[1][:40], *lines[3:]]) + "\n")
    with pytest.raises(UserError) as e:
        load_tle_file(path, SHELL.planes, SHELL.sats_per_plane)
    assert e.value.lines[:2] == (
        f"{path}:1: TLE line 2 without a line 1 before it",
        f"{path}:2: TLE line shorter than 69 columns",
    )
