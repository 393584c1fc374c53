"""Issue 11's worked examples (items 1, 3, 7), each against a closed form computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import (
    InferencePlacement,
    InferenceService,
    Offering,
    Plan,
    PlanStatus,
    Policy,
    Tier,
    TrainingJob,
)
from computemoat.planner import ViolationKind, plan, validate_plan


def _spend_cap_scenario(kit: SimpleNamespace) -> tuple:
    # a: the only host of job j (10 GPUs-worth: 1 x 1-GPU instance x 600 h x $1 = $600).
    # Service: 2 replicas (A100 standing in for L4) of 1 GPU, c has room for one ($10 over the horizon),
    # b for more ($400 each).
    # True optimum: j at a ($600) + 1 at c ($10) + 1 at b ($400) = $1,010; a's share 600/1010 = 59.4%.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b"), kit.provider("c")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1"), kit.site("c", "r1")],
        offerings=[
            Offering(
                id="a:h",
                site="a:r1",
                accelerator="H100",
                gpus_per_instance=1,
                usd_per_gpu_hour_on_demand=1.0,
                capacity_gpus=1,
            ),
            Offering(
                id="b:l4",
                site="b:r1",
                accelerator="A100",
                gpus_per_instance=1,
                usd_per_gpu_hour_on_demand=400.0 / 730,
                capacity_gpus=8,
            ),
            Offering(
                id="c:l4",
                site="c:r1",
                accelerator="A100",
                gpus_per_instance=1,
                usd_per_gpu_hour_on_demand=10.0 / 730,
                capacity_gpus=1,
            ),
        ],
        jobs=[TrainingJob(id="j", accelerators=("H100",), gpus=1, hours=600.0, allowed_providers=("a",))],
        services=[
            InferenceService(
                id="svc",
                model="m",
                accelerators=("A100",),
                rps_per_replica=10.0,
                demand_rps={"NYC": 20.0},
                latency_slo_ms=50.0,
            )
        ],
        policy=Policy(max_provider_share_spend=0.6),
    )
    return sc, kit.rtt(sc)


def test_spend_cap_accepts_the_plan_without_idle_capacity_at_its_true_cost(kit: SimpleNamespace) -> None:
    sc, lat = _spend_cap_scenario(kit)
    r = plan(sc, lat, mip_gap=1e-9)
    assert r.plan.total_cost_usd == pytest.approx(1010.0)
    assert {p.offering_id: p.replicas for p in r.plan.inference} == {"b:l4": 1, "c:l4": 1}
    assert r.plan.cost_by_provider()["a"] / r.plan.total_cost_usd == pytest.approx(600 / 1010)
    assert validate_plan(sc, r.plan, lat) == []


def test_cap_only_idle_capacity_could_meet_says_so(kit: SimpleNamespace) -> None:
    # One replica needed (10 rps), at b or c for $400; the $600 job only at a. Cap 0.5: with the one
    # useful replica a holds 600 / 1,000 = 60%; only an idle second replica (total $1,400, a 43%)
    # would meet the cap, which the anti-dilution rule forbids. The least cap with a plan: 0.6.
    from computemoat.model import InfeasibleError

    sc, lat = _spend_cap_scenario(kit)
    svc = sc.inference_services[0].model_copy(update={"demand_rps": {"NYC": 10.0}})
    offs = tuple(
        o.model_copy(update={"usd_per_gpu_hour_on_demand": 400.0 / 730, "capacity_gpus": 8}) if o.id == "c:l4" else o
        for o in sc.offerings
    )
    sc = sc.model_copy(
        update={"policy": Policy(max_provider_share_spend=0.5), "inference_services": (svc,), "offerings": offs}
    )
    with pytest.raises(InfeasibleError) as info:
        plan(sc, lat, time_limit_s=30)
    text = str(info.value)
    assert "only idle capacity could meet" in text
    import re

    found = re.search(r"policy\.max_provider_share_spend = ([0-9.]+) \(now 0\.5\) is the smallest", text)
    assert found and float(found.group(1)) == pytest.approx(0.6, rel=1e-3)  # closed form 600 / 1,000


def test_inference_is_billed_by_whole_instances(kit: SimpleNamespace) -> None:
    # Issue 11 item 3: 28 one-GPU replicas on 8-GPU instances -> 4 instances (32 GPUs), not 3.5.
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64, itype="p5.48xlarge")],
        services=[kit.service("chat", {"NYC": 280.0}, rps=10.0)],
    )
    r = plan(sc, kit.rtt(sc), mip_gap=1e-9)
    (ip,) = r.plan.inference
    assert (ip.replicas, ip.instances, ip.gpus) == (28, 4, 32)
    assert ip.cost_usd == pytest.approx(4 * 8 * 730 * 2.0)
    assert validate_plan(sc, r.plan, kit.rtt(sc)) == []


def test_a_replica_larger_than_an_instance_spans_whole_instances(kit: SimpleNamespace) -> None:
    # 12-GPU replicas on 8-GPU instances: 2 instances each; 3 replicas -> 6 instances, 48 GPUs.
    svc = kit.service("big", {"NYC": 30.0}, rps=10.0).model_copy(update={"gpus_per_replica": 12})
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64)],
        services=[svc],
    )
    r = plan(sc, kit.rtt(sc), mip_gap=1e-9)
    (ip,) = r.plan.inference
    assert (ip.replicas, ip.instances, ip.gpus) == (3, 6, 48)
    assert r.plan.total_cost_usd == pytest.approx(48 * 730 * 2.0)


def _one_service(kit: SimpleNamespace) -> tuple:
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64, spot=1.0)],
        services=[kit.service("chat", {"NYC": 10.0})],
    )
    return sc, kit.rtt(sc)


def test_validator_rejects_inference_on_spot(kit: SimpleNamespace) -> None:
    # Issue 11 item 7: the model never places inference on spot (preemption would break the SLO).
    sc, lat = _one_service(kit)
    good = plan(sc, lat).plan
    spot = good.model_copy(
        update={
            "inference": tuple(
                InferencePlacement(**{**p.model_dump(), "tier": Tier.spot, "cost_usd": p.gpus * 730 * 1.0})
                for p in good.inference
            )
        }
    )
    spot = spot.model_copy(update={"total_cost_usd": sum(p.cost_usd for p in spot.inference)})
    assert ViolationKind.tier in {v.kind for v in validate_plan(sc, spot, lat)}


def test_validator_rejects_unplaced_in_a_normal_plan(kit: SimpleNamespace) -> None:
    sc, lat = _one_service(kit)
    good: Plan = plan(sc, lat).plan
    assert good.status == PlanStatus.optimal
    bad = good.model_copy(update={"unplaced": ("chat",)})
    assert [v.kind for v in validate_plan(sc, bad, lat)] == [ViolationKind.status]
