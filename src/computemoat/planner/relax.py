"""Relax and resolve: the one service infeasibility diagnosis and ``--explain`` share.

A :class:`Relaxation` drops one constraint family of a scenario (a policy, the SLOs, the power caps);
a :class:`Knob` is one deciding number (a share cap, a site's MW, an offering's capacity) that can be
moved toward feasibility. :func:`resolve` plans a changed scenario and says None when it has no plan;
:func:`smallest_feasible` bisects a knob for the least change that makes the scenario feasible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from computemoat.model import InfeasibleError, Scenario
from computemoat.planner.flatten import flatten
from computemoat.planner.solve import PlanResult, solve_flat
from computemoat.reliability import FaultModel

Edit = Callable[[Scenario], Scenario]


@dataclass(frozen=True)
class Relaxation:
    what: str  # field names, e.g. "policy.max_provider_share_spend=0.6"
    apply: Edit
    is_policy: bool  # priced by --explain (a choice of the user, not a fact of the world)


@dataclass(frozen=True)
class Knob:
    """A number of the scenario; ``at(v)`` is the scenario with it set to v; ``loosest`` always works
    at least as well as any other value; larger = looser when ``upward``."""

    field: str
    current: float
    loosest: float
    at: Callable[[float], Scenario]
    upward: bool = True
    integer_step: float | None = None  # capacity: whole instances


def _policy(sc: Scenario, **update: object) -> Scenario:
    return sc.model_copy(update={"policy": sc.policy.model_copy(update=update)})


def relaxations(sc: Scenario, *, capacity: bool = True) -> list[Relaxation]:
    """Every constraint family the scenario actually uses, as a way to drop it."""
    pol, out = sc.policy, []
    for name in ("max_provider_share_spend", "max_provider_share_gpus"):
        value = getattr(pol, name)
        if value is not None:
            out.append(Relaxation(f"policy.{name}={value:g}", _without_policy(name), True))
    if any(s.redundancy_k for s in sc.inference_services):
        ids = ", ".join(f"{s.id} (k={s.redundancy_k})" for s in sc.inference_services if s.redundancy_k)
        out.append(Relaxation(f"N+k redundancy of {ids}", lambda s: _services(s, redundancy_k=0), True))
    if pol.residency:
        out.append(Relaxation("policy.residency", lambda s: _policy(s, residency={}), True))
    if pol.excluded_providers or pol.excluded_jurisdictions:
        out.append(
            Relaxation(
                "policy.excluded_providers/excluded_jurisdictions",
                lambda s: _policy(s, excluded_providers=(), excluded_jurisdictions=()),
                True,
            )
        )
    if any(s.power_capacity_mw is not None for s in sc.sites):
        out.append(
            Relaxation(
                "site power caps (power_capacity_mw)",
                lambda s: s.model_copy(
                    update={"sites": tuple(x.model_copy(update={"power_capacity_mw": None}) for x in s.sites)}
                ),
                False,
            )
        )
    if sc.inference_services:
        out.append(
            Relaxation("inference latency SLOs (latency_slo_ms)", lambda s: _services(s, latency_slo_ms=1e9), False)
        )
    if any(j.deadline_hours is not None for j in sc.training_jobs):
        out.append(
            Relaxation(
                "training deadlines (deadline_hours)",
                lambda s: s.model_copy(
                    update={
                        "training_jobs": tuple(j.model_copy(update={"deadline_hours": None}) for j in s.training_jobs)
                    }
                ),
                False,
            )
        )
    if capacity:
        out.append(
            Relaxation(
                "offering capacity (capacity_gpus, x10)",
                lambda s: s.model_copy(
                    update={
                        "offerings": tuple(
                            o.model_copy(update={"capacity_gpus": o.capacity_gpus * 10}) for o in s.offerings
                        )
                    }
                ),
                False,
            )
        )
    return out


def _services(sc: Scenario, **update: object) -> Scenario:
    return sc.model_copy(
        update={"inference_services": tuple(v.model_copy(update=update) for v in sc.inference_services)}
    )


def knobs(sc: Scenario) -> list[Knob]:
    """The deciding numbers worth bisecting: each share cap, each power-capped site's MW, and each
    offering's capacity (the latter two only where the scenario has a few)."""
    out: list[Knob] = []
    for name in ("max_provider_share_spend", "max_provider_share_gpus"):
        value = getattr(sc.policy, name)
        if value is not None:
            out.append(Knob(f"policy.{name}", value, 1.0, _cap_at(sc, name)))
    capped = [s for s in sc.sites if s.power_capacity_mw is not None]
    for s in capped[:8]:
        assert s.power_capacity_mw is not None
        out.append(
            Knob(
                f"sites[{s.id}].power_capacity_mw",
                s.power_capacity_mw,
                s.power_capacity_mw * 100,
                partial(_site_mw, sc, s.id),
            )
        )
    if len(sc.offerings) <= 12:
        for o in sc.offerings:
            out.append(
                Knob(
                    f"offerings[{o.id}].capacity_gpus",
                    o.capacity_gpus,
                    o.capacity_gpus * 100.0,
                    partial(_capacity, sc, o.id),
                    integer_step=o.gpus_per_instance,
                )
            )
    return out


def _without_policy(name: str) -> Edit:
    return lambda s: _policy(s, **{name: None})


def _cap_at(sc: Scenario, name: str) -> Callable[[float], Scenario]:
    return lambda v: _policy(sc, **{name: min(1.0, v)})


def _site_mw(sc: Scenario, site_id: str, mw: float) -> Scenario:
    sites = tuple(s.model_copy(update={"power_capacity_mw": mw}) if s.id == site_id else s for s in sc.sites)
    return sc.model_copy(update={"sites": sites})


def _capacity(sc: Scenario, offering_id: str, gpus: float) -> Scenario:
    offs = tuple(o.model_copy(update={"capacity_gpus": int(gpus)}) if o.id == offering_id else o for o in sc.offerings)
    return sc.model_copy(update={"offerings": offs})


def resolve(
    sc: Scenario,
    rtt_ms: np.ndarray,
    *,
    faults: FaultModel | None,
    time_limit_s: float,
    mip_gap: float,
    anti_dilution: bool = True,
) -> PlanResult | None:
    """Plan ``sc``; None when it has no plan (or none was found in the time given)."""
    try:
        return solve_flat(
            flatten(sc, rtt_ms, faults=faults), time_limit_s=time_limit_s, mip_gap=mip_gap, anti_dilution=anti_dilution
        )
    except InfeasibleError:
        return None


def smallest_feasible(
    knob: Knob, rtt_ms: np.ndarray, *, faults: FaultModel | None, deadline: float, rel_tol: float = 1e-3
) -> float | None:
    """The least value of ``knob`` (to ``rel_tol``) with a plan; None when even ``loosest`` has none."""

    def ok(v: float) -> bool:
        left = deadline - time.perf_counter()
        return left > 0.1 and resolve(knob.at(v), rtt_ms, faults=faults, time_limit_s=left, mip_gap=0.05) is not None

    lo, hi = knob.current, knob.loosest
    if not ok(hi):
        return None
    while hi - lo > rel_tol * max(abs(hi), 1e-9) and time.perf_counter() < deadline:
        mid = (lo + hi) / 2
        if knob.integer_step:
            mid = np.ceil(mid / knob.integer_step) * knob.integer_step
            if mid >= hi:
                break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
