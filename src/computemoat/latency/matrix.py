"""The users x sites RTT matrix the planner consumes: fiber, LEO statistics, and the better of the two.

Which path "wins" is decided on the LEO *p95* against fiber: the planner turns RTTs into hard latency
SLOs, and a LEO path that meets the SLO only at its best moment would break it most of the time.
A site that cannot host a ground station is reached over LEO to the ground station that gives the
lowest p95 (LEO to the station + fiber on to the site), or not at all (``network.leo_site_fallback``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from computemoat.latency.cache import cache_key, cached_stats
from computemoat.latency.constellation import Constellation, FloatArray
from computemoat.latency.geo import fiber_rtt_ms
from computemoat.latency.leo import Progress
from computemoat.latency.stats import LeoStats
from computemoat.latency.window import leo_rtt_series_ms, leo_rtt_stats
from computemoat.model.errors import UserError
from computemoat.model.network import NetworkSettings
from computemoat.model.scenario import Scenario
from computemoat.model.suggest import did_you_mean

if TYPE_CHECKING:
    import pandas as pd

PATH_FIBER = "fiber"
PATH_LEO = "leo"
PATH_NONE = "none"  # neither fiber (no terrestrial route) nor LEO reaches


@dataclass(frozen=True)
class Endpoint:
    """A point on the ground; ``ground_station`` says whether it can uplink to the constellation."""

    name: str
    lat_deg: float
    lon_deg: float
    ground_station: bool = True


@dataclass(frozen=True, eq=False)
class RttMatrix:
    """RTTs users x sites (ms). ``rtt_ms`` is the better of fiber and LEO p95 (``inf`` where neither
    reaches); LEO arrays are ``inf`` (outage 1.0) where the constellation gives no path."""

    users: tuple[str, ...]
    sites: tuple[str, ...]
    rtt_ms: FloatArray
    path_kind: np.ndarray
    fiber_rtt_ms: FloatArray
    leo_rtt_min_ms: FloatArray
    leo_rtt_median_ms: FloatArray
    leo_rtt_p95_ms: FloatArray
    leo_rtt_max_ms: FloatArray
    leo_outage_fraction: FloatArray

    def to_frame(self) -> pd.DataFrame:
        """One row per (user, site) pair, for CSV/Parquet output and quick inspection."""
        import pandas as pd

        u, s = np.meshgrid(np.arange(len(self.users)), np.arange(len(self.sites)), indexing="ij")
        return pd.DataFrame(
            {
                "user": np.asarray(self.users, dtype=object)[u.ravel()],
                "site": np.asarray(self.sites, dtype=object)[s.ravel()],
                "rtt_ms": self.rtt_ms.ravel(),
                "path_kind": self.path_kind.ravel(),
                "fiber_rtt_ms": self.fiber_rtt_ms.ravel(),
                "leo_rtt_min_ms": self.leo_rtt_min_ms.ravel(),
                "leo_rtt_median_ms": self.leo_rtt_median_ms.ravel(),
                "leo_rtt_p95_ms": self.leo_rtt_p95_ms.ravel(),
                "leo_rtt_max_ms": self.leo_rtt_max_ms.ravel(),
                "leo_outage_fraction": self.leo_outage_fraction.ravel(),
            }
        )


def rtt_between(
    users: Sequence[Endpoint],
    sites: Sequence[Endpoint],
    network: NetworkSettings,
    *,
    constellation: Constellation | None = None,
    progress: Progress | None = None,
) -> RttMatrix:
    """RTT matrix between arbitrary ground points (the ``users`` side never relays for others)."""
    u_lat, u_lon = _lat_lon(users)
    s_lat, s_lon = _lat_lon(sites)
    fiber = fiber_rtt_ms(u_lat[:, None], u_lon[:, None], s_lat[None, :], s_lon[None, :], network)
    leo = _leo_to_sites(users, sites, network, constellation, progress)
    better_leo = leo.p95_ms < fiber
    rtt = np.where(better_leo, leo.p95_ms, fiber)
    return RttMatrix(
        users=tuple(e.name for e in users),
        sites=tuple(e.name for e in sites),
        rtt_ms=rtt,
        path_kind=np.where(np.isinf(rtt), PATH_NONE, np.where(better_leo, PATH_LEO, PATH_FIBER)),
        fiber_rtt_ms=fiber,
        leo_rtt_min_ms=leo.min_ms,
        leo_rtt_median_ms=leo.median_ms,
        leo_rtt_p95_ms=leo.p95_ms,
        leo_rtt_max_ms=leo.max_ms,
        leo_outage_fraction=leo.outage_fraction,
    )


def leo_rtt_series_between(
    pairs: Sequence[tuple[Endpoint, Endpoint]],
    times_s: Sequence[float] | FloatArray,
    network: NetworkSettings,
    *,
    constellation: Constellation | None = None,
) -> FloatArray:
    """LEO RTT (ms) of each ``(a, b)`` pair at each of ``times_s`` (seconds after t=0, fractions
    allowed; ``network.leo_epoch`` fixes t=0), shape ``(T, len(pairs))``, ``inf`` where no path.
    ``a`` is a terminal, ``b`` a station (so b relays nothing unless ``leo_ground_relays``)."""
    if not pairs:
        return np.empty((len(np.atleast_1d(times_s)), 0))
    a_pts = sorted({(a.lat_deg, a.lon_deg) for a, _ in pairs})
    b_pts = sorted({(b.lat_deg, b.lon_deg) for _, b in pairs})
    a_idx = np.array([a_pts.index((a.lat_deg, a.lon_deg)) for a, _ in pairs])
    b_idx = np.array([b_pts.index((b.lat_deg, b.lon_deg)) for _, b in pairs])
    series = leo_rtt_series_ms(
        (np.array([p[0] for p in b_pts]), np.array([p[1] for p in b_pts])),
        (np.array([p[0] for p in a_pts]), np.array([p[1] for p in a_pts])),
        times_s, network, constellation=constellation,
    )
    return series[:, a_idx, b_idx]


def rtt_matrix(scenario: Scenario, *, progress: Progress | None = None) -> RttMatrix:
    """The matrix ``scenario.user_regions`` x ``scenario.sites`` under ``scenario.network``."""
    users = [Endpoint(r.name, r.lat_deg, r.lon_deg, ground_station=False) for r in scenario.user_regions]
    sites = [Endpoint(s.id, s.lat_deg, s.lon_deg, s.ground_station) for s in scenario.sites]
    return rtt_between(users, sites, scenario.network, progress=progress)


def _lat_lon(points: Sequence[Endpoint]) -> tuple[FloatArray, FloatArray]:
    return (
        np.array([p.lat_deg for p in points], dtype=np.float64),
        np.array([p.lon_deg for p in points], dtype=np.float64),
    )


def _leo_to_sites(
    users: Sequence[Endpoint],
    sites: Sequence[Endpoint],
    network: NetworkSettings,
    constellation: Constellation | None,
    progress: Progress | None,
) -> LeoStats:
    shape = (len(users), len(sites))
    has_station = np.array([s.ground_station for s in sites], dtype=bool)
    if not network.leo_enabled or not has_station.any() or not users:
        unreachable = np.full(shape, np.inf)
        if progress is not None:
            progress(1, 1)
        return LeoStats(unreachable, unreachable, unreachable, unreachable, np.ones(shape))
    s_lat, s_lon = _lat_lon(sites)
    stations = np.flatnonzero(has_station)
    st_ll, us_ll = (s_lat[stations], s_lon[stations]), _lat_lon(users)

    def compute() -> LeoStats:
        return leo_rtt_stats(st_ll, us_ll, network, constellation=constellation, progress=progress)

    # users x stations; an explicit constellation object is not part of the key, so it is never cached
    if constellation is not None:
        to_station = compute()
    else:
        to_station = cached_stats(
            cache_key(st_ll, us_ll, network), compute, on_hit=(lambda: progress(1, 1)) if progress else None
        )
    # Each site's LEO entry point: itself when it hosts a station; else, per user, the station that
    # minimises LEO p95 to the station + fiber from the station to the site (fallback "fiber").
    if network.leo_site_fallback == "fiber":
        backhaul_ms = fiber_rtt_ms(
            s_lat[stations][:, None], s_lon[stations][:, None], s_lat[None, :], s_lon[None, :], network
        )  # stations x sites
    else:
        backhaul_ms = np.full((len(stations), len(sites)), np.inf)
    backhaul_ms[:, has_station] = np.inf
    backhaul_ms[np.searchsorted(stations, np.flatnonzero(has_station)), np.flatnonzero(has_station)] = 0.0
    via = np.argmin(to_station.p95_ms[:, :, None] + backhaul_ms[None, :, :], axis=1)  # users x sites
    hop_ms = backhaul_ms[via, np.arange(len(sites))[None, :]]
    rows = np.arange(len(users))[:, None]
    reachable = np.isfinite(hop_ms)

    def pick(stat: FloatArray) -> FloatArray:
        return np.where(reachable, stat[rows, via] + hop_ms, np.inf)

    return LeoStats(
        pick(to_station.min_ms),
        pick(to_station.median_ms),
        pick(to_station.p95_ms),
        pick(to_station.max_ms),
        np.where(reachable, to_station.outage_fraction[rows, via], 1.0),
    )


def rtt_point(
    user: Endpoint, target: str | Endpoint, scenario: Scenario, *, progress: Progress | None = None
) -> RttMatrix:
    """A 1 x 1 matrix from ``user`` to a site of ``scenario`` (by id; the scenario's ground stations
    serve the LEO fallback) or to another ground point (a terminal that can uplink itself)."""
    if isinstance(target, Endpoint):
        return rtt_between([user], [target], scenario.network, progress=progress)
    ids = [s.id for s in scenario.sites]
    if target not in ids:
        hint = did_you_mean(target, ids)
        hint = f"{hint} " if hint else ""
        raise UserError(f"unknown site {target!r} ({hint}site ids are provider:region, e.g. {ids[0]!r})"
                        if ids else f"unknown site {target!r} (the scenario has no sites)")
    sites = [Endpoint(s.id, s.lat_deg, s.lon_deg, s.ground_station) for s in scenario.sites]
    full = rtt_between([user], sites, scenario.network, progress=progress)
    j = ids.index(target)
    return RttMatrix(
        users=full.users,
        sites=(target,),
        **{f: getattr(full, f)[:, j : j + 1] for f in _ARRAY_FIELDS},
    )


_ARRAY_FIELDS = (
    "rtt_ms", "path_kind", "fiber_rtt_ms", "leo_rtt_min_ms", "leo_rtt_median_ms", "leo_rtt_p95_ms",
    "leo_rtt_max_ms", "leo_outage_fraction",
)
