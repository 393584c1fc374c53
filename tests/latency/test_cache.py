"""The disk cache of LEO window statistics returns exactly what a fresh computation gives, and any
input that changes the answer changes the key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from computemoat.latency import cache
from computemoat.latency.matrix import Endpoint, rtt_between
from computemoat.model.network import NetworkSettings

USERS = [Endpoint("london", 51.5, -0.13, ground_station=False), Endpoint("nyc", 40.7, -74.0, ground_station=False)]
SITES = [Endpoint("frankfurt", 50.1, 8.7), Endpoint("ashburn", 39.0, -77.5)]
NET = NetworkSettings(leo_window_s=120, leo_step_s=60)


def test_second_call_reads_the_cache_and_equals_a_fresh_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path))
    first = rtt_between(USERS, SITES, NET)
    entries = list(tmp_path.glob("*.npz"))
    assert len(entries) == 1
    calls: list[int] = []
    monkeypatch.setattr("computemoat.latency.matrix.leo_rtt_stats", lambda *a, **k: calls.append(1))
    second = rtt_between(USERS, SITES, NET)
    assert calls == []  # served from disk
    np.testing.assert_array_equal(first.leo_rtt_p95_ms, second.leo_rtt_p95_ms)
    np.testing.assert_array_equal(first.rtt_ms, second.rtt_ms)


def test_changed_settings_or_points_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, str(tmp_path))
    st = (np.array([50.1, 39.0]), np.array([8.7, -77.5]))
    us = (np.array([51.5]), np.array([-0.13]))
    base = cache.cache_key(st, us, NET)
    assert cache.cache_key(st, us, NET) == base
    assert cache.cache_key(st, us, NET.model_copy(update={"leo_step_s": 30})) != base
    assert cache.cache_key(st, (np.array([51.6]), np.array([-0.13])), NET) != base


def test_off_disables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV_CACHE_DIR, "off")
    assert cache.cache_dir() is None
