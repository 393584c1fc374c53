"""What a training job does when its site goes down: an enum -> function registry (STYLE.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from computemoat.sim.faults import OutagePolicy


@dataclass(frozen=True)
class OutageContext:
    """What a policy may know at the outage's start (not its actual end: the sim does not peek)."""

    expected_outage_ns: int
    migration_ns: int  # checkpoint transfer + restart elsewhere
    can_replan: bool


def _wait(ctx: OutageContext) -> bool:
    return False


def _migrate(ctx: OutageContext) -> bool:
    return ctx.can_replan


def _auto(ctx: OutageContext) -> bool:
    return ctx.can_replan and ctx.expected_outage_ns > ctx.migration_ns


OUTAGE_POLICIES: dict[OutagePolicy, Callable[[OutageContext], bool]] = {
    OutagePolicy.wait: _wait,
    OutagePolicy.migrate: _migrate,
    OutagePolicy.auto: _auto,
}


def should_migrate(policy: OutagePolicy, ctx: OutageContext) -> bool:
    return OUTAGE_POLICIES[policy](ctx)
