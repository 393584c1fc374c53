"""Typed user errors so the admin API can answer 404 / 409 instead of a generic 400."""

from __future__ import annotations

from computemoat.model.errors import UserError


class NotFoundError(UserError):
    """The named tenant, key or month has nothing to show."""


class ConflictError(UserError):
    """The thing already exists (e.g. a tenant id)."""
