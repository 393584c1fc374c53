"""Small instances whose optimum is worked out by hand; the MILP (real HiGHS) must find exactly it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import InfeasibleError, Policy, Tier, UserRegion
from computemoat.planner import plan, validate_plan


def _by_job(result):  # type: ignore[no-untyped-def]
    return {p.job_id: (p.offering_id, p.tier) for p in result.plan.training}


def test_capacity_forces_the_big_job_on_the_cheap_offering(kit: SimpleNamespace) -> None:
    # a: $2, 64 GPUs; b: $3, 64 GPUs. j1 32 GPUs, j2 48 GPUs, 10 h each; both cannot fit on a.
    # j1->a, j2->b: 640 + 1440 = 2080;  j1->b, j2->a: 960 + 960 = 1920  <- optimum
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 3.0, 64)],
        jobs=[kit.job("j1", 32), kit.job("j2", 48)],
    )
    r = plan(sc, kit.rtt(sc))
    assert _by_job(r) == {"j1": ("b:r1:gpu8", Tier.on_demand), "j2": ("a:r1:gpu8", Tier.on_demand)}
    assert r.plan.total_cost_usd == pytest.approx(1920.0)
    assert r.plan.status == "optimal"
    assert validate_plan(sc, r.plan, kit.rtt(sc)) == []


def test_tiers_spot_only_when_allowed_and_reserved_otherwise(kit: SimpleNamespace) -> None:
    off = kit.offering("a:r1", 4.0, 64, spot=1.0, reserved=2.5)
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[off],
        jobs=[
            kit.job("spot-ok", 8, spot_allowed=True),
            kit.job("no-spot", 8),
            kit.job("on-demand-only", 8, reserved_allowed=False),
        ],
    )
    r = plan(sc, kit.rtt(sc))
    tiers = {k: v[1] for k, v in _by_job(r).items()}
    assert tiers == {"spot-ok": Tier.spot, "no-spot": Tier.reserved, "on-demand-only": Tier.on_demand}
    assert r.plan.total_cost_usd == pytest.approx(8 * 10 * (1.0 + 2.5 + 4.0))


def test_price_multiplier_and_energy_are_in_the_cost(kit: SimpleNamespace) -> None:
    # a lists $2 with multiplier 0.5 -> $1; energy 0.7 kW x PUE 1.5 x $0.10 = $0.105 per GPU-h
    sc = kit.scenario(
        providers=[kit.provider("a", price_multiplier=0.5), kit.provider("b")],
        sites=[kit.site("a", "r1", pue=1.5), kit.site("b", "r1", pue=1.5)],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 1.5, 64)],
        jobs=[kit.job("j", 16, hours=100)],
        energy_usd_per_kwh=0.10,
    )
    r = plan(sc, kit.rtt(sc))
    assert _by_job(r)["j"][0] == "a:r1:gpu8"
    assert r.plan.total_cost_usd == pytest.approx(16 * 100 * (1.0 + 0.105))


def test_n_plus_1_buys_full_demand_at_two_providers(kit: SimpleNamespace) -> None:
    # 95 rps at 10 rps/replica = 10 replicas; N+1 over {a, b} needs 10 at each, c is beyond the SLO.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b"), kit.provider("c")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1"), kit.site("c", "far")],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 3.0, 64), kit.offering("c:far", 0.5, 64)],
        services=[kit.service("chat", {"NYC": 95.0}, k=1, slo_ms=50)],
    )
    lat = kit.rtt(sc, {("NYC", "c:far"): 120.0})
    r = plan(sc, lat)
    reps = {p.offering_id: p.replicas for p in r.plan.inference}
    assert reps == {"a:r1:gpu8": 10, "b:r1:gpu8": 10}
    # billed by whole instances (issue 11 item 3): 10 one-GPU replicas fill 2 eight-GPU instances each
    assert {p.offering_id: p.instances for p in r.plan.inference} == {"a:r1:gpu8": 2, "b:r1:gpu8": 2}
    assert r.plan.total_cost_usd == pytest.approx(2 * 8 * 730 * (2.0 + 3.0))
    # nominal traffic goes to the nearer of the two (RTT tie-break): a at 10 ms vs b at 10 ms -> either,
    # but all of it is assigned and within SLO
    assert sum(a.rps for a in r.plan.assignments) == pytest.approx(95.0)
    assert all(a.rtt_ms <= 50 for a in r.plan.assignments)
    assert validate_plan(sc, r.plan, lat) == []


def test_spend_cap_splits_jobs_across_providers(kit: SimpleNamespace) -> None:
    # Two equal jobs; a is cheaper ($1 vs $1.2) with room for both. A 60% spend cap forbids a alone.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 128), kit.offering("b:r1", 1.2, 128)],
        jobs=[kit.job("j1", 64), kit.job("j2", 64)],
        policy=Policy(max_provider_share_spend=0.6),
    )
    r = plan(sc, kit.rtt(sc))
    assert sorted(p.provider for p in r.plan.training) == ["a", "b"]
    assert r.plan.total_cost_usd == pytest.approx(64 * 10 * (1.0 + 1.2))
    assert validate_plan(sc, r.plan, kit.rtt(sc)) == []


def test_power_cap_pushes_a_job_to_another_site(kit: SimpleNamespace) -> None:
    # 64 H100 x 700 W x PUE 1.2 = 0.05376 MW; a site capped at 0.05 MW cannot host it.
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "cheap", power_capacity_mw=0.05), kit.site("a", "dear")],
        offerings=[kit.offering("a:cheap", 1.0, 128), kit.offering("a:dear", 2.0, 128)],
        jobs=[kit.job("j", 64)],
    )
    r = plan(sc, kit.rtt(sc))
    assert _by_job(r)["j"][0] == "a:dear:gpu8"


def test_residency_and_slo_restrict_serving_sites(kit: SimpleNamespace) -> None:
    regions = [UserRegion(name="London", lat_deg=51.5, lon_deg=-0.1)]
    sc = kit.scenario(
        providers=[kit.provider("us", "US"), kit.provider("eu", "NL")],
        sites=[kit.site("us", "r1"), kit.site("eu", "r1")],
        offerings=[kit.offering("us:r1", 1.0, 64), kit.offering("eu:r1", 5.0, 64)],
        services=[kit.service("chat", {"London": 20.0})],
        regions=regions,
        policy=Policy(residency={"London": ("NL",)}),
    )
    r = plan(sc, kit.rtt(sc))
    assert {p.provider for p in r.plan.inference} == {"eu"}
    assert r.plan.inference[0].replicas == 2


def test_a_dearer_offering_at_the_same_site_keeps_its_capacity(kit: SimpleNamespace) -> None:
    # Issue 11 item 2: one site sells p5 ($2, 8 GPUs) and p5e ($3, 8 GPUs); two 8-GPU jobs need both
    # pools (closed form: 8 x 10 h x (2 + 3) = $400). Pruning p5e as "dominated" made it infeasible.
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 8, itype="p5"), kit.offering("a:r1", 3.0, 8, itype="p5e")],
        jobs=[kit.job("j1", 8), kit.job("j2", 8)],
    )
    r = plan(sc, kit.rtt(sc), mip_gap=1e-9)
    assert sorted(p.offering_id for p in r.plan.training) == ["a:r1:p5", "a:r1:p5e"]
    assert r.plan.total_cost_usd == pytest.approx(8 * 10 * (2.0 + 3.0))
    assert validate_plan(sc, r.plan, kit.rtt(sc)) == []


def test_job_larger_than_any_offering_is_named(kit: SimpleNamespace) -> None:
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 64)],
        jobs=[kit.job("huge", 128)],
    )
    with pytest.raises(InfeasibleError, match="training job huge: no offering"):
        plan(sc, kit.rtt(sc))


def test_conflicting_cap_is_named_as_the_constraint_to_drop(kit: SimpleNamespace) -> None:
    # Only provider a can host the job; a 50% GPU cap makes that impossible.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 128), kit.offering("b:r1", 1.0, 8)],
        jobs=[kit.job("j", 64)],
        policy=Policy(max_provider_share_gpus=0.5),
    )
    with pytest.raises(InfeasibleError) as e:
        plan(sc, kit.rtt(sc))
    lines = e.value.lines
    assert lines[0] == "scenario test: no plan satisfies all constraints together"
    assert any(line.startswith("dropping policy.max_provider_share_gpus=0.5 makes it feasible") for line in lines)
    assert not any("capacity" in line for line in lines)


def test_redundancy_needs_more_providers_than_k(kit: SimpleNamespace) -> None:
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 64)],
        services=[kit.service("chat", {"NYC": 10.0}, k=1)],
    )
    with pytest.raises(InfeasibleError, match=r"redundancy_k=1 needs at least 2 providers"):
        plan(sc, kit.rtt(sc))
