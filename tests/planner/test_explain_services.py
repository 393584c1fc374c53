"""Next-best alternative per inference service (planner/explain.py), on scenarios worked out by hand.

Every service here: 1 GPU per replica, 10 rps per replica, 50 ms SLO, horizon 730 h, so a replica-month
at $p/GPU-h costs 730 x p, and the difference between two offerings is 730 x (p_alt - p_chosen)."""

from __future__ import annotations

# Offerings here sell 1-GPU instances, so one replica is one instance and the per-replica prices in
# the comments are the closed form (packing into larger instances is tested in test_issue11_examples).
from types import SimpleNamespace

from computemoat.model import Policy, UserRegion
from computemoat.planner import plan
from computemoat.planner.explain import service_alternatives

NYC = UserRegion(name="NYC", lat_deg=40.7, lon_deg=-74.0)
LON = UserRegion(name="LON", lat_deg=51.5, lon_deg=-0.1)


def _only(result):  # type: ignore[no-untyped-def]
    (alt,) = service_alternatives(result)
    return alt


def test_dearer_by_730_per_replica_month(kit: SimpleNamespace) -> None:
    # 25 rps -> 3 replicas, all at a ($2); b ($3) is the next best, $1 x 730 h dearer per replica.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[
            kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1),
            kit.offering("b:r1", 3.0, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 25.0})],
    )
    alt = _only(plan(sc, kit.rtt(sc)))
    assert (alt.workload_id, alt.chosen, alt.next_best) == ("chat", "a:r1:gpu1 (3 replicas)", "b:r1:gpu1")
    assert alt.next_best_cost_usd == 3.0 * 730
    assert alt.reason == "dearer: +$730 per replica-month"


def test_cheaper_but_out_of_slo_for_a_region_the_placement_serves(kit: SimpleNamespace) -> None:
    # a ($2) is 10 ms from NYC and LON; c ($0.50) is 10 ms from LON but 120 ms from NYC.
    # NYC 25 rps + LON 5 rps: 3 replicas at a hold 30 rps, so LON rides on a's spare capacity
    # (3 x 1460 = $4,380) rather than a 4th replica at c ($4,745). c is 730 x 1.5 = $1,095 cheaper
    # per replica but cannot serve NYC, which a's placement serves.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("c", "GB")],
        sites=[kit.site("a", "r1"), kit.site("c", "eu")],
        offerings=[
            kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1),
            kit.offering("c:eu", 0.5, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 25.0, "LON": 5.0})],
        regions=[NYC, LON],
    )
    r = plan(sc, kit.rtt(sc, {("NYC", "c:eu"): 120.0}))
    assert r.plan.total_cost_usd == 3 * 2.0 * 730
    alt = _only(r)
    assert (alt.chosen, alt.next_best) == ("a:r1:gpu1 (3 replicas)", "c:eu:gpu1")
    assert alt.reason == "$1,095 per replica-month cheaper but out of its 50 ms SLO for NYC (120 ms)"


def test_cheaper_but_barred_by_residency(kit: SimpleNamespace) -> None:
    # the same, with c in reach of both regions but NYC's data may stay only in the US.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("c", "DE")],
        sites=[kit.site("a", "r1"), kit.site("c", "eu")],
        offerings=[
            kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1),
            kit.offering("c:eu", 0.5, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 25.0, "LON": 5.0})],
        regions=[NYC, LON],
        policy=Policy(residency={"NYC": ("US",)}),
    )
    alt = _only(plan(sc, kit.rtt(sc)))
    assert (alt.chosen, alt.next_best) == ("a:r1:gpu1 (3 replicas)", "c:eu:gpu1")
    assert alt.reason == "$1,095 per replica-month cheaper but residency bars DE (c) for NYC"


def test_cheaper_but_no_gpus_left(kit: SimpleNamespace) -> None:
    # a ($2) has 1 GPU: 1 replica at a, 2 at b ($3). b's placement is the largest ($4,380);
    # a is $730 cheaper per replica but full.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[
            kit.offering("a:r1", 2.0, 1, itype="gpu1", gpi=1),
            kit.offering("b:r1", 3.0, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 25.0})],
    )
    alt = _only(plan(sc, kit.rtt(sc)))
    assert (alt.chosen, alt.next_best) == ("b:r1:gpu1 (2 replicas)", "a:r1:gpu1")
    assert alt.reason == "$730 per replica-month cheaper but only 0 GPUs left there (needs 2)"


def test_cheaper_but_breaks_n_plus_1(kit: SimpleNamespace) -> None:
    # 95 rps -> 10 replicas; N+1 over {a, b}: 10 at each. b's ($21,900) is the largest placement;
    # moving its 10 replicas to a ($730 cheaper each) leaves nothing when a is lost.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[
            kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1),
            kit.offering("b:r1", 3.0, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 95.0}, k=1)],
    )
    alt = _only(plan(sc, kit.rtt(sc)))
    assert (alt.chosen, alt.next_best) == ("b:r1:gpu1 (10 replicas)", "a:r1:gpu1")
    assert (
        alt.reason == "$730 per replica-month cheaper but breaks N+1: NYC without a would have 0 of 10 replicas needed"
    )


def test_cheaper_but_breaks_the_gpu_cap(kit: SimpleNamespace) -> None:
    # 40 rps -> 4 replicas; no provider above 50% of GPUs: 2 at a ($2), 2 at b ($3). Moving b's 2 to a
    # puts a at 4 of 4 counted GPUs.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[
            kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1),
            kit.offering("b:r1", 3.0, 64, itype="gpu1", gpi=1),
        ],
        services=[kit.service("chat", {"NYC": 40.0})],
        policy=Policy(max_provider_share_gpus=0.5),
    )
    alt = _only(plan(sc, kit.rtt(sc)))
    assert (alt.chosen, alt.next_best) == ("b:r1:gpu1 (2 replicas)", "a:r1:gpu1")
    assert alt.reason == "$730 per replica-month cheaper but puts a at 100.00% of counted GPUs (cap 50%)"


def test_plan_explain_prints_the_service_table() -> None:
    from typer.testing import CliRunner

    from computemoat.cli import app

    res = CliRunner().invoke(app, ["plan", "--explain", "--time-limit", "30"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Next-best alternative per inference service (its largest placement)" in res.output
    table = res.output.split("Next-best alternative per inference service")[1]
    for svc in ("chat-large", "assistant-small", "embeddings"):
        assert svc in table
    assert "per replica-month" in table
