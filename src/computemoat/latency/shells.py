"""Bundled constellations (shell tables with their public sources) and the one constellation a
``NetworkSettings`` describes.

Phasing is not published in the filings; the Walker F of each shell is our assumption (F = 1, the
usual choice in Hypatia's and StarPerf's Walker-delta models), and laser links stay within a shell.
"""

from __future__ import annotations

from datetime import UTC, datetime

from computemoat.latency.constellation import Constellation, MultiShell, WalkerShell, greenwich_angle_rad
from computemoat.model.network import Constellation as ConstellationName
from computemoat.model.network import LeoShell, NetworkSettings

# SpaceX Gen1, FCC modification SAT-MOD-20200417-00037 granted 27 April 2021 (FCC 21-48), Table 1:
# planes x satellites, altitude, inclination. 4,408 satellites.
STARLINK_GEN1: tuple[LeoShell, ...] = (
    LeoShell(planes=72, sats_per_plane=22, altitude_km=550, inclination_deg=53.0),
    LeoShell(planes=72, sats_per_plane=22, altitude_km=540, inclination_deg=53.2),
    LeoShell(planes=36, sats_per_plane=20, altitude_km=570, inclination_deg=70.0),
    LeoShell(planes=6, sats_per_plane=58, altitude_km=560, inclination_deg=97.6),
    LeoShell(planes=4, sats_per_plane=43, altitude_km=560, inclination_deg=97.6),
)

# Amazon Kuiper, FCC application SAT-LOA-20190704-00057 granted 30 July 2020 (FCC 20-102), the
# three shells of 3,236 satellites (Hypatia models the first as "Kuiper-630").
KUIPER: tuple[LeoShell, ...] = (
    LeoShell(planes=34, sats_per_plane=34, altitude_km=630, inclination_deg=51.9),
    LeoShell(planes=36, sats_per_plane=36, altitude_km=610, inclination_deg=42.0),
    LeoShell(planes=28, sats_per_plane=28, altitude_km=590, inclination_deg=33.0),
)

BUNDLED: dict[ConstellationName, tuple[LeoShell, ...]] = {
    ConstellationName.STARLINK_GEN1: STARLINK_GEN1,
    ConstellationName.KUIPER: KUIPER,
}

_JD_UNIX_EPOCH = 2_440_587.5


def julian_date(when: datetime) -> float:
    """Julian date (UTC, as UT1: the sub-second difference is below this model's resolution)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return _JD_UNIX_EPOCH + aware.timestamp() / 86_400.0


def shells_of(network: NetworkSettings) -> tuple[LeoShell, ...]:
    """The Walker shells the settings describe (not used when a TLE file is given)."""
    if network.leo_constellation is not None:
        return BUNDLED[ConstellationName(network.leo_constellation)]
    return network.leo_shells or (network.leo_shell,)


def constellation_for(network: NetworkSettings) -> Constellation:
    """The shells of the settings (one, several, or a bundled set), or the satellites of
    ``network.tle_file``. ``network.leo_epoch`` fixes the Greenwich angle at t=0."""
    if network.tle_file:
        from computemoat.latency.tle import load_tle_file

        shell = network.leo_shell
        return load_tle_file(network.tle_file, shell.planes, shell.sats_per_plane, epoch=network.leo_epoch)
    theta0 = 0.0 if network.leo_epoch is None else greenwich_angle_rad(julian_date(network.leo_epoch))
    shells = tuple(WalkerShell.from_settings(s, theta0) for s in shells_of(network))
    return shells[0] if len(shells) == 1 else MultiShell(shells)
