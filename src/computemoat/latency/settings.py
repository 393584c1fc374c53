"""Command-line style overrides of the network settings, validated by the model's own rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from computemoat.model.errors import UserError
from computemoat.model.network import NetworkSettings


def override_network(network: NetworkSettings, overrides: dict[str, tuple[str, Any]]) -> NetworkSettings:
    """``network`` with ``overrides`` applied: field path (``"min_elevation_deg"``,
    ``"leo_shell.planes"``) -> (label the user typed, value); ``None`` values are skipped.
    ``model_copy`` would skip validation, so the result is rebuilt and checked; each problem becomes
    one line naming the label and the allowed range."""
    data = network.model_dump()
    labels: dict[tuple[str, ...], str] = {}
    for path, (label, value) in overrides.items():
        if value is None:
            continue
        keys = tuple(path.split("."))
        target = data
        for key in keys[:-1]:
            target = target[key]
        if keys[-1] not in target:
            raise KeyError(f"no network setting {path!r}")  # a programming error, not a user one
        target[keys[-1]] = value
        labels[keys] = label
    try:
        return NetworkSettings.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = tuple(str(p) for p in err["loc"])
            if not loc:  # a rule across fields
                lines.append("network: " + err["msg"].removeprefix("Value error, "))
                continue
            label = labels.get(loc, "network." + ".".join(loc))
            lines.append(f"{label} {err.get('input')!r}: {err['msg'].lower()}")
        raise UserError(*lines) from None
