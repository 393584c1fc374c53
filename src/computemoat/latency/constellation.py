"""LEO constellations: Walker-delta shells propagated analytically, and their +Grid laser links.

Circular orbits only (the shells we model are circular), so a position is a rotation of the orbit
plane by right ascension and inclination, then of the Earth by its sidereal rate: no integration,
and a whole window of snapshots is one numpy expression. Several shells stack into one
:class:`MultiShell` (satellite ids shell after shell; laser links stay within a shell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from computemoat.model.network import LeoShell, PhasePattern

EARTH_EQUATORIAL_RADIUS_KM = 6378.137  # WGS84; shell altitudes are quoted above it (FCC filings)
EARTH_GM_KM3_PER_S2 = 398_600.4418  # WGS84 gravitational parameter
EARTH_ROTATION_RAD_PER_S = 7.292_115_0e-5  # sidereal rate
SECONDS_PER_DAY = 86_400.0

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Constellation(Protocol):
    """What the LEO router needs: Earth-fixed positions and the laser links between satellites."""

    @property
    def n_sats(self) -> int: ...

    @property
    def min_radius_km(self) -> float:
        """Lowest orbit radius: bounds how close a satellite path can come to the ground."""
        ...

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        """Positions at seconds ``t_s`` after t=0, shape ``(len(t_s), n_sats, 3)``."""
        ...

    def isl_pairs(self) -> tuple[IntArray, IntArray]:
        """Undirected laser links ``(a, b)``, ``a < b`` (whether each is usable is decided per snapshot)."""
        ...


@dataclass(frozen=True)
class WalkerShell:
    """A shell i:T/P/F. Satellite ``k`` is slot ``k % sats_per_plane`` of plane ``k // sats_per_plane``;
    at t=0 the Greenwich meridian is at right ascension ``greenwich_rad`` (0 unless an epoch is given)."""

    planes: int
    sats_per_plane: int
    altitude_km: float
    inclination_deg: float
    phasing: int = 1
    phase_pattern: PhasePattern = PhasePattern.WALKER
    raan_offset_deg: float = 0.0
    mean_motion_rev_per_day: float | None = None
    greenwich_rad: float = 0.0

    @classmethod
    def from_settings(cls, shell: LeoShell, greenwich_rad: float = 0.0) -> WalkerShell:
        return cls(
            shell.planes, shell.sats_per_plane, shell.altitude_km, shell.inclination_deg, shell.phasing,
            PhasePattern(shell.phase_pattern), shell.raan_offset_deg, shell.mean_motion_rev_per_day, greenwich_rad,
        )

    @property
    def n_sats(self) -> int:
        return self.planes * self.sats_per_plane

    @property
    def orbit_radius_km(self) -> float:
        """From the altitude, or from the mean motion by Kepler's third law when that is given."""
        if self.mean_motion_rev_per_day is None:
            return EARTH_EQUATORIAL_RADIUS_KM + self.altitude_km
        n_rad_per_s = self.mean_motion_rev_per_day * 2 * np.pi / SECONDS_PER_DAY
        return float((EARTH_GM_KM3_PER_S2 / n_rad_per_s**2) ** (1 / 3))

    @property
    def min_radius_km(self) -> float:
        return self.orbit_radius_km

    @property
    def period_s(self) -> float:
        return float(2 * np.pi * np.sqrt(self.orbit_radius_km**3 / EARTH_GM_KM3_PER_S2))

    def plane_phase_slots(self) -> FloatArray:
        """Mean-anomaly offset of each plane's slot 0, in slots (1 slot = 360 deg / sats_per_plane)."""
        p = np.arange(self.planes, dtype=np.float64)
        if self.phase_pattern is PhasePattern.ALTERNATING_HALF_SLOT:
            return 0.5 * (p % 2)
        return self.phasing * p / self.planes  # F x 360 / T per plane, in slots of 360 / S

    def seam_shift(self) -> int:
        """Slot of plane 0 that slot 0 of the last plane links to. Walker: plane P would be plane 0
        ahead by F slots, so the seam goes to slot j + F, at the same small offset as every other
        cross-plane link. Alternating half slot: plane 0 is half a slot from the last plane either
        way; slot j, as Hypatia does (``isl_shift=0``)."""
        if self.phase_pattern is PhasePattern.ALTERNATING_HALF_SLOT:
            return 0
        return self.phasing % self.sats_per_plane

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))[:, None]  # (T, 1)
        plane = np.repeat(np.arange(self.planes), self.sats_per_plane)  # (N,)
        slot = np.tile(np.arange(self.sats_per_plane), self.planes)
        raan = np.radians(self.raan_offset_deg) + 2 * np.pi * plane / self.planes
        anomaly0 = 2 * np.pi * (slot + self.plane_phase_slots()[plane]) / self.sats_per_plane
        u = anomaly0[None, :] + (2 * np.pi / self.period_s) * t  # argument of latitude (T, N)
        inc = np.radians(self.inclination_deg)
        cos_u, sin_u = np.cos(u), np.sin(u)
        cos_o, sin_o = np.cos(raan), np.sin(raan)
        x = cos_o * cos_u - sin_o * sin_u * np.cos(inc)
        y = sin_o * cos_u + cos_o * sin_u * np.cos(inc)
        z = sin_u * np.sin(inc)
        xyz = np.stack([x, y, z], axis=-1)
        return self.orbit_radius_km * inertial_to_earth_fixed(xyz, t[:, 0], self.greenwich_rad)

    def isl_pairs(self) -> tuple[IntArray, IntArray]:
        return plus_grid_isls(self.planes, self.sats_per_plane, self.seam_shift())


@dataclass(frozen=True)
class MultiShell:
    """Several shells as one constellation: ids run shell after shell, links stay inside a shell."""

    shells: tuple[WalkerShell, ...]

    @property
    def n_sats(self) -> int:
        return sum(s.n_sats for s in self.shells)

    @property
    def min_radius_km(self) -> float:
        return min(s.min_radius_km for s in self.shells)

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        return np.concatenate([s.positions_ecef_km(t_s) for s in self.shells], axis=1)

    def isl_pairs(self) -> tuple[IntArray, IntArray]:
        offsets = np.cumsum([0] + [s.n_sats for s in self.shells])
        links = [s.isl_pairs() for s in self.shells]
        a = np.concatenate([pa + off for (pa, _), off in zip(links, offsets, strict=False)])
        b = np.concatenate([pb + off for (_, pb), off in zip(links, offsets, strict=False)])
        return a.astype(np.int64), b.astype(np.int64)


def inertial_to_earth_fixed(xyz: FloatArray, t_s: FloatArray, theta0_rad: float) -> FloatArray:
    """Rotate ``(T, N, 3)`` inertial vectors by the Earth's angle ``theta0 + omega t`` about z."""
    theta = theta0_rad + EARTH_ROTATION_RAD_PER_S * t_s
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = np.empty_like(xyz)
    out[..., 0] = c * xyz[..., 0] + s * xyz[..., 1]
    out[..., 1] = -s * xyz[..., 0] + c * xyz[..., 1]
    out[..., 2] = xyz[..., 2]
    return out


_inertial_to_earth_fixed = inertial_to_earth_fixed  # older name, kept for callers


def plus_grid_isls(planes: int, sats_per_plane: int, seam_shift: int = 0) -> tuple[IntArray, IntArray]:
    """+Grid inter-satellite links as undirected pairs ``(a, b)`` with ``a < b``: each satellite links
    to the next in its plane and to the same slot of the next plane; from the last plane to plane 0
    the slot moves by ``seam_shift`` (the Walker phasing, see :meth:`WalkerShell.seam_shift`). With at
    least 3 planes and 3 slots every satellite has 4 links (Hypatia ``generate_plus_grid_isls``)."""
    k = np.arange(planes * sats_per_plane)
    plane, slot = np.divmod(k, sats_per_plane)
    in_plane = plane * sats_per_plane + (slot + 1) % sats_per_plane
    next_slot = np.where(plane == planes - 1, (slot + seam_shift) % sats_per_plane, slot)
    cross_plane = ((plane + 1) % planes) * sats_per_plane + next_slot
    a = np.concatenate([k, k])
    b = np.concatenate([in_plane, cross_plane])
    pairs = np.unique(np.sort(np.stack([a, b], axis=1), axis=1), axis=0)  # tiny shells repeat links
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def greenwich_angle_rad(jd_ut1: float) -> float:
    """Greenwich mean sidereal angle (IAU 1982, as SGP4 uses) at a Julian date."""
    from sgp4.propagation import gstime

    return float(gstime(jd_ut1))
