"""Reading a fault model from YAML. The model itself (rates, sources, defaults) lives one floor down in
``computemoat.reliability`` so the planner plans with the same numbers the simulator samples."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from computemoat.model import UserError
from computemoat.reliability import (
    AWS_SPOT_PER_INSTANCE_HOUR,
    GCP_SPOT_PER_INSTANCE_HOUR,
    HOURS_PER_MONTH,
    HOURS_PER_YEAR,
    LLAMA3_CAUSE_COUNTS,
    LLAMA3_GPU_HOURS_PER_INTERRUPTION,
    FaultModel,
    GpuInterruptions,
    OutagePolicy,
    ProviderFaults,
    Withdrawal,
)

__all__ = [
    "AWS_SPOT_PER_INSTANCE_HOUR",
    "GCP_SPOT_PER_INSTANCE_HOUR",
    "HOURS_PER_MONTH",
    "HOURS_PER_YEAR",
    "LLAMA3_CAUSE_COUNTS",
    "LLAMA3_GPU_HOURS_PER_INTERRUPTION",
    "FaultModel",
    "GpuInterruptions",
    "OutagePolicy",
    "ProviderFaults",
    "Withdrawal",
    "load_faults",
]


def load_faults(path: str | Path, overrides: Mapping[str, object] | None = None) -> FaultModel:
    """Read a fault-model YAML file; each bad value becomes one ``file:line: field: problem`` line."""
    from computemoat.catalog.errors import pydantic_lines
    from computemoat.catalog.yamlsource import read_yaml

    doc = read_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise UserError(f"{path}:1: fault model must be a mapping of field: value (see docs/simulator.md)")
    try:
        return FaultModel.model_validate({**data, **(overrides or {})})
    except ValidationError as e:
        raise UserError(*pydantic_lines(doc, e, FaultModel)) from None
