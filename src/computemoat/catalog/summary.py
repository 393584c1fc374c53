"""A few lines that tell a person what a scenario contains."""

from __future__ import annotations

from collections import Counter

from computemoat.model import Scenario
from computemoat.model.text import plural


def summarize(s: Scenario) -> list[str]:
    kinds = Counter(p.kind.value for p in s.providers)
    accel = Counter(o.accelerator for o in s.offerings)
    total_gpus = sum(o.capacity_gpus for o in s.offerings)
    illustrative = [p.name for p in s.providers if p.illustrative]
    train_gpus = sum(j.gpus for j in s.training_jobs)
    demand = sum(sum(s.demand_rps(svc).values()) for svc in s.inference_services)
    lines = [
        f"providers   {len(s.providers)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
        + (f"; illustrative: {', '.join(illustrative)}" if illustrative else ""),
        f"sites       {len(s.sites)} ({sum(x.ground_station for x in s.sites)} with a LEO ground station)",
        f"offerings   {len(s.offerings)} ({', '.join(f'{a} {n}' for a, n in sorted(accel.items()))});"
        f" {total_gpus:,} GPUs of capacity",
        f"users       {plural(len(s.user_regions), 'region')}"
        + (f" ({', '.join(r.name for r in s.user_regions[:6])}{', …' if len(s.user_regions) > 6 else ''})"
           if s.user_regions else ""),
        f"training    {plural(len(s.training_jobs), 'job')}, {train_gpus:,} GPUs in all"
        + (f", largest {max(j.gpus for j in s.training_jobs):,} GPUs" if s.training_jobs else ""),
        f"inference   {plural(len(s.inference_services), 'service')}, {demand:,.0f} requests/s in all",
    ]
    p = s.policy
    caps = [
        f"spend share <= {p.max_provider_share_spend:.0%}" if p.max_provider_share_spend else "",
        f"GPU share <= {p.max_provider_share_gpus:.0%}" if p.max_provider_share_gpus else "",
        f"excluded providers {list(p.excluded_providers)}" if p.excluded_providers else "",
        f"excluded jurisdictions {list(p.excluded_jurisdictions)}" if p.excluded_jurisdictions else "",
        f"residency rules for {plural(len(p.residency), 'region')}" if p.residency else "",
    ]
    lines.append("policy      " + ("; ".join(c for c in caps if c) or "none"))
    return lines
