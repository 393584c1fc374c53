"""The coarse random events of one run, drawn all at once with numpy: site outages (per site, site-wide
failure domains such as cooling, provider wide and regional), price changes. GPU interruptions are drawn
per training stretch in training.py because their rate depends on where the job runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from computemoat.model import Scenario
from computemoat.sim.faults import HOURS_PER_YEAR, FaultModel
from computemoat.sim.streams import stream

NS_PER_S = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_S
EARTH_RADIUS_KM = 6371.0

I64 = NDArray[np.int64]


def hours_to_ns(hours: float) -> int:
    return round(hours * NS_PER_HOUR)


@dataclass(frozen=True)
class Timeline:
    """Outages as merged, sorted ``[start_ns, end_ns)`` intervals per site; price factor steps per
    provider (factor applies from its time on, relative to the plan's price)."""

    horizon_ns: int
    outages: dict[str, tuple[I64, I64]]
    outage_counts: dict[str, int]  # by kind: site, provider, regional
    withdraw_ns: dict[str, int]
    price_times_ns: dict[str, I64]
    price_factors: dict[str, NDArray[np.float64]]

    def down_intervals(self, site_id: str) -> tuple[I64, I64]:
        empty = np.zeros(0, dtype=np.int64)
        return self.outages.get(site_id, (empty, empty))

    def outage_at(self, site_id: str, t_ns: int) -> tuple[int, int] | None:
        """The outage interval containing ``t_ns``, if any."""
        starts, ends = self.down_intervals(site_id)
        i = int(np.searchsorted(starts, t_ns, side="right")) - 1
        if i >= 0 and ends[i] > t_ns:
            return int(starts[i]), int(ends[i])
        return None

    def price_hours(self, provider: str, t0_ns: int, t1_ns: int) -> float:
        """∫ price factor dt over ``[t0, t1)`` in hours: cost = plan rate (USD/h) x this."""
        if t1_ns <= t0_ns:
            return 0.0
        times = self.price_times_ns.get(provider)
        if times is None or len(times) == 0:
            return (t1_ns - t0_ns) / NS_PER_HOUR
        factors = self.price_factors[provider]
        edges = np.concatenate(([t0_ns], times[(times > t0_ns) & (times < t1_ns)], [t1_ns]))
        idx = np.searchsorted(times, edges[:-1], side="right") - 1
        f = np.where(idx >= 0, factors[np.maximum(idx, 0)], 1.0)
        return float(np.sum(np.diff(edges) * f)) / NS_PER_HOUR


def _lognormal_ns(rng: np.random.Generator, mean_hours: NDArray[np.float64], sigma: float) -> I64:
    mu = np.log(mean_hours) - sigma**2 / 2  # so that E[duration] = mean_hours
    return (rng.lognormal(mu, sigma) * NS_PER_HOUR).astype(np.int64)


def _merge(starts: I64, ends: I64) -> tuple[I64, I64]:
    """Union of intervals, sorted; overlapping outages of one site count once."""
    if len(starts) <= 1:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > run_end[:-1]
    group = np.cumsum(new) - 1
    out_e = np.zeros(int(group[-1]) + 1, dtype=np.int64)
    np.maximum.at(out_e, group, e)
    return s[new], out_e


def _distance_km(lat: NDArray[np.float64], lon: NDArray[np.float64], i: int) -> NDArray[np.float64]:
    la, lo, la0, lo0 = np.radians(lat), np.radians(lon), np.radians(lat[i]), np.radians(lon[i])
    h = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _poisson_starts(rng: np.random.Generator, rate_per_h: float, horizon_ns: int) -> I64:
    k = int(rng.poisson(rate_per_h * horizon_ns / NS_PER_HOUR)) if rate_per_h > 0 else 0
    return rng.integers(0, horizon_ns, size=k, dtype=np.int64)


def draw_timeline(scenario: Scenario, faults: FaultModel, horizon_ns: int, seed: int) -> Timeline:
    """Poisson arrivals, each site / provider / event kind from its own stream (common random numbers):
    count ~ Poisson(rate x horizon), times ~ uniform, durations lognormal with the configured mean."""
    sites = scenario.sites
    site_ix: list[I64] = []
    starts: list[I64] = []
    ends: list[I64] = []
    counts = {"site": 0, "provider": 0, "regional": 0}
    site_domains = [d for d in faults.active_domains() if d.gpus is None]
    counts.update({d.name: 0 for d in site_domains})
    sigma = faults.outage_duration_sigma
    if faults.random_faults and sites:
        for i, s in enumerate(sites):
            # 1. independent site outages (SLA-derived rate per provider); 1b. site-wide failure domains
            kinds = [("site", faults.site_outages_per_year(s.provider), faults.site_outage_mean_hours(s.provider))]
            kinds += [(d.name, d.failures_per_domain_year, d.repair_hours) for d in site_domains]
            for kind, per_year, mean_h in kinds:
                rng = stream(seed, "outage", kind, s.id)
                st = _poisson_starts(rng, per_year / HOURS_PER_YEAR, horizon_ns)
                site_ix.append(np.full(st.size, i, dtype=np.int64))
                starts.append(st)
                ends.append(st + _lognormal_ns(rng, np.full(st.size, mean_h), sigma))
                counts[kind] += int(st.size)
        # 2. provider-wide outages: one draw per provider, expanded to all of its sites
        for p in scenario.providers:
            rng = stream(seed, "outage", "provider", p.name)
            st = _poisson_starts(rng, faults.provider_wide_per_year(p.name) / HOURS_PER_YEAR, horizon_ns)
            own = np.array([i for i, s in enumerate(sites) if s.provider == p.name], dtype=np.int64)
            if st.size == 0 or own.size == 0:
                continue
            du = _lognormal_ns(rng, np.full(st.size, faults.site_outage_mean_hours(p.name)), sigma)
            site_ix.append(np.tile(own, st.size))
            starts.append(np.repeat(st, own.size))
            ends.append(np.repeat(st + du, own.size))
            counts["provider"] += int(st.size)
        # 3. correlated regional events: every site within the radius of a random epicentre site
        rng = stream(seed, "outage", "regional")
        lat = np.array([s.lat_deg for s in sites])
        lon = np.array([s.lon_deg for s in sites])
        regional = _poisson_starts(rng, faults.regional_events_per_year / HOURS_PER_YEAR, horizon_ns)
        for st0 in regional:
            hit = np.flatnonzero(
                _distance_km(lat, lon, int(rng.integers(len(sites)))) <= faults.regional_event_radius_km
            )
            du_ns = int(_lognormal_ns(rng, np.array([faults.regional_event_mean_hours]), sigma)[0])
            site_ix.append(hit.astype(np.int64))
            starts.append(np.full(hit.size, st0, dtype=np.int64))
            ends.append(np.full(hit.size, st0 + du_ns, dtype=np.int64))
        counts["regional"] = int(regional.size)
    outages: dict[str, tuple[I64, I64]] = {}
    if site_ix:
        all_ix, all_st, all_en = np.concatenate(site_ix), np.concatenate(starts), np.concatenate(ends)
        order = np.argsort(all_ix, kind="stable")
        all_ix, all_st, all_en = all_ix[order], all_st[order], np.minimum(all_en[order], 2**62)
        bounds = np.flatnonzero(np.diff(all_ix)) + 1
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), all_ix.size], strict=True):
            if b > a:
                outages[sites[int(all_ix[a])].id] = _merge(all_st[a:b], all_en[a:b])
    price_t: dict[str, I64] = {}
    price_f: dict[str, NDArray[np.float64]] = {}
    if faults.random_faults and faults.price_changes_per_year > 0:
        for p in scenario.providers:
            rng = stream(seed, "price", p.name)
            t = np.sort(_poisson_starts(rng, faults.price_changes_per_year / HOURS_PER_YEAR, horizon_ns))
            steps = rng.lognormal(np.log(faults.price_change_median_factor), faults.price_change_sigma, size=t.size)
            price_t[p.name], price_f[p.name] = t, np.cumprod(steps).astype(np.float64)
    withdraw = {w.provider: hours_to_ns(w.at_hours) for w in faults.withdrawals}
    return Timeline(horizon_ns, outages, counts, withdraw, price_t, price_f)
