"""One config's routing world: backends' live state, their origins, the per-model index and the RTT
model. A hot reload builds a new ``Fleet`` beside the old one (unchanged backends keep their state) and
swaps it in one assignment; requests in flight keep the fleet they started with."""

from __future__ import annotations

from dataclasses import dataclass

from computemoat.gateway.checks import RttModel
from computemoat.gateway.config import GatewayConfig
from computemoat.gateway.health import BackendState, build_states
from computemoat.gateway.upstream import Origin


@dataclass(frozen=True, slots=True)
class Fleet:
    cfg: GatewayConfig
    states: list[BackendState]
    origins: list[Origin]
    by_model: dict[str, list[tuple[int, BackendState]]]
    rtt: RttModel

    def available(self, model: str, now_s: float) -> int:
        return sum(s.available(now_s) for _, s in self.by_model.get(model, ()))


def build_fleet(cfg: GatewayConfig, previous: Fleet | None = None) -> Fleet:
    """Resolve every origin first (a ``UserError`` naming the backend if a key or CA is missing), so
    a bad config never replaces a good one half-way."""
    origins = [Origin.from_backend(b) for b in cfg.backends]
    states = build_states(
        cfg.backends, cfg.health, cfg.provider_max_concurrency, previous.states if previous else None
    )
    by_model: dict[str, list[tuple[int, BackendState]]] = {}
    for i, s in enumerate(states):
        for m in s.cfg.models:
            by_model.setdefault(m, []).append((i, s))
    return Fleet(cfg, states, origins, by_model, RttModel(cfg))
