"""Base class for every domain type: frozen (hashable, safe to share) and strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Immutable value object; change through ``model_copy(update=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
