"""The store-backed Authenticator with key allow-lists, budgets held for one second per process and
soft alerts to a webhook on 127.0.0.1 (a real HTTP server)."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from sqlalchemy import event

from computemoat.gateway.hooks import TenantContext, UsageRecord
from computemoat.gateway.tenancy import StoreAuthenticator, StoreUsageSink
from computemoat.store import repo
from computemoat.store.limits import Scope, set_limits


def test_a_key_may_call_only_its_allowed_models(db):
    repo.create_tenant(db, "acme")
    narrow = repo.create_key(db, "acme", allowed_models=["llama-8b"])
    wide = repo.create_key(db, "acme")
    auth = StoreAuthenticator(db)

    async def go() -> list[int]:
        n, w = await auth.authenticate(narrow.api_key), await auth.authenticate(wide.api_key)
        assert n is not None and w is not None
        return [(await auth.admit(n, "llama-8b", 1)).status, (await auth.admit(n, "llama-70b", 1)).status,
                (await auth.admit(w, "llama-70b", 1)).status]

    assert asyncio.run(go()) == [200, 403, 200]


def _record(ctx: TenantContext, i: int, prompt_tokens: int) -> UsageRecord:
    import time

    return UsageRecord(ctx.tenant_id, ctx.key_id, "m", "p", "s", "b", prompt_tokens, 0, 1.0, 200, False,
                       time.time(), f"r{i}")


def test_budget_is_checked_once_per_second_and_what_this_process_spends_counts_at_once(db):
    """Oracle: the statements the adapter sends (counted on the engine) and the budget arithmetic:
    at $1 per million tokens a 600,000-token request costs $0.60 of a $1.00 budget."""
    repo.create_tenant(db, "acme")
    key = repo.create_key(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 0.0)
    set_limits(db, Scope("acme"), budget_usd=1.0)
    auth = StoreAuthenticator(db)
    sink = StoreUsageSink(db, auth)
    spend_reads: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "daily_spend" in statement and statement.lstrip().upper().startswith("SELECT"):
            spend_reads.append(statement)

    async def go() -> list[int]:
        ctx = await auth.authenticate(key.api_key)
        assert ctx is not None
        while True:  # start early in a second, so the next steps stay inside it
            import time

            if time.time() % 1 < 0.3:
                break
            await asyncio.sleep(0.02)
        statuses = [(await auth.admit(ctx, "m", 1)).status for _ in range(20)]  # all in one second
        await sink.record(_record(ctx, 0, 600_000))
        statuses.append((await auth.admit(ctx, "m", 1)).status)  # $0.60 of $1.00: still admitted
        await sink.record(_record(ctx, 1, 600_000))
        statuses.append((await auth.admit(ctx, "m", 1)).status)  # $1.20: refused without a read
        await sink.writer.aclose()
        return statuses

    statuses = asyncio.run(go())
    assert statuses == [200] * 21 + [402]
    assert len(spend_reads) == 1  # one budget read for the whole second, not one per request


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_soft_alert_goes_to_the_webhook_once(db):
    repo.create_tenant(db, "acme")
    key = repo.create_key(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 0.0)
    set_limits(db, Scope("acme", key.key_id), budget_usd=1.0, budget_period="daily", alert_at_fraction=0.5)
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    auths = [StoreAuthenticator(db, alert_webhook_url=url) for _ in range(2)]  # two gateway processes
    sink = StoreUsageSink(db)

    async def go() -> None:
        ctx = await auths[0].authenticate(key.api_key)
        assert ctx is not None
        await sink.record(_record(ctx, 0, 700_000))  # $0.70 of $1.00: past the 50 % alert
        for auth in auths:
            assert (await auth.admit(ctx, "m", 1)).ok
        for _ in range(100):
            if _Hook.received:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # time for a second (wrong) alert to arrive too
        await sink.writer.aclose()

    try:
        asyncio.run(go())
    finally:
        server.shutdown()
    assert len(_Hook.received) == 1
    (alert,) = _Hook.received
    assert alert["event"] == "budget_alert" and alert["tenant_id"] == "acme" and alert["key_id"] == key.key_id
    assert alert["period"] == "daily" and alert["budget_usd"] == 1.0 and abs(alert["spent_usd"] - 0.7) < 1e-9
