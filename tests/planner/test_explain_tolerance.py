"""Issue 11 item 9: a policy price no larger than the solver gap is noise (≈ 0), and infeasibility
diagnosis names the smallest value of the deciding number (site MW, offering capacity)."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import pytest

from computemoat.model import InfeasibleError, Policy
from computemoat.planner import plan
from computemoat.planner.explain import policy_prices


def _two_providers(kit: SimpleNamespace, policy: Policy) -> object:
    # j (8 GPUs x 10 h): $2/GPU-h at a, $2.02 at b. Excluding a costs 8 x 10 x 0.02 = $1.60 (1%).
    return kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 2.02, 64), kit.offering("b:r1", 2.0, 64)],
        jobs=[kit.job("j", 8)],
        policy=policy,
    )


def test_a_policy_price_within_the_gap_reads_as_zero(kit: SimpleNamespace) -> None:
    sc = _two_providers(kit, Policy(excluded_providers=("b",)))
    r = plan(sc, kit.rtt(sc), mip_gap=1e-9)
    assert r.plan.total_cost_usd == pytest.approx(8 * 10 * 2.02)
    (exact,) = policy_prices(r, time_limit_s=20, mip_gap=1e-9)  # both solves proven: a real $1.60
    assert exact.delta_usd == pytest.approx(1.6) and not exact.within_gap
    loose = dataclasses.replace(r, mip_gap=0.05)  # a plan only proven to 5% ($8.08) of its optimum
    (noise,) = policy_prices(loose, time_limit_s=20, mip_gap=1e-9)
    assert noise.within_gap and noise.tolerance_usd == pytest.approx(0.05 * 8 * 10 * 2.02)
    assert "≈ $0" in noise.line()


def test_diagnosis_gives_the_smallest_site_power_and_capacity(kit: SimpleNamespace) -> None:
    # 64 H100 at one site: 64 x 700 W x PUE 1.2 = 0.05376 MW > the 0.04 MW cap; the offering sells 32 GPUs.
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1", power_capacity_mw=0.04)],
        offerings=[kit.offering("a:r1", 2.0, 64)],
        jobs=[kit.job("j", 64)],
    )
    with pytest.raises(InfeasibleError) as info:
        plan(sc, kit.rtt(sc), time_limit_s=30)
    found = re.search(r"sites\[a:r1\]\.power_capacity_mw = ([0-9.]+) \(now 0\.04\)", str(info.value))
    assert found and float(found.group(1)) == pytest.approx(0.05376, rel=2e-3)
