from __future__ import annotations

import pytest
from pydantic import ValidationError

from computemoat.model import (
    Accelerator,
    InferenceService,
    Offering,
    Provider,
    Scenario,
    Site,
    Tier,
    TrainingJob,
    UnknownReference,
    UserRegion,
)


def _base(**extra: object) -> dict[str, object]:
    return dict(
        providers=(Provider(name="p", kind="hyperscaler", jurisdiction="US"),),
        sites=(Site(id="p:r", provider="p", region="r", lat_deg=1, lon_deg=2),),
        accelerators=(Accelerator(name="H100", board_power_w=700, memory_gb=80),),
        offerings=(
            Offering(id="p:r:x", site="p:r", accelerator="H100", usd_per_gpu_hour_on_demand=2.0, capacity_gpus=64),
        ),
        **extra,
    )


def test_types_are_frozen_and_strict() -> None:
    p = Provider(name="aws", kind="hyperscaler", jurisdiction="US")
    with pytest.raises(ValidationError):
        p.name = "gcp"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Provider(name="aws", kind="hyperscaler", jurisdiction="US", colour="red")  # type: ignore[call-arg]
    assert p.model_copy(update={"price_multiplier": 0.8}).price_multiplier == 0.8


@pytest.mark.parametrize(
    ("field", "value"),
    [("usd_per_gpu_hour_on_demand", 0), ("usd_per_gpu_hour_on_demand", -1), ("capacity_gpus", 0)],
)
def test_offering_rejects_non_positive(field: str, value: float) -> None:
    data = dict(id="o", site="s", accelerator="H100", usd_per_gpu_hour_on_demand=1.0, capacity_gpus=8)
    data[field] = value
    with pytest.raises(ValidationError, match="greater than 0"):
        Offering.model_validate(data)


def test_offering_capacity_in_whole_instances_and_tier_price() -> None:
    with pytest.raises(ValidationError, match="multiple of gpus_per_instance"):
        Offering(id="o", site="s", accelerator="H100", usd_per_gpu_hour_on_demand=1.0, capacity_gpus=12)
    o = Offering(id="o", site="s", accelerator="H100", usd_per_gpu_hour_on_demand=3.0,
                 usd_per_gpu_hour_spot=1.0, capacity_gpus=16)
    assert (o.price(Tier.on_demand), o.price(Tier.spot), o.price(Tier.reserved)) == (3.0, 1.0, None)


def test_site_latitude_range() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 90"):
        Site(id="s", provider="p", region="r", lat_deg=91, lon_deg=0)


def test_training_job_deadline_and_service_demand_rules() -> None:
    with pytest.raises(ValidationError, match="exceed deadline_hours"):
        TrainingJob(id="j", accelerators=("H100",), gpus=8, hours=100, deadline_hours=50)
    with pytest.raises(ValidationError, match="exactly one of demand_rps"):
        InferenceService(id="s", model="m", accelerators=("L4",), rps_per_replica=1, latency_slo_ms=50)


def test_scenario_reference_errors_are_collected_with_locations() -> None:
    data = _base(
        training_jobs=(TrainingJob(id="j", accelerators=("H200",), gpus=8, hours=1),),
        user_regions=(UserRegion(name="a", lat_deg=0, lon_deg=0), UserRegion(name="a", lat_deg=1, lon_deg=1)),
    )
    with pytest.raises(ValidationError) as info:
        Scenario(**data)
    exc = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(exc, UnknownReference)
    locs = dict(exc.problems)
    assert "duplicate name 'a'" in locs[("user_regions", 1, "name")]
    assert "unknown accelerator 'H200'" in locs[("training_jobs", 0, "accelerators", 0)]
    assert "did you mean 'H100'" in locs[("training_jobs", 0, "accelerators", 0)]


def test_demand_split_by_weight() -> None:
    svc = InferenceService(id="s", model="m", accelerators=("H100",), rps_per_replica=1, latency_slo_ms=50,
                           total_demand_rps=100)
    s = Scenario(**_base(
        user_regions=(UserRegion(name="a", lat_deg=0, lon_deg=0, weight=3), UserRegion(name="b", lat_deg=1,
                      lon_deg=1, weight=1)),
        inference_services=(svc,),
    ))
    assert s.demand_rps(svc) == {"a": 75.0, "b": 25.0}
    assert s.provider_of_offering("p:r:x").name == "p"
