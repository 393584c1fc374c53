"""Exports of a real MILP plan: SkyPilot YAML parses and names the planned cloud/region/accelerator;
the gateway config is accepted by the gateway's own schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from computemoat.export import gateway_yaml, write_skypilot_tasks
from computemoat.gateway.config import load_config
from computemoat.model import (
    Accelerator,
    InferenceService,
    Offering,
    Plan,
    Provider,
    ProviderKind,
    Scenario,
    Site,
    TrainingJob,
    UserError,
    UserRegion,
)
from computemoat.planner import plan


@pytest.fixture(scope="module")
def planned() -> tuple[Scenario, Plan]:
    providers = (
        Provider(name="aws", kind=ProviderKind.hyperscaler, jurisdiction="US"),
        Provider(name="atlas", kind=ProviderKind.specialized, jurisdiction="US"),
    )
    sites = (
        Site(id="aws:us-east-1", provider="aws", region="us-east-1", lat_deg=39.04, lon_deg=-77.49),
        Site(id="atlas:tx-abilene", provider="atlas", region="tx-abilene", lat_deg=32.45, lon_deg=-99.73),
    )
    offerings = (
        Offering(
            id="aws:us-east-1:p5.48xlarge",
            site="aws:us-east-1",
            accelerator="H100",
            instance_type="p5.48xlarge",
            usd_per_gpu_hour_on_demand=4.0,
            usd_per_gpu_hour_spot=2.0,
            capacity_gpus=64,
        ),
        Offering(
            id="atlas:tx-abilene:h100x8",
            site="atlas:tx-abilene",
            accelerator="H100",
            instance_type="h100x8",
            usd_per_gpu_hour_on_demand=2.5,
            capacity_gpus=1024,
        ),
    )
    sc = Scenario(
        name="export-test",
        providers=providers,
        sites=sites,
        accelerators=(Accelerator(name="H100", board_power_w=700, memory_gb=80),),
        offerings=offerings,
        user_regions=(UserRegion(name="New York", lat_deg=40.71, lon_deg=-74.01),),
        training_jobs=(
            TrainingJob(id="spotty", accelerators=("H100",), gpus=16, hours=5, spot_allowed=True),
            TrainingJob(id="big", accelerators=("H100",), gpus=512, hours=100),
        ),
        inference_services=(
            InferenceService(
                id="chat",
                model="llama-3.1-70b",
                accelerators=("H100",),
                rps_per_replica=10,
                demand_rps={"New York": 35.0},
                latency_slo_ms=100,
                redundancy_k=1,
            ),
        ),
    )
    return sc, plan(sc, np.full((1, 2), 20.0)).plan


def test_skypilot_yaml_names_the_planned_resources(planned: tuple[Scenario, Plan], tmp_path: Path) -> None:
    sc, p = planned
    paths = write_skypilot_tasks(sc, p, tmp_path / "sky")
    assert sorted(x.name for x in paths) == ["big.sky.yaml", "spotty.sky.yaml"]
    spotty = yaml.safe_load((tmp_path / "sky" / "spotty.sky.yaml").read_text())
    assert spotty == {
        "name": "spotty",
        "resources": {
            "cloud": "aws",
            "region": "us-east-1",
            "accelerators": "H100:8",
            "instance_type": "p5.48xlarge",
            "use_spot": True,
        },
        "num_nodes": 2,
    }
    big = yaml.safe_load((tmp_path / "sky" / "big.sky.yaml").read_text())
    assert big["resources"]["cloud"] == "kubernetes"  # atlas is not a SkyPilot cloud
    assert big["resources"]["region"] == "atlas-tx-abilene"
    assert big["num_nodes"] == 64
    assert big["resources"]["use_spot"] is False


def test_gateway_config_is_accepted_by_the_gateway(planned: tuple[Scenario, Plan], tmp_path: Path) -> None:
    sc, p = planned
    path = tmp_path / "gateway.yaml"
    path.write_text(gateway_yaml(sc, p), encoding="utf-8")
    cfg = load_config(path)
    by_site = {b.site: b for b in cfg.backends}
    assert set(by_site) == {"aws:us-east-1", "atlas:tx-abilene"}  # N+1: both providers carry replicas
    aws = by_site["aws:us-east-1"]
    assert aws.url == "http://aws-us-east-1.chat.invalid"
    assert aws.weight == 4 and aws.models == ("llama-3.1-70b",)
    assert aws.usd_per_hour == pytest.approx(8 * 4.0)  # 4 one-GPU replicas rent one whole 8-GPU instance
    assert (aws.lat_deg, aws.lon_deg) == (39.04, -77.49)
    assert [r.name for r in cfg.user_regions] == ["New York"]


def test_url_template_fields_and_mistakes(planned: tuple[Scenario, Plan]) -> None:
    sc, p = planned
    text = gateway_yaml(sc, p, url_template="http://127.0.0.1:9001/{model}/{site}")
    assert "http://127.0.0.1:9001/llama-3.1-70b/aws:us-east-1" in text
    with pytest.raises(UserError, match=r"--url-template: unknown field 'port'"):
        gateway_yaml(sc, p, url_template="http://{port}")


def test_plan_from_another_scenario_is_a_user_error(planned: tuple[Scenario, Plan], tmp_path: Path) -> None:
    """Every command reads plans through read_plan, which refuses placements the scenario lacks."""
    from computemoat.planner.plan_file import read_plan

    sc, p = planned
    path = tmp_path / "plan.json"
    path.write_text(p.model_dump_json())
    assert read_plan(path, sc) == p
    for other in (
        sc.model_copy(update={"training_jobs": ()}),
        sc.model_copy(update={"inference_services": ()}),
        sc.model_copy(update={"offerings": sc.offerings[:0]}),
    ):
        with pytest.raises(UserError, match="does not match scenario"):
            read_plan(path, other)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="not a computemoat plan"):
        read_plan(path, sc)
