"""One SkyPilot task YAML per training placement: cloud, region, accelerators, instance type,
num_nodes, use_spot — the task SkyPilot would launch for exactly the planned offering.

Providers SkyPilot does not know (specialized or edge operators) are exported as
``cloud: kubernetes`` with the provider's cluster as the kube context (``region``), which is how
SkyPilot reaches clusters it has no cloud adapter for.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from computemoat.model import Plan, Scenario, Tier, TrainingPlacement, UserError

SKYPILOT_CLOUDS = frozenset(
    {
        "aws",
        "gcp",
        "azure",
        "lambda",
        "nebius",
        "oci",
        "runpod",
        "paperspace",
        "fluidstack",
        "cudo",
        "ibm",
        "vast",
        "do",
        "scp",
        "vsphere",
        "kubernetes",
    }
)


def _task(scenario: Scenario, p: TrainingPlacement) -> str:
    # read_plan has checked that the plan's ids exist in the scenario
    off = scenario.offering(p.offering_id)
    site = scenario.site(p.site_id)
    job = next(j for j in scenario.training_jobs if j.id == p.job_id)
    resources: dict[str, object] = {}
    if p.provider in SKYPILOT_CLOUDS:
        resources["cloud"] = p.provider
        resources["region"] = site.region
    else:
        resources["cloud"] = "kubernetes"
        resources["region"] = f"{p.provider}-{site.region}"  # kube context of the provider's cluster
    resources["accelerators"] = f"{off.accelerator}:{off.gpus_per_instance}"
    if off.instance_type and p.provider in SKYPILOT_CLOUDS:
        resources["instance_type"] = off.instance_type
    resources["use_spot"] = p.tier == Tier.spot
    task = {"name": p.job_id, "resources": resources, "num_nodes": p.gpus // off.gpus_per_instance}
    header = [
        f"# computemoat plan for scenario {scenario.name}: training job {p.job_id}",
        f"# {p.gpus} x {off.accelerator} on {p.offering_id}, tier {p.tier.value}, {job.hours:g} h, "
        f"planned cost ${p.cost_usd:,.0f}",
    ]
    if p.tier == Tier.reserved:
        header.append("# tier reserved: launch into the reservation / committed-use capacity bought for it")
    if p.provider not in SKYPILOT_CLOUDS:
        header.append(
            f"# {p.provider} is not a SkyPilot cloud: register its cluster as kube context {resources['region']}"
        )
    header.append("# add setup/run/file_mounts for the job itself")
    body: str = yaml.safe_dump(task, sort_keys=False)
    return "\n".join(header) + "\n" + body


def skypilot_tasks(scenario: Scenario, plan: Plan) -> dict[str, str]:
    """File name -> task YAML text, one per training placement."""
    return {f"{_safe(p.job_id)}.sky.yaml": _task(scenario, p) for p in plan.training}


def write_skypilot_tasks(scenario: Scenario, plan: Plan, out_dir: Path) -> list[Path]:
    """Write the task files into ``out_dir`` (created); returns their paths."""
    tasks = skypilot_tasks(scenario, plan)
    if not tasks:
        raise UserError(f"plan for {plan.scenario} has no training placements: nothing to export to SkyPilot")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in tasks.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
