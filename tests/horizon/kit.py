"""Tiny scenarios for multi-period tests: numbers chosen so each optimum can be derived by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from computemoat.model import (
    Accelerator,
    Horizon,
    InferenceService,
    Offering,
    Policy,
    Provider,
    ProviderKind,
    Scenario,
    Site,
    TrainingJob,
    UserRegion,
)

H100 = Accelerator(name="H100", board_power_w=700, memory_gb=80)
START = dt.date(2027, 1, 1)
HOURS = 730.0  # one month


def provider(name: str, egress: float = 0.0) -> Provider:
    return Provider(name=name, kind=ProviderKind.hyperscaler, jurisdiction="US", egress_usd_per_gb=egress)


def site(prov: str, region: str = "x") -> Site:
    return Site(id=f"{prov}:{region}", provider=prov, region=region, lat_deg=0.0, lon_deg=0.0)


def offering(site_id: str, price: float, capacity: int = 64, gpi: int = 8, **kw: Any) -> Offering:
    return Offering(
        id=f"{site_id}:h100x{gpi}",
        site=site_id,
        accelerator="H100",
        gpus_per_instance=gpi,
        usd_per_gpu_hour_on_demand=price,
        capacity_gpus=capacity,
        **kw,
    )


def service(svc_id: str = "chat", rps: float = 1.0, gpr: int = 8, k: int = 0, **kw: Any) -> InferenceService:
    return InferenceService(
        id=svc_id,
        model="m",
        accelerators=("H100",),
        gpus_per_replica=gpr,
        rps_per_replica=1.0,
        demand_rps={"r": rps},
        latency_slo_ms=50.0,
        redundancy_k=k,
        **kw,
    )


def job(job_id: str = "train", gpus: int = 8, hours: float = 100.0, **kw: Any) -> TrainingJob:
    return TrainingJob(id=job_id, accelerators=("H100",), gpus=gpus, hours=hours, **kw)


def scenario(
    providers: list[Provider],
    sites: list[Site],
    offerings: list[Offering],
    *,
    services: tuple[InferenceService, ...] = (),
    jobs: tuple[TrainingJob, ...] = (),
    horizon: Horizon | None = None,
    policy: Policy | None = None,
    regions: tuple[UserRegion, ...] | None = None,
) -> Scenario:
    return Scenario(
        name="kit",
        providers=tuple(providers),
        sites=tuple(sites),
        accelerators=(H100,),
        offerings=tuple(offerings),
        user_regions=regions
        if regions is not None
        else ((UserRegion(name="r", lat_deg=0.0, lon_deg=0.0),) if services else ()),
        training_jobs=jobs,
        inference_services=services,
        horizon=horizon,
        policy=policy or Policy(),
    )


def near(sc: Scenario, rtt_ms: float = 10.0) -> np.ndarray:
    """Every site within ``rtt_ms`` of every region."""
    return np.full((len(sc.user_regions), len(sc.sites)), rtt_ms)
