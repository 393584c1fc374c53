"""Confidence intervals for Monte-Carlo means: normal approximation and percentile bootstrap."""

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
