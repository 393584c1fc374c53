"""The validator catches each kind of violation (one test per kind) and passes every MILP plan."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from computemoat.model import Assignment, Plan, Policy, Scenario, Tier, UserRegion
from computemoat.planner import plan, validate_plan


@pytest.fixture
def base(kit: SimpleNamespace) -> tuple[Scenario, np.ndarray, Plan]:
    """Three providers, one job, one N+1 service; the MILP plan is valid."""
    regions = [UserRegion(name="NYC", lat_deg=40.7, lon_deg=-74.0), UserRegion(name="London", lat_deg=51.5, lon_deg=0)]
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b"), kit.provider("c", "NL")],
        sites=[kit.site("a", "r1", power_capacity_mw=1.0), kit.site("b", "r1"), kit.site("c", "r1")],
        offerings=[
            kit.offering("a:r1", 1.0, 128, spot=0.5),
            kit.offering("b:r1", 1.5, 128),
            kit.offering("c:r1", 2.0, 128),
        ],
        jobs=[kit.job("train", 64)],
        services=[kit.service("chat", {"NYC": 40.0, "London": 20.0}, k=1)],
        regions=regions,
        policy=Policy(max_provider_share_spend=0.9, max_provider_share_gpus=0.9),
    )
    lat = kit.rtt(sc)
    p = plan(sc, lat).plan
    assert validate_plan(sc, p, lat) == []
    return sc, lat, p


def _kinds(sc: Scenario, p: Plan, lat: np.ndarray) -> set[str]:
    return {v.kind for v in validate_plan(sc, p, lat)}


def _swap_training(p: Plan, **update: object) -> Plan:
    return p.model_copy(update={"training": (p.training[0].model_copy(update=update),)})


def test_capacity(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    small = sc.model_copy(update={"offerings": tuple(o.model_copy(update={"capacity_gpus": 8}) for o in sc.offerings)})
    assert "capacity" in _kinds(small, p, lat)


def test_power(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    tight = sc.model_copy(update={"sites": tuple(s.model_copy(update={"power_capacity_mw": 0.001}) for s in sc.sites)})
    assert "power" in _kinds(tight, p, lat)


def test_slo(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    assert "slo" in _kinds(sc, p, lat + 100.0)


def test_residency(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    to_us = tuple(a.model_copy(update={"site_id": "a:r1"}) if a.region == "London" else a for a in p.assignments)
    eu_only = sc.model_copy(update={"policy": sc.policy.model_copy(update={"residency": {"London": ("NL",)}})})
    assert "residency" in _kinds(eu_only, p.model_copy(update={"assignments": to_us}), lat)
    assert "residency" not in _kinds(sc, p.model_copy(update={"assignments": to_us}), lat)


def test_redundancy(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    keep = p.inference[0].provider
    one_provider = p.model_copy(
        update={
            "inference": tuple(i for i in p.inference if i.provider == keep),
            "total_cost_usd": sum(x.cost_usd for x in p.training)
            + sum(i.cost_usd for i in p.inference if i.provider == keep),
        }
    )
    kinds = _kinds(sc, one_provider, lat)
    assert "redundancy" in kinds


def test_exclusion(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    banned = sc.model_copy(
        update={"policy": sc.policy.model_copy(update={"excluded_providers": (p.training[0].provider,)})}
    )
    assert "exclusion" in _kinds(banned, p, lat)


def test_spend_cap_and_gpu_cap(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    capped = sc.model_copy(
        update={
            "policy": sc.policy.model_copy(update={"max_provider_share_spend": 0.3, "max_provider_share_gpus": 0.3})
        }
    )
    assert {"spend_cap", "gpu_cap"} <= _kinds(capped, p, lat)


def test_training_placed_twice_or_missing(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    assert "training" in _kinds(sc, p.model_copy(update={"training": p.training * 2}), lat)
    assert "training" in _kinds(sc, p.model_copy(update={"training": ()}), lat)


def test_training_too_few_gpus(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    assert "training" in _kinds(sc, _swap_training(p, gpus=32), lat)


def test_tier_spot_not_allowed(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    spot = _swap_training(p, tier=Tier.spot, offering_id="a:r1:gpu8", site_id="a:r1", provider="a")
    assert "tier" in _kinds(sc, spot, lat)


def test_demand_not_fully_assigned(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    half = tuple(a.model_copy(update={"rps": a.rps / 2}) for a in p.assignments)
    assert "demand" in _kinds(sc, p.model_copy(update={"assignments": half}), lat)
    extra = Assignment(service_id="chat", region="NYC", site_id="c:r1", rps=0.0, rtt_ms=10)
    overload = (*p.assignments, extra.model_copy(update={"rps": 1e6}))
    assert "demand" in _kinds(sc, p.model_copy(update={"assignments": overload}), lat)


def test_min_replicas(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    svc = sc.inference_services[0].model_copy(update={"min_replicas": 1000})
    assert "min_replicas" in _kinds(sc.model_copy(update={"inference_services": (svc,)}), p, lat)


def test_cost(base: tuple[Scenario, np.ndarray, Plan]) -> None:
    sc, lat, p = base
    assert "cost" in _kinds(sc, _swap_training(p, cost_usd=1.0), lat)
    assert "cost" in _kinds(sc, p.model_copy(update={"total_cost_usd": p.total_cost_usd + 5}), lat)
