"""LEO constellations: Walker-delta shells propagated analytically, and their +Grid laser links.

Circular orbits only (the shells we model are circular), so a position is a rotation of the orbit
plane by right ascension and inclination, then of the Earth by its sidereal rate: no integration,
and a whole window of snapshots is one numpy expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from computemoat.model.network import LeoShell

EARTH_EQUATORIAL_RADIUS_KM = 6378.137  # WGS84; shell altitudes are quoted above it (FCC filings)
EARTH_GM_KM3_PER_S2 = 398_600.4418  # WGS84 gravitational parameter
EARTH_ROTATION_RAD_PER_S = 7.292_115_0e-5  # sidereal rate

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Constellation(Protocol):
    """What the LEO router needs: a plane-major satellite layout and Earth-fixed positions."""

    planes: int
    sats_per_plane: int

    @property
    def n_sats(self) -> int: ...

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        """Positions at seconds ``t_s`` after the start of the window, shape ``(len(t_s), n_sats, 3)``."""
        ...


@dataclass(frozen=True)
class WalkerShell:
    """A Walker-delta shell i:T/P/F. Satellite ``k`` is slot ``k % sats_per_plane`` of plane
    ``k // sats_per_plane``; at t=0 the Greenwich meridian is at right ascension 0."""

    planes: int
    sats_per_plane: int
    altitude_km: float
    inclination_deg: float
    phasing: int = 1

    @classmethod
    def from_settings(cls, shell: LeoShell) -> WalkerShell:
        return cls(shell.planes, shell.sats_per_plane, shell.altitude_km, shell.inclination_deg, shell.phasing)

    @property
    def n_sats(self) -> int:
        return self.planes * self.sats_per_plane

    @property
    def orbit_radius_km(self) -> float:
        return EARTH_EQUATORIAL_RADIUS_KM + self.altitude_km

    @property
    def period_s(self) -> float:
        return float(2 * np.pi * np.sqrt(self.orbit_radius_km**3 / EARTH_GM_KM3_PER_S2))

    def positions_ecef_km(self, t_s: ArrayLike) -> FloatArray:
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))[:, None]  # (T, 1)
        plane = np.repeat(np.arange(self.planes), self.sats_per_plane)  # (N,)
        slot = np.tile(np.arange(self.sats_per_plane), self.planes)
        raan = 2 * np.pi * plane / self.planes
        # Walker phasing: adjacent planes are offset by F x 360 deg / T in mean anomaly
        anomaly0 = 2 * np.pi * (slot / self.sats_per_plane + self.phasing * plane / self.n_sats)
        u = anomaly0[None, :] + (2 * np.pi / self.period_s) * t  # argument of latitude (T, N)
        inc = np.radians(self.inclination_deg)
        cos_u, sin_u = np.cos(u), np.sin(u)
        cos_o, sin_o = np.cos(raan), np.sin(raan)
        x = cos_o * cos_u - sin_o * sin_u * np.cos(inc)
        y = sin_o * cos_u + cos_o * sin_u * np.cos(inc)
        z = sin_u * np.sin(inc)
        return self.orbit_radius_km * _inertial_to_earth_fixed(np.stack([x, y, z], axis=-1), t[:, 0], 0.0)


def _inertial_to_earth_fixed(xyz: FloatArray, t_s: FloatArray, theta0_rad: float) -> FloatArray:
    """Rotate ``(T, N, 3)`` inertial vectors by the Earth's angle ``theta0 + omega t`` about z."""
    theta = theta0_rad + EARTH_ROTATION_RAD_PER_S * t_s
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = np.empty_like(xyz)
    out[..., 0] = c * xyz[..., 0] + s * xyz[..., 1]
    out[..., 1] = -s * xyz[..., 0] + c * xyz[..., 1]
    out[..., 2] = xyz[..., 2]
    return out


def plus_grid_isls(planes: int, sats_per_plane: int) -> tuple[IntArray, IntArray]:
    """+Grid inter-satellite links as undirected pairs ``(a, b)`` with ``a < b``: each satellite links
    to the next in its plane and to the same slot of the next plane (wrapping), so with at least
    3 planes and 3 slots every satellite has 4 links (Hypatia ``generate_plus_grid_isls``, shift 0)."""
    k = np.arange(planes * sats_per_plane)
    plane, slot = np.divmod(k, sats_per_plane)
    in_plane = plane * sats_per_plane + (slot + 1) % sats_per_plane
    cross_plane = ((plane + 1) % planes) * sats_per_plane + slot
    a = np.concatenate([k, k])
    b = np.concatenate([in_plane, cross_plane])
    pairs = np.unique(np.sort(np.stack([a, b], axis=1), axis=1), axis=0)  # tiny shells repeat links
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
