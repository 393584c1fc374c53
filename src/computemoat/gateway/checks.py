"""Active health checks and the modeled user→backend RTT, both computed off the request path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np

from computemoat.gateway.config import GatewayConfig, HealthConfig
from computemoat.gateway.errors import RequestError
from computemoat.gateway.health import BackendState
from computemoat.gateway.upstream import Origin, Pool, UpstreamError
from computemoat.latency.geo import fiber_rtt_ms
from computemoat.model.network import NetworkSettings


class RttModel:
    """Fiber RTT (``latency.geo.fiber_rtt_ms``, default network settings) from a user to every backend
    site; named user regions are computed once at start, coordinates per request (one numpy call)."""

    def __init__(self, cfg: GatewayConfig, network: NetworkSettings | None = None) -> None:
        self.network = network or NetworkSettings()
        self.site_lat = np.array([b.lat_deg for b in cfg.backends])
        self.site_lon = np.array([b.lon_deg for b in cfg.backends])
        self.by_region: dict[str, list[float]] = {
            r.name: self.from_point(r.lat_deg, r.lon_deg) for r in cfg.user_regions
        }

    def from_point(self, lat_deg: float, lon_deg: float) -> list[float]:
        return fiber_rtt_ms(lat_deg, lon_deg, self.site_lat, self.site_lon, self.network).tolist()

    def resolve(self, region: str | None, point: tuple[float, float] | None) -> list[float] | None:
        """RTT per backend for a request, or None when it names no location (policies then use
        observed latency alone)."""
        if point is not None:
            return self.from_point(*point)
        if region is None:
            return None
        rtt = self.by_region.get(region)
        if rtt is None:
            known = ", ".join(sorted(self.by_region)) or "none configured (add user_regions to the config)"
            raise RequestError(400, f"X-User-Region {region!r} is not a configured user region; known: {known}")
        return rtt


# What the checker needs of the current fleet: (health settings, backend states, their origins).
FleetView = Callable[[], tuple[HealthConfig, list[BackendState], list[Origin]]]


class ActiveChecker:
    """Every ``interval_s``, a cheap GET per backend of the *current* fleet (a reload changes it); a
    failed check takes it out of rotation (cancelling its non-streamed attempts) until a later check
    passes, which resets its latency estimate. Passive ejection catches faults between checks."""

    def __init__(self, view: FleetView, on_round: Callable[[], None] | None = None) -> None:
        self.view = view
        self.on_round = on_round
        health = view()[0]
        # its own pool: checks must not queue behind (or be starved by) request traffic
        self.pool = Pool(connect_timeout_s=health.timeout_s, read_timeout_s=health.timeout_s)
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> None:
        health, states, origins = self.view()
        await asyncio.gather(*(self._check(health, s, o) for s, o in zip(states, origins, strict=True)))
        if self.on_round is not None:
            self.on_round()

    async def _check(self, health: HealthConfig, s: BackendState, origin: Origin) -> None:
        try:
            async with asyncio.timeout(health.timeout_s):
                r = await self.pool.request(origin, "GET", health.path)
                await r.aread()
            s.set_active_health(r.status_code < 500)
        except (UpstreamError, TimeoutError, OSError):
            s.set_active_health(False)

    async def _loop(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self.view()[0].interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="gateway-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pool.aclose()
