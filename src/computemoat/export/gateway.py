"""Gateway config from a plan: one backend per inference placement, weighted by planned replicas.

Shape (owned by the gateway's ``GatewayConfig``): ``default_policy``, ``backends`` (name, url,
provider, site, lat/lon, models, weight, usd_per_hour) and ``user_regions``. URLs come from a
template; the default points at ``.invalid`` hosts so nothing is routed before the user edits it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from computemoat.model import Plan, Scenario, UserError

DEFAULT_URL_TEMPLATE = "http://{provider}-{region}.{service}.invalid"


def gateway_config(
    scenario: Scenario, plan: Plan, *, url_template: str = DEFAULT_URL_TEMPLATE, default_policy: str = "latency"
) -> dict[str, Any]:
    """The config as plain data (dump with :func:`gateway_yaml`)."""
    services = {s.id: s for s in scenario.inference_services}
    sites = {s.id: s for s in scenario.sites}
    backends = []
    for p in plan.inference:
        svc, site = services[p.service_id], sites[p.site_id]  # ids checked by read_plan
        fields = {
            "provider": p.provider,
            "region": site.region,
            "service": p.service_id,
            "model": svc.model,
            "site": p.site_id,
        }
        try:
            url = url_template.format(**fields)
        except (KeyError, IndexError) as e:
            known = ", ".join("{" + k + "}" for k in fields)
            raise UserError(f"--url-template: unknown field {e} (use {known})") from None
        backends.append(
            {
                "name": re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{p.service_id}-{p.offering_id}"),
                "url": url,
                "provider": p.provider,
                "site": p.site_id,
                "lat_deg": site.lat_deg,
                "lon_deg": site.lon_deg,
                "models": [svc.model],
                "weight": p.replicas,
                "usd_per_hour": round(p.cost_usd / scenario.horizon_hours, 4),
            }
        )
    if not backends:
        raise UserError(f"plan for {plan.scenario} has no inference placements: no gateway backends to export")
    return {
        "default_policy": default_policy,
        "backends": backends,
        "user_regions": [{"name": r.name, "lat_deg": r.lat_deg, "lon_deg": r.lon_deg} for r in scenario.user_regions],
    }


def gateway_yaml(scenario: Scenario, plan: Plan, *, url_template: str = DEFAULT_URL_TEMPLATE) -> str:
    header = f"# computemoat gateway config for scenario {scenario.name}: edit each backend url\n"
    body: str = yaml.safe_dump(gateway_config(scenario, plan, url_template=url_template), sort_keys=False)
    return header + body
