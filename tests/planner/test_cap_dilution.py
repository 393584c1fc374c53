"""A share cap must be met by placing real work elsewhere, never by buying idle capacity elsewhere."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import InfeasibleError, InferenceService, Policy, Scenario
from computemoat.planner import plan, validate_plan


def _sc(kit: SimpleNamespace, jobs: int = 2) -> Scenario:
    # a: H100 $2/GPU-h; b: H100 $3/GPU-h and A100 $0.20/GPU-h (1-GPU instances). Jobs: 104 H100 x 1,000 h.
    # Service: 20 rps at 10 rps per 1-GPU replica -> 2 replicas (k=0), H100 or A100. GPU cap 60%.
    #  * move j2 to b:  208,000 + 312,000 + 2 A100 replicas (2 x 730 x 0.2 = 292)       = 520,292
    #  * dilute: both jobs at a (208 GPUs) + 2 useful + 137 idle A100 replicas at b, so that
    #    a = 208 / 347 <= 60%: 416,000 + 139 x 730 x 0.2 = 436,294  <- what a share-of-purchases cap picks
    svc = InferenceService(
        id="svc",
        model="m",
        accelerators=("H100", "A100"),
        gpus_per_replica=1,
        rps_per_replica=10.0,
        demand_rps={"NYC": 20.0},
        latency_slo_ms=50.0,
    )
    return kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[
            kit.offering("a:r1", 2.0, 1000),
            kit.offering("b:r1", 3.0, 1000),
            kit.offering("b:r1", 0.2, 1000, accel="A100", itype="a100x1", gpi=1),
        ],
        jobs=[kit.job(f"j{i}", 104, hours=1000.0) for i in range(1, jobs + 1)],
        services=[svc],
        policy=Policy(max_provider_share_gpus=0.6),
    )


def test_cap_moves_a_job_instead_of_buying_idle_replicas(kit: SimpleNamespace) -> None:
    sc = _sc(kit)
    r = plan(sc, kit.rtt(sc), mip_gap=1e-6)
    providers = {p.job_id: p.provider for p in r.plan.training}
    assert providers["j1"] != providers["j2"]  # the cap is met by real work at the other provider
    assert sum(p.replicas for p in r.plan.inference) == 2  # ... not by idle replicas
    assert r.plan.total_cost_usd == pytest.approx(520_292)
    assert validate_plan(sc, r.plan, kit.rtt(sc)) == []


def test_cap_that_only_idle_capacity_could_meet_is_infeasible(kit: SimpleNamespace) -> None:
    # One 104-GPU job: no placement of useful work keeps a provider <= 60%; only idle GPUs could.
    sc = _sc(kit, jobs=1)
    with pytest.raises(InfeasibleError, match="max_provider_share_gpus"):
        plan(sc, kit.rtt(sc), time_limit_s=20)
