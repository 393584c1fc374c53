"""Small hand-built scenarios and plans (the planner is tested elsewhere; these pin exact numbers)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import (
    Accelerator,
    Assignment,
    InferencePlacement,
    InferenceService,
    Offering,
    Plan,
    Provider,
    ProviderKind,
    Scenario,
    Site,
    Tier,
    TrainingJob,
    TrainingPlacement,
    UserRegion,
)

PRICE = 2.0  # USD per GPU-hour everywhere: costs are easy to check by hand


def make_scenario(
    n_providers: int = 3,
    *,
    jobs: tuple[TrainingJob, ...] = (),
    services: tuple[InferenceService, ...] = (),
) -> Scenario:
    providers = tuple(
        Provider(name=f"p{i}", kind=ProviderKind.hyperscaler, jurisdiction="US", egress_usd_per_gb=0.05)
        for i in range(n_providers)
    )
    sites = tuple(
        Site(id=f"p{i}:r{i}", provider=f"p{i}", region=f"r{i}", lat_deg=40.0 + 5 * i, lon_deg=-100.0 + 30 * i)
        for i in range(n_providers)
    )
    offerings = tuple(
        Offering(
            id=f"p{i}:r{i}:h100",
            site=f"p{i}:r{i}",
            accelerator="H100",
            usd_per_gpu_hour_on_demand=PRICE,
            usd_per_gpu_hour_spot=PRICE / 2,
            capacity_gpus=65_536,
        )
        for i in range(n_providers)
    )
    return Scenario(
        name="sim-test",
        providers=providers,
        sites=sites,
        accelerators=(Accelerator(name="H100", board_power_w=700, memory_gb=80),),
        offerings=offerings,
        user_regions=(UserRegion(name="nyc", lat_deg=40.7, lon_deg=-74.0),),
        training_jobs=jobs,
        inference_services=services,
    )


def training_placement(job: TrainingJob, provider: int, tier: Tier = Tier.on_demand) -> TrainingPlacement:
    price = PRICE if tier == Tier.on_demand else PRICE / 2
    return TrainingPlacement(
        job_id=job.id,
        offering_id=f"p{provider}:r{provider}:h100",
        site_id=f"p{provider}:r{provider}",
        provider=f"p{provider}",
        tier=tier,
        gpus=job.gpus,
        cost_usd=job.gpus * job.hours * price,
    )


def inference_placement(
    svc: InferenceService, provider: int, replicas: int, horizon_hours: float
) -> InferencePlacement:
    gpus = replicas * svc.gpus_per_replica
    return InferencePlacement(
        service_id=svc.id,
        offering_id=f"p{provider}:r{provider}:h100",
        site_id=f"p{provider}:r{provider}",
        provider=f"p{provider}",
        replicas=replicas,
        gpus=gpus,
        cost_usd=gpus * PRICE * horizon_hours,
    )


def make_plan(
    scenario: Scenario,
    training: dict[str, int] | None = None,
    inference: dict[str, dict[int, int]] | None = None,
) -> Plan:
    """training: job id -> provider index; inference: service id -> {provider index: replicas}."""
    tp = tuple(
        training_placement(next(j for j in scenario.training_jobs if j.id == jid), p)
        for jid, p in (training or {}).items()
    )
    ip, asg = [], []
    for sid, spread in (inference or {}).items():
        svc = next(s for s in scenario.inference_services if s.id == sid)
        for p, replicas in spread.items():
            ip.append(inference_placement(svc, p, replicas, scenario.horizon_hours))
            for region, rps in scenario.demand_rps(svc).items():
                asg.append(Assignment(service_id=sid, region=region, site_id=f"p{p}:r{p}", rps=rps, rtt_ms=10.0))
    total = sum(p.cost_usd for p in (*tp, *ip))
    return Plan(
        scenario=scenario.name,
        status="hand-built",
        total_cost_usd=total,
        training=tp,
        inference=tuple(ip),
        assignments=tuple(asg),
    )


def job(job_id: str = "train", gpus: int = 1024, hours: float = 100.0, **kw: object) -> TrainingJob:
    return TrainingJob(id=job_id, accelerators=("H100",), gpus=gpus, hours=hours, **kw)


def service(service_id: str = "chat", rps: float = 100.0, per_replica: float = 10.0, k: int = 0) -> InferenceService:
    return InferenceService(
        id=service_id,
        model="m",
        accelerators=("H100",),
        rps_per_replica=per_replica,
        demand_rps={"nyc": rps},
        latency_slo_ms=100.0,
        redundancy_k=k,
    )


@pytest.fixture
def kit() -> SimpleNamespace:
    """Builders for tests (pytest runs with --import-mode=importlib, so helpers travel as a fixture)."""
    return SimpleNamespace(scenario=make_scenario, plan=make_plan, job=job, service=service)
