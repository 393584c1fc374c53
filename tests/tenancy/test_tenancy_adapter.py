"""The store-backed Authenticator and UsageSink, called directly as the gateway calls them."""

from __future__ import annotations

import asyncio

from computemoat.gateway.hooks import TenantContext, UsageRecord
from computemoat.gateway.tenancy import StoreAuthenticator, StoreUsageSink
from computemoat.store import repo
from computemoat.store.limits import Scope, set_limits
from computemoat.store.usage import month_bounds_unix_s, stored_request_ids, usage_by_model


def _rec(ctx: TenantContext, i: int) -> UsageRecord:
    return UsageRecord(ctx.tenant_id, ctx.key_id, "m", "aws", "use1", "b1", 10, 5, 3.0, 200, False,
                       month_bounds_unix_s("2026-11")[0] + i, f"req-{i}")


def test_keys_map_to_their_own_tenant_and_garbage_is_rejected(db):
    repo.create_tenant(db, "acme")
    repo.create_tenant(db, "globex")
    a, g = repo.create_key(db, "acme"), repo.create_key(db, "globex")
    auth = StoreAuthenticator(db)

    async def go() -> list[TenantContext | None]:
        return [await auth.authenticate(k) for k in (a.api_key, g.api_key, None, "", "cm-nope", "x" * 10_000)]

    assert asyncio.run(go()) == [TenantContext("acme", a.key_id), TenantContext("globex", g.key_id),
                                 None, None, None, None]


def test_revocation_and_disabling_take_effect_after_the_cache_ttl(db):
    repo.create_tenant(db, "acme")
    k1, k2 = repo.create_key(db, "acme"), repo.create_key(db, "acme")
    auth = StoreAuthenticator(db, cache_ttl_s=0.2)

    async def go() -> list[TenantContext | None]:
        seen = [await auth.authenticate(k1.api_key)]
        repo.revoke_key(db, k1.key_id)
        seen.append(await auth.authenticate(k1.api_key))  # cached: still valid inside the TTL
        await asyncio.sleep(0.25)
        seen.append(await auth.authenticate(k1.api_key))
        repo.disable_tenant(db, "acme")
        await asyncio.sleep(0.25)
        seen.append(await auth.authenticate(k2.api_key))
        return seen

    ctx = TenantContext("acme", k1.key_id)
    assert asyncio.run(go()) == [ctx, ctx, None, None]


def test_admit_enforces_limits_only_for_limited_tenants(db):
    for t in ("acme", "free"):
        repo.create_tenant(db, t)
    set_limits(db, Scope("acme"), rpm=2)
    auth = StoreAuthenticator(db, cache_ttl_s=0.0)

    async def go() -> tuple[list[int], list[int], float | None]:
        acme = [await auth.admit(TenantContext("acme", "k"), "m", 10) for _ in range(3)]
        free = [await auth.admit(TenantContext("free", "k"), "m", 10) for _ in range(5)]
        return [a.status for a in acme], [a.status for a in free], acme[-1].retry_after_s

    acme, free, retry_after_s = asyncio.run(go())
    assert acme == [200, 200, 429] and free == [200] * 5
    assert retry_after_s is not None and 0 < retry_after_s <= 61


def test_sink_returns_after_commit_and_records_are_queryable(db):
    repo.create_tenant(db, "acme")
    repo.set_price(db, "m", "aws", 1.0, 2.0)
    ctx = TenantContext("acme", "key_1")

    async def go() -> None:
        sink = StoreUsageSink(db)
        await asyncio.gather(*(sink.record(_rec(ctx, i)) for i in range(100)))
        # every awaited record is already visible to another connection, before aclose()
        assert len(stored_request_ids(db, [f"req-{i}" for i in range(100)])) == 100
        await sink.writer.aclose()

    asyncio.run(go())
    (line,) = usage_by_model(db, "acme", "2026-11")
    assert (line.requests, line.prompt_tokens, line.completion_tokens) == (100, 1000, 500)
    assert abs(line.cost_usd - 100 * (10 * 1.0 + 5 * 2.0) / 1e6) < 1e-12


def test_leasing_authenticators_are_exact_together_and_an_idle_one_gives_back_its_lease(db):
    """Two authenticators stand for two gateway processes (each has its own leases)."""
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100)
    a, b = StoreAuthenticator(db), StoreAuthenticator(db)
    ctx = TenantContext("acme", "k")

    async def go() -> tuple[int, int]:
        burst = await asyncio.gather(*(a.admit(ctx, "m", 10) for _ in range(30)))  # a's lease grows
        admitted_a = sum(x.ok for x in burst)
        await asyncio.sleep(1.2)  # a goes idle: its lease's second ends and the unused rest is settled
        admitted_b = 0
        for _ in range(150):
            admitted_b += (await b.admit(ctx, "m", 10)).ok
        return admitted_a, admitted_b

    admitted_a, admitted_b = asyncio.run(go())
    assert admitted_a == 30 and admitted_a + admitted_b == 100


def test_alternating_authenticators_admit_exactly_the_limit(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100, tpm=100_000)
    auths = [StoreAuthenticator(db), StoreAuthenticator(db)]
    ctx = TenantContext("acme", "k")

    async def go() -> list[int]:
        admitted = [0, 0]
        for i in range(300):
            admitted[i % 2] += (await auths[i % 2].admit(ctx, "m", 10)).ok
        return admitted

    admitted = asyncio.run(go())
    assert sum(admitted) == 100 and min(admitted) > 0, admitted


def test_concurrent_cache_misses_load_a_key_once(db):
    from sqlalchemy import event

    repo.create_tenant(db, "acme")
    key = repo.create_key(db, "acme")
    lookups: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "api_keys" in statement:
            lookups.append(statement)

    auth = StoreAuthenticator(db)

    async def go() -> list[TenantContext | None]:
        return await asyncio.gather(*(auth.authenticate(key.api_key) for _ in range(50)))

    assert set(asyncio.run(go())) == {TenantContext("acme", key.key_id)}
    assert len(lookups) == 1


def test_a_cancelled_request_still_has_its_record_committed(db):
    repo.create_tenant(db, "acme")
    ctx = TenantContext("acme", "key_1")

    async def go() -> None:
        sink = StoreUsageSink(db)
        doomed = asyncio.ensure_future(sink.record(_rec(ctx, 0)))
        kept = asyncio.ensure_future(sink.record(_rec(ctx, 1)))
        await asyncio.sleep(0)
        doomed.cancel()
        await kept
        await sink.writer.aclose()

    asyncio.run(go())
    assert stored_request_ids(db, ["req-0", "req-1"]) == {"req-0", "req-1"}
