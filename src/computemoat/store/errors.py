"""Typed errors of the store: user mistakes the admin API answers with 404 / 409 / 422 and the CLI with
exit 2, and an outage the gateway answers with 503 + Retry-After (never a 500)."""

from __future__ import annotations

from computemoat.model.errors import UserError


class NotFoundError(UserError):
    """The named tenant, key or month has nothing to show."""


class ConflictError(UserError):
    """The thing already exists (e.g. a tenant id)."""


class FieldError(UserError):
    """A bad value of one named field (``database_url``, ``month``, ``rpm``...). The message starts
    with the field's name; a front end that calls the field something else (a CLI flag) swaps it with
    :meth:`renamed`."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field} {detail}")
        self.field = field
        self.detail = detail

    def renamed(self, names: dict[str, str]) -> UserError:
        return UserError(f"{names.get(self.field, self.field)} {self.detail}")


class StoreUnavailableError(Exception):
    """The database failed while admitting a request (server down, lock timeout, disk full): not the
    caller's fault, so the gateway answers 503 with ``retry_after_s`` instead of a 500."""

    def __init__(self, reason: str, retry_after_s: float = 1.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
