"""Fault-model defaults, their derivations, and one-line errors for bad input."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from computemoat.model import UserError
from computemoat.sim.faults import FaultModel, OutagePolicy, load_faults
from computemoat.sim.policies import OutageContext, should_migrate


def test_defaults_follow_the_cited_sources() -> None:
    f = FaultModel()
    assert f.gpu.gpu_hours_per_interruption == pytest.approx(16_384 * 54 * 24 / 419)  # ≈ 50,677
    assert sum(f.gpu.causes.values()) == 419 and f.gpu.causes["faulty_gpu"] == 148
    # AWS region-level SLA 99.99 %: 52.6 min/yr of downtime in 4-h outages
    assert f.site_outages_per_year("aws") == pytest.approx(1e-4 * 8760 / 4.0)
    assert f.site_outages_per_year("lambda") == pytest.approx(1e-3 * 8760 / 4.0)  # no published SLA: 99.9 %
    assert f.spot_per_instance_hour("aws") == pytest.approx(-math.log(0.8) / 730)


def test_yaml_overrides_and_one_line_errors(tmp_path: Path, kit: SimpleNamespace) -> None:
    good = tmp_path / "ok.yaml"
    good.write_text("outage_policy: wait\nproviders:\n  p1:\n    sla_uptime: 0.99\n", encoding="utf-8")
    f = load_faults(good)
    assert f.outage_policy == OutagePolicy.wait
    assert f.site_outages_per_year("p1") == pytest.approx(0.01 * 8760 / 4.0)

    bad = tmp_path / "bad.yaml"
    bad.write_text("gpu:\n  restart_overhead_s: -5\noutage_mean_hours: 0\nregional_events_per_yr: 1\n")
    with pytest.raises(UserError) as e:
        load_faults(bad)
    lines = e.value.lines
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert any(line.startswith(f"{bad}:2: gpu.restart_overhead_s:") for line in lines)
    assert any(line.startswith(f"{bad}:3: outage_mean_hours:") for line in lines)
    assert any("regional_events_per_yr: unknown key (did you mean 'regional_events_per_year'?)" in x for x in lines)

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("withdrawals:\n  - {provider: p9, at_hours: 10}\nproviders:\n  pp1: {outages_per_year: 1}\n")
    with pytest.raises(UserError) as e:
        load_faults(unknown).check_against(kit.scenario(2), source=str(unknown))
    assert e.value.lines == (
        f"{unknown}: providers.pp1: unknown provider 'pp1' (did you mean 'p1'?)",
        f"{unknown}: withdrawals[0].provider: unknown provider 'p9' (known: p0, p1)",
    )


def test_outage_policy_registry() -> None:
    short = OutageContext(expected_outage_ns=10, migration_ns=100, can_replan=True)
    long = OutageContext(expected_outage_ns=1000, migration_ns=100, can_replan=True)
    assert [should_migrate(p, long) for p in OutagePolicy] == [False, True, True]
    assert [should_migrate(p, short) for p in OutagePolicy] == [False, True, False]
    assert not should_migrate(OutagePolicy.migrate, OutageContext(1000, 100, can_replan=False))
