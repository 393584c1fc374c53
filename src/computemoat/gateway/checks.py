"""Active health checks and the modeled user→backend RTT, both computed off the request path."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from computemoat.gateway.config import GatewayConfig
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


class ActiveChecker:
    """Every ``interval_s``, a cheap GET per backend; a failed check takes it out of rotation until a
    later check passes. Passive ejection catches faults between checks."""

    def __init__(self, cfg: GatewayConfig, states: list[BackendState], origins: list[Origin]) -> None:
        self.health = cfg.health
        self.states = states
        self.origins = origins
        # its own pool: checks must not queue behind (or be starved by) request traffic
        self.pool = Pool(connect_timeout_s=cfg.health.timeout_s, read_timeout_s=cfg.health.timeout_s)
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> None:
        await asyncio.gather(*(self._check(s, o) for s, o in zip(self.states, self.origins, strict=True)))

    async def _check(self, s: BackendState, origin: Origin) -> None:
        try:
            async with asyncio.timeout(self.health.timeout_s):
                r = await self.pool.request(origin, "GET", self.health.path)
                await r.aread()
            s.actively_healthy = r.status_code < 500
        except (UpstreamError, TimeoutError, OSError):
            s.actively_healthy = False

    async def _loop(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self.health.interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="gateway-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pool.aclose()
