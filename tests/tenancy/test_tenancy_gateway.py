"""End to end through real ``computemoat serve`` processes: isolation, revocation, budgets, admin API
errors, limits across two gateway processes, and SIGKILL durability under load."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx

from computemoat.store import open_database
from computemoat.store.usage import stored_request_ids

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
MONTH = time.strftime("%Y-%m", time.gmtime())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _tenant_with_key(c: httpx.Client, admin: dict[str, str], tenant: str) -> str:
    assert c.post("/admin/tenants", json={"id": tenant}, headers=admin).status_code == 201
    r = c.post(f"/admin/tenants/{tenant}/keys", json={"name": "test"}, headers=admin)
    assert r.status_code == 201
    return str(r.json()["api_key"])


def test_isolation_revocation_and_budget(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    with httpx.Client(base_url=base, timeout=10) as c:
        key_a, key_b = _tenant_with_key(c, admin, "acme"), _tenant_with_key(c, admin, "globex")
        assert c.post("/v1/chat/completions", json=CHAT).status_code == 401
        assert c.post("/v1/chat/completions", json=CHAT, headers=_bearer("cm-forged")).status_code == 401
        for _ in range(3):
            assert c.post("/v1/chat/completions", json=CHAT, headers=_bearer(key_a)).status_code == 200

        own = c.get(f"/admin/tenants/acme/usage?month={MONTH}", headers=_bearer(key_a))
        assert own.status_code == 200 and [x["requests"] for x in own.json()["lines"]] == [3]
        other = c.get(f"/admin/tenants/globex/usage?month={MONTH}", headers=_bearer(key_a))
        assert other.status_code == 403 and "another tenant" in other.json()["detail"]
        assert c.get(f"/admin/tenants/globex/usage?month={MONTH}", headers=_bearer(key_b)).json()["lines"] == []
        for path in ("/admin/tenants", "/admin/tenants/acme/keys"):  # a tenant key is not the admin token
            assert c.get(path, headers=_bearer(key_a)).status_code == 401
            assert c.get(path).status_code == 401

        key_id = c.get("/admin/tenants/acme/keys", headers=admin).json()[0]["key_id"]
        assert c.delete(f"/admin/keys/{key_id}", headers=admin).status_code == 200
        time.sleep(1.0)  # the promise: a revoked key stops working within a second
        revoked = c.post("/v1/chat/completions", json=CHAT, headers=_bearer(key_a))
        assert revoked.status_code == 401

        assert c.put("/admin/prices", headers=admin, json={
            "model": "m", "provider": "*", "usd_per_mtok_prompt": 1e5, "usd_per_mtok_completion": 1e5,
        }).status_code == 200
        assert c.put("/admin/tenants/globex/limits", headers=admin,
                     json={"budget_usd": 0.5}).status_code == 200
        time.sleep(1.0)  # the gateway's "is this tenant limited" cache
        statuses = [c.post("/v1/chat/completions", json=CHAT, headers=_bearer(key_b)).status_code
                    for _ in range(3)]
        assert statuses[0] == 200 and statuses[-1] == 402  # one request costs > $0.50 at this price
        refused = c.post("/v1/chat/completions", json=CHAT, headers=_bearer(key_b))
        assert "monthly budget of $0.50" in refused.json()["error"]["message"]


def test_admin_api_rejects_bad_input_with_clear_4xx(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    with httpx.Client(base_url=base, timeout=10) as c:
        _tenant_with_key(c, admin, "acme")
        cases = [
            ("post", "/admin/tenants", {"id": "Bad Id!"}, 422, "pattern"),
            ("post", "/admin/tenants", {"id": "acme"}, 409, "already exists"),
            ("post", "/admin/tenants", {"id": "x", "extra": 1}, 422, "extra"),
            ("post", "/admin/tenants/nope/keys", {}, 404, "does not exist"),
            ("put", "/admin/tenants/acme/limits", {"rpm": 0}, 422, "greater than or equal to 1"),
            ("put", "/admin/tenants/nope/limits", {"rpm": 5}, 404, "does not exist"),
            ("delete", "/admin/keys/key_0000000000000000", None, 404, "does not exist"),
            ("get", "/admin/tenants/acme/usage?month=2026-13", None, 422, "pattern"),
        ]
        for method, path, body, want, text in cases:
            kwargs = {"json": body} if body is not None else {}
            r = c.request(method.upper(), path, headers=admin, **kwargs)
            assert (r.status_code, text in r.text) == (want, True), (method, path, r.text)


def test_rate_limit_holds_across_two_gateway_processes(gateway, db_url, admin):
    (base1, _), (base2, _) = gateway(db_url, 2)
    with httpx.Client(base_url=base1, timeout=10) as c:
        key = _tenant_with_key(c, admin, "acme")
        assert c.put("/admin/tenants/acme/limits", headers=admin, json={"rpm": 100}).json()["rpm"] == 100

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            sem = asyncio.Semaphore(16)

            async def one(i: int) -> httpx.Response:
                async with sem:
                    base = (base1, base2)[i % 2]
                    return await client.post(f"{base}/v1/chat/completions", json=CHAT, headers=_bearer(key))

            return await asyncio.gather(*(one(i) for i in range(300)))

    responses = asyncio.run(fire())
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert (len(ok), len(limited)) == (100, 200)
    assert {r.url.port for r in ok} == {httpx.URL(base1).port, httpx.URL(base2).port}
    assert all(float(r.headers["retry-after"]) > 0 for r in limited)


def test_every_answered_request_is_metered_after_sigkill(gateway, db_url, admin):
    [(base, proc)] = gateway(db_url)
    with httpx.Client(base_url=base, timeout=10) as c:
        key = _tenant_with_key(c, admin, "acme")
    acked: list[str] = []

    async def load() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            async def worker() -> None:
                while True:
                    try:
                        r = await client.post("/v1/chat/completions", json=CHAT, headers=_bearer(key))
                    except httpx.HTTPError:
                        return  # the gateway is gone
                    if r.status_code == 200:
                        acked.append(r.headers["x-request-id"])
                    if len(acked) >= 300 and proc.poll() is None:
                        os.kill(proc.pid, signal.SIGKILL)  # 31 other requests are in flight

            await asyncio.gather(*(worker() for _ in range(32)))

    asyncio.run(load())
    assert proc.wait(timeout=10) == -signal.SIGKILL
    db = open_database(db_url)  # what a restarted gateway does first: connect, recover, migrate
    try:
        assert len(acked) >= 300
        assert stored_request_ids(db, acked) == set(acked)
    finally:
        db.dispose()
