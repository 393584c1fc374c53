"""Geometry of the ground: great-circle distance, fiber RTT, and ground points in Earth-fixed
coordinates on a sphere or an ellipsoid.

By default ground points use the mean Earth radius so that great-circle distances, fiber RTTs and
LEO ground links all live on the same sphere; this keeps the physical lower bound (no path between
two surface points outside the Earth is shorter than the great-circle arc) exact in every computed
RTT. ``EarthModel.WGS72`` / ``WGS84`` put them on the ellipsoid (Hypatia uses WGS72), with elevation
measured from the ellipsoid normal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from computemoat.model.network import C_VACUUM_KM_PER_S, EarthModel, NetworkSettings

EARTH_MEAN_RADIUS_KM = 6371.0088  # IUGG mean radius R1
MS_PER_S = 1000.0
# (equatorial radius km, flattening): WGS72 as in SGP4 / Hypatia, WGS84 (NGA TR8350.2)
ELLIPSOIDS: dict[EarthModel, tuple[float, float]] = {
    EarthModel.WGS72: (6378.135, 1 / 298.26),
    EarthModel.WGS84: (6378.137, 1 / 298.257223563),
}
# No submarine cable lands south of 60 deg S (TeleGeography Submarine Cable Map, 2024): Antarctic
# stations such as McMurdo reach the Internet by satellite only.
NO_FIBER_SOUTH_OF_DEG = -60.0

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def great_circle_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> FloatArray:
    """Haversine distance in km; arguments in degrees and broadcast like numpy ufuncs
    (pass ``lat1[:, None]`` and ``lat2[None, :]`` to get a users x sites matrix)."""
    phi1, lam1, phi2, lam2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    # clip guards against h slightly above 1 from rounding at antipodes
    arc: FloatArray = 2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return arc


def vacuum_rtt_ms(path_km: ArrayLike) -> FloatArray:
    """Round trip over ``path_km`` (one way) at the speed of light in vacuum."""
    return 2 * np.asarray(path_km, dtype=np.float64) / C_VACUUM_KM_PER_S * MS_PER_S


def has_terrestrial_route(lat_deg: ArrayLike) -> BoolArray:
    """Whether a place can reach the terrestrial fiber network at all (not in Antarctica)."""
    return np.asarray(np.asarray(lat_deg, dtype=np.float64) > NO_FIBER_SOUTH_OF_DEG)


def fiber_rtt_ms(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike, network: NetworkSettings
) -> FloatArray:
    """RTT over terrestrial fiber: great circle x route stretch at c / refractive index, both ways,
    plus the fixed overhead (last mile, processing); ``inf`` where either end has no terrestrial
    route (:func:`has_terrestrial_route`). Broadcasts like :func:`great_circle_km`."""
    route_km = great_circle_km(lat1, lon1, lat2, lon2) * network.fiber_route_stretch
    speed_km_per_s = C_VACUUM_KM_PER_S / network.fiber_refractive_index
    rtt = 2 * route_km / speed_km_per_s * MS_PER_S + network.fiber_overhead_ms
    reachable = has_terrestrial_route(lat1) & has_terrestrial_route(lat2)
    return np.where(reachable, rtt, np.inf)


def surface_normal(lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
    """Unit "up" vectors ``(..., 3)``: the sphere's radial direction, or the ellipsoid normal when
    the latitude is geodetic (the same formula)."""
    phi = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lam = np.radians(np.asarray(lon_deg, dtype=np.float64))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)


def ground_ecef_km(lat_deg: ArrayLike, lon_deg: ArrayLike, earth: EarthModel = EarthModel.SPHERE) -> FloatArray:
    """Earth-fixed cartesian coordinates (km), shape ``(..., 3)``, of surface points (height 0)."""
    up = surface_normal(lat_deg, lon_deg)
    if earth is EarthModel.SPHERE:
        return EARTH_MEAN_RADIUS_KM * up
    a_km, f = ELLIPSOIDS[earth]
    e2 = f * (2 - f)
    prime_vertical_km = a_km / np.sqrt(1 - e2 * up[..., 2] ** 2)  # up_z = sin(geodetic latitude)
    xyz = prime_vertical_km[..., None] * up
    xyz[..., 2] *= 1 - e2
    return xyz


def ecef_to_lat_lon_deg(xyz_km: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Geocentric latitude and longitude (degrees) of points ``(..., 3)``."""
    p = np.asarray(xyz_km, dtype=np.float64)
    lat = np.degrees(np.arctan2(p[..., 2], np.hypot(p[..., 0], p[..., 1])))
    lon = np.degrees(np.arctan2(p[..., 1], p[..., 0]))
    return lat, lon
