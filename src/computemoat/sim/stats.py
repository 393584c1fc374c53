"""Confidence intervals for Monte-Carlo results: normal approximation and percentile bootstrap for means,
exact binomial (Clopper-Pearson) intervals and bounds for availability, where downtime is rare and a
run without any is the usual case (a normal interval then collapses to [1, 1])."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int
    method: str


def normal_ci(values: ArrayLike, level: float = 0.95) -> Interval:
    """mean ± z·s/√n: fine for sums of many small effects (cost, goodput) with n ≳ 30."""
    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return Interval(m, m, m, int(x.size), "normal")
    half = float(stats.norm.ppf(0.5 + level / 2) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(m, m - half, m + half, int(x.size), "normal")


def bootstrap_ci(values: ArrayLike, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> Interval:
    """Percentile bootstrap of the mean: no normality assumption (availability is skewed near 1)."""
    x = np.asarray(values, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return Interval(m, m, m, int(x.size), "bootstrap")
    idx = np.random.default_rng(seed).integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(m, float(lo), float(hi), int(x.size), "bootstrap")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for a share k/n (Clopper & Pearson 1934): never outside [0, 1],
    coverage >= level for every true share."""
    if n <= 0:
        return 0.0, 1.0
    alpha = 1.0 - level
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def one_sided_upper(k: int, n: int, level: float = 0.95) -> float:
    """Exact one-sided upper bound on a share; for k = 0 it is 1 - (1 - level)^(1/n) ≈ 3/n at 95 %
    (the rule of three)."""
    if n <= 0 or k >= n:
        return 1.0
    return float(stats.beta.ppf(level, k + 1, n - k))


def runs_needed(share: float, level: float = 0.95) -> int:
    """Runs for a share ``share`` to show up at least once with probability ``level``: ln(1/α)/p ≈ 3/p."""
    return math.ceil(math.log(1.0 / (1.0 - level)) / share) if share > 0 else 0


def runs_share(n: int, level: float = 0.95) -> float:
    """The smallest share that ``n`` runs show at least once with probability ``level`` (inverse of runs_needed)."""
    return math.log(1.0 / (1.0 - level)) / n if n else 1.0


@dataclass(frozen=True)
class AvailabilityInterval:
    """What n runs can support about an availability: the share of runs with any downtime (exact
    interval), and a lower bound on availability that holds even when no run saw downtime.

    ``low`` is the normal interval's lower end (clipped to [0, 1]) once >= 3 runs had downtime; with
    fewer it is 1 - the one-sided exact upper bound on the downtime share, valid because a run's
    unavailability is at most 1 and is 0 in a run without downtime (so E[unavailability] <= P(downtime))."""

    mean: float
    low: float
    high: float
    runs: int
    runs_with_downtime: int
    downtime_share: float
    downtime_share_low: float
    downtime_share_high: float
    warning: str | None


def availability_interval(
    values: ArrayLike, level: float = 0.95, *, name: str = "availability", miss: str = "had downtime"
) -> AvailabilityInterval:
    """Interval for mean availability over runs (see AvailabilityInterval); also right for any per-run
    share in [0, 1] that is 1 unless something went wrong (jobs completed, deadlines met): ``name`` and
    ``miss`` word the warning."""
    x = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    n = int(x.size)
    k = int((x < 1.0).sum())
    share_lo, share_hi = clopper_pearson(k, n, level)
    mean = float(x.mean()) if n else math.nan
    warning = None
    if k >= 3:
        iv = normal_ci(x, level)
        low, high = max(iv.low, 0.0), min(iv.high, 1.0)
    else:
        low, high = 1.0 - one_sided_upper(k, n, level), 1.0
        warning = (
            f"{k} of {n} runs {miss} (< 3): {name} >= {low:.6f} at {level:.0%} is all they support; "
            f"a share p of such runs needs >= 3/p runs ({n} runs resolve p >= {runs_share(n, level):.3g})"
        )
    return AvailabilityInterval(mean, low, high, n, k, k / n if n else math.nan, share_lo, share_hi, warning)
