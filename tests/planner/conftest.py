"""Small hand-made scenarios for planner tests (fixture ``kit``): numbers chosen so optima are obvious."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from computemoat.model import (
    Accelerator,
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
A100 = Accelerator(name="A100", board_power_w=400, memory_gb=80)


def provider(name: str, jurisdiction: str = "US", **kw: Any) -> Provider:
    return Provider(name=name, kind=ProviderKind.hyperscaler, jurisdiction=jurisdiction, **kw)


def site(provider_name: str, region: str, lat: float = 0.0, lon: float = 0.0, **kw: Any) -> Site:
    return Site(id=f"{provider_name}:{region}", provider=provider_name, region=region, lat_deg=lat, lon_deg=lon, **kw)


def offering(
    site_id: str,
    price: float,
    capacity: int,
    accel: str = "H100",
    *,
    spot: float | None = None,
    reserved: float | None = None,
    itype: str = "gpu8",
    gpi: int = 8,
) -> Offering:
    return Offering(
        id=f"{site_id}:{itype}",
        site=site_id,
        accelerator=accel,
        instance_type=itype,
        gpus_per_instance=gpi,
        usd_per_gpu_hour_on_demand=price,
        usd_per_gpu_hour_spot=spot,
        usd_per_gpu_hour_reserved=reserved,
        capacity_gpus=capacity,
    )


def job(job_id: str, gpus: int, hours: float = 10.0, **kw: Any) -> TrainingJob:
    return TrainingJob(id=job_id, accelerators=("H100",), gpus=gpus, hours=hours, **kw)


def service(
    svc_id: str, demand: dict[str, float], *, rps: float = 10.0, slo_ms: float = 50.0, k: int = 0, **kw: Any
) -> InferenceService:
    return InferenceService(
        id=svc_id,
        model="llama-3.1-70b",
        accelerators=("H100",),
        gpus_per_replica=1,
        rps_per_replica=rps,
        demand_rps=demand,
        latency_slo_ms=slo_ms,
        redundancy_k=k,
        **kw,
    )


def scenario(
    *,
    providers: list[Provider],
    sites: list[Site],
    offerings: list[Offering],
    jobs: list[TrainingJob] = (),
    services: list[InferenceService] = (),  # type: ignore[assignment]
    regions: list[UserRegion] | None = None,
    policy: Policy | None = None,
    **kw: Any,
) -> Scenario:
    if regions is None:
        regions = [UserRegion(name="NYC", lat_deg=40.7, lon_deg=-74.0)] if services else []
    return Scenario(
        name="test",
        providers=tuple(providers),
        sites=tuple(sites),
        accelerators=(H100, A100),
        offerings=tuple(offerings),
        training_jobs=tuple(jobs),
        inference_services=tuple(services),
        user_regions=tuple(regions),
        policy=policy or Policy(),
        **kw,
    )


def rtt(sc: Scenario, table: dict[tuple[str, str], float] | None = None, default: float = 10.0) -> np.ndarray:
    """RTT matrix: ``default`` everywhere except (region, site id) entries in ``table``."""
    out = np.full((len(sc.user_regions), len(sc.sites)), default)
    for (r, s), v in (table or {}).items():
        out[[u.name for u in sc.user_regions].index(r), [x.id for x in sc.sites].index(s)] = v
    return out


@pytest.fixture
def kit() -> SimpleNamespace:
    """The builders above, as one namespace (conftest modules cannot be imported by tests)."""
    return SimpleNamespace(
        provider=provider, site=site, offering=offering, job=job, service=service, scenario=scenario, rtt=rtt
    )


NO_FAULTS_DOC = """The hand-computed costs of these tests are for nominal hours: unless a test passes ``faults``
itself, the planner and validator here see expected hours = nominal hours. Tests of expected hours
(test_deadlines.py, test_oracle.py) pass the real FaultModel defaults explicitly."""


@pytest.fixture(autouse=True)
def _nominal_hours_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import numpy as np

    from computemoat.reliability import FaultModel, JobReliability, expected_hours_rows, job_reliability

    none = object()
    default = FaultModel(random_faults=False)

    def nominal() -> object:
        return none

    def hours(faults: object, **kw: object) -> JobReliability:
        if faults is none:
            work = float(kw["work_hours"])  # type: ignore[arg-type]
            return JobReliability(work, work, 0.0, None)
        return job_reliability(faults, **kw)  # type: ignore[arg-type]

    def batch(faults: object, **kw: object) -> np.ndarray:
        if faults is none:
            return np.asarray(kw["work_hours"], dtype=float)[kw["row_job"]]  # type: ignore[index]
        return expected_hours_rows(faults, **kw)  # type: ignore[arg-type]

    del default
    for name, fn in (
        ("computemoat.planner.flatten", "expected_hours_rows"),
        ("computemoat.planner.validate", "job_reliability"),
    ):
        mod = importlib.import_module(name)
        monkeypatch.setattr(mod, "FaultModel", nominal)
        monkeypatch.setattr(mod, fn, batch if fn == "expected_hours_rows" else hours)
