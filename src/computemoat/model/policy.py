"""Fleet-wide rules: concentration caps, exclusions, data residency."""

from __future__ import annotations

from pydantic import Field

from computemoat.model.base import Frozen


class Policy(Frozen):
    """Caps are fractions of the whole plan; None means no cap."""

    max_provider_share_spend: float | None = Field(default=None, gt=0, le=1)
    max_provider_share_gpus: float | None = Field(default=None, gt=0, le=1)
    excluded_providers: tuple[str, ...] = ()
    excluded_jurisdictions: tuple[str, ...] = ()
    residency: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="user region -> jurisdictions allowed to serve it"
    )
