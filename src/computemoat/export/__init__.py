"""Turn a plan into what runs it: SkyPilot task YAML per training placement, a gateway config for
the inference placements."""

from computemoat.export.gateway import DEFAULT_URL_TEMPLATE, gateway_config, gateway_yaml
from computemoat.export.skypilot import skypilot_tasks, write_skypilot_tasks

__all__ = ["DEFAULT_URL_TEMPLATE", "gateway_config", "gateway_yaml", "skypilot_tasks", "write_skypilot_tasks"]
