"""The admin API (mounted at ``/admin``): tenants, keys, limits, prices and spend, as documented by its
own OpenAPI (``/admin/openapi.json``) and conforming to it: every status it can answer is declared,
bodies are strict (``{"rpm": true}`` and ``1e400`` are 422s, not a 1 and a 500), a 405 names every
method of the path in ``Allow``, and validation errors are JSON even when the input was not finite."""


import hmac
import math
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from computemoat.model.errors import UserError
from computemoat.store import Database, repo
from computemoat.store import limits as limits_store
from computemoat.store.errors import ConflictError, NotFoundError
from computemoat.store.limits import BudgetPeriod, Limits
from computemoat.store.limits import Scope as LimitScope
from computemoat.store.usage import ReportBy, SpendLine, UsageLine, spend_report, usage_by_model

# Names are any Unicode text without control characters (C0, DEL, C1), the schema's pattern too, so
# valid generated names are accepted (lone surrogates, which no JSON text in UTF-8 can carry and no
# database column takes, are refused as well).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
# {"detail": ...} from this API; {"error": {...}} (OpenAI's shape) from the gateway around it, e.g. a
# 404 for a path no admin route matches.
_ERROR = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "the body is not JSON"},
    401: _ERROR, 403: _ERROR, 404: _ERROR, 405: _ERROR, 409: _ERROR, 422: _ERROR,
}


def _finite_json(value: Any) -> Any:
    """``value`` with NaN/Infinity replaced by their names (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


class AdminRoute(APIRoute):
    """Validation errors as JSON 422s whatever the input; 405 with every method of the path (each
    router makes a subclass whose ``allow_by_path`` it fills once its routes are declared)."""

    allow_by_path: ClassVar[dict[str, set[str]]] = {}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                return JSONResponse({"detail": _finite_json(jsonable_encoder(e.errors()))}, 422)

        return run

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allow = sorted(self.allow_by_path.get(self.path, self.methods))
            response = JSONResponse({"detail": f"{scope['method']} is not allowed here; use {', '.join(allow)}"},
                                    405, headers={"Allow": ", ".join(allow)})
            await response(scope, receive, send)
            return
        await super().handle(scope, receive, send)


def _clean(v: str) -> str:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise ValueError("must not contain control characters")
    return v


Name = Annotated[str, Field(max_length=64, pattern=NAME_PATTERN), AfterValidator(_clean)]
ModelName = Annotated[str, Field(min_length=1, max_length=128, pattern=NAME_PATTERN), AfterValidator(_clean)]
TenantId = Annotated[str, Path(pattern=repo.TENANT_ID_RE.pattern, description=repo.TENANT_ID_HINT)]
KeyId = Annotated[str, Path(pattern=r"^key_[0-9a-f]{16}$")]
Month = Annotated[str, Query(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", examples=["2026-11"])]


def _whole(v: Any) -> Any:
    """A JSON integer: an int, or a number with no fractional part (``5.0``, as JSON Schema counts it);
    never a boolean or a string."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a whole number (not a boolean or a string)")
    if isinstance(v, float):
        if not math.isfinite(v) or not v.is_integer():
            raise ValueError("must be a finite whole number")
        return int(v)
    return v


Rpm = Annotated[int, Field(ge=1, le=limits_store.RPM_MAX, strict=True), BeforeValidator(_whole)]
Tpm = Annotated[int, Field(ge=1, le=limits_store.TPM_MAX, strict=True), BeforeValidator(_whole)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(Strict):
    id: str = Field(pattern=repo.TENANT_ID_RE.pattern, description=repo.TENANT_ID_HINT)


class KeyIn(Strict):
    name: Name = ""
    allowed_models: list[ModelName] | None = Field(default=None, max_length=repo.MODELS_MAX,
                                                   description="models this key may call; null: every model")


class ModelsIn(Strict):
    allowed_models: list[ModelName] | None = Field(max_length=repo.MODELS_MAX)


class NewKeyOut(Strict):
    key_id: str
    tenant_id: str
    api_key: str = Field(description="shown once; only its SHA-256 is stored")
    prefix: str
    allowed_models: list[str] | None


class LimitsIn(Strict):
    """Fields left out stay as they are; ``null`` removes a limit. Whole numbers for rpm/tpm, finite
    numbers for money and fractions; booleans are not numbers."""

    rpm: Rpm | None = None
    tpm: Tpm | None = None
    budget_usd: float | None = Field(default=None, gt=0, le=limits_store.BUDGET_USD_MAX, allow_inf_nan=False,
                                     strict=True)
    budget_period: BudgetPeriod | None = Field(default=None, description="daily, weekly or monthly (UTC)")
    alert_at_fraction: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False, strict=True,
                                            description="a soft alert once spend reaches this share of the budget")


class PriceIn(Strict):
    model: ModelName
    provider: Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN), AfterValidator(_clean)] = \
        Field(description="'*' prices the model on every provider without its own row")
    usd_per_mtok_prompt: float = Field(ge=0, lt=repo.PRICE_MAX, allow_inf_nan=False, strict=True)
    usd_per_mtok_completion: float = Field(ge=0, lt=repo.PRICE_MAX, allow_inf_nan=False, strict=True)


class UsageOut(Strict):
    tenant_id: str
    month: str
    lines: list[UsageLine]
    total_cost_usd: float


class SpendOut(Strict):
    tenant_id: str
    month: str
    by: ReportBy
    lines: list[SpendLine]
    total_cost_usd: float


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NotFoundError as e:
        raise HTTPException(404, " ".join(e.lines)) from None
    except ConflictError as e:
        raise HTTPException(409, " ".join(e.lines)) from None
    except UserError as e:
        raise HTTPException(422, " ".join(e.lines)) from None


def admin_router(db: Database, admin_token: str | None) -> APIRouter:
    """Tenants, keys, limits, prices with the admin token; a tenant's usage and spend also with one of
    that tenant's own keys (and no other tenant's)."""

    def bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
        if authorization and authorization[:7].lower() == "bearer ":
            return authorization[7:].strip()
        return None

    def is_admin(token: str | None) -> bool:
        return bool(admin_token and token) and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), admin_token.encode()  # type: ignore[union-attr]
        )

    def require_admin(token: Annotated[str | None, Depends(bearer)]) -> None:
        if admin_token is None:
            raise HTTPException(403, "the admin API is disabled: start `computemoat serve` with --admin-token")
        if not is_admin(token):
            raise HTTPException(401, "admin endpoints need 'Authorization: Bearer <admin token>'",
                                headers={"WWW-Authenticate": "Bearer"})

    def require_reader(tenant_id: str, token: str | None) -> None:
        if is_admin(token):
            return
        owner = repo.lookup_key(db, token) if token else None
        if owner is None:
            raise HTTPException(401, "send 'Authorization: Bearer <API key or admin token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        if owner.tenant_id != tenant_id:
            raise HTTPException(403, "this API key belongs to another tenant; it can read only its own usage")

    def limits_of_key(key_id: str) -> LimitScope:
        with db.engine.connect() as conn:
            return limits_store.key_scope(conn, key_id)

    class Route(AdminRoute):
        allow_by_path: ClassVar[dict[str, set[str]]] = {}

    admin = [Depends(require_admin)]
    router = APIRouter(route_class=Route, responses=RESPONSES)

    @router.post("/tenants", status_code=status.HTTP_201_CREATED, dependencies=admin)
    def create_tenant(body: TenantIn) -> repo.TenantInfo:
        return _call(repo.create_tenant, db, body.id)

    @router.get("/tenants", dependencies=admin)
    def list_tenants() -> list[repo.TenantInfo]:
        return _call(repo.list_tenants, db)

    @router.post("/tenants/{tenant_id}/disable", dependencies=admin)
    def disable_tenant(tenant_id: TenantId) -> repo.TenantInfo:
        _call(repo.disable_tenant, db, tenant_id)
        return _call(repo.get_tenant, db, tenant_id)

    @router.post("/tenants/{tenant_id}/keys", status_code=status.HTTP_201_CREATED, dependencies=admin)
    def create_key(tenant_id: TenantId, body: KeyIn) -> NewKeyOut:
        return NewKeyOut(**asdict(_call(repo.create_key, db, tenant_id, body.name, body.allowed_models)))

    @router.get("/tenants/{tenant_id}/keys", dependencies=admin)
    def list_keys(tenant_id: TenantId) -> list[repo.KeyInfo]:
        return _call(repo.list_keys, db, tenant_id)

    @router.delete("/keys/{key_id}", dependencies=admin)
    def revoke_key(key_id: KeyId) -> dict[str, Any]:
        _call(repo.revoke_key, db, key_id)
        return {"key_id": key_id, "revoked": True}

    @router.put("/keys/{key_id}/models", dependencies=admin)
    def set_key_models(key_id: KeyId, body: ModelsIn) -> repo.KeyInfo:
        return _call(repo.set_allowed_models, db, key_id, body.allowed_models)

    @router.get("/tenants/{tenant_id}/limits", dependencies=admin)
    def get_limits(tenant_id: TenantId) -> Limits:
        return _call(limits_store.get_limits, db, LimitScope(tenant_id))

    @router.put("/tenants/{tenant_id}/limits", dependencies=admin)
    def set_limits(tenant_id: TenantId, body: LimitsIn) -> Limits:
        changes = {f: getattr(body, f) for f in body.model_fields_set}
        return _call(limits_store.set_limits, db, LimitScope(tenant_id), **changes)

    @router.get("/keys/{key_id}/limits", dependencies=admin)
    def get_key_limits(key_id: KeyId) -> Limits:
        return _call(lambda: limits_store.get_limits(db, limits_of_key(key_id)))

    @router.put("/keys/{key_id}/limits", dependencies=admin)
    def set_key_limits(key_id: KeyId, body: LimitsIn) -> Limits:
        changes = {f: getattr(body, f) for f in body.model_fields_set}
        return _call(lambda: limits_store.set_limits(db, limits_of_key(key_id), **changes))

    @router.put("/prices", dependencies=admin)
    def set_price(body: PriceIn) -> PriceIn:
        _call(repo.set_price, db, body.model, body.provider, body.usd_per_mtok_prompt, body.usd_per_mtok_completion)
        return body

    @router.get("/tenants/{tenant_id}/usage")
    def tenant_usage(tenant_id: TenantId, month: Month, token: Annotated[str | None, Depends(bearer)]) -> UsageOut:
        """Usage and cost by model and provider: for the admin, or for a key of this very tenant."""
        require_reader(tenant_id, token)
        lines = _call(usage_by_model, db, tenant_id, month)
        return UsageOut(tenant_id=tenant_id, month=month, lines=lines, total_cost_usd=sum(x.cost_usd for x in lines))

    @router.get("/tenants/{tenant_id}/spend")
    def tenant_spend(tenant_id: TenantId, month: Month, token: Annotated[str | None, Depends(bearer)],
                     by: ReportBy = ReportBy.KEY) -> SpendOut:
        """Spend by key, UTC day, request tag (the OpenAI ``user`` field) or model."""
        require_reader(tenant_id, token)
        lines = _call(spend_report, db, tenant_id, month, by)
        return SpendOut(tenant_id=tenant_id, month=month, by=by, lines=lines,
                        total_cost_usd=sum(x.cost_usd for x in lines))

    for route in router.routes:
        if isinstance(route, APIRoute):
            Route.allow_by_path.setdefault(route.path, set()).update(route.methods or ())
    return router
