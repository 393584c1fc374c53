"""What real clients see: the official OpenAI SDK (sync and async, its own retries), error shapes,
model listing, and bad numbers that must never become a 500."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from gateway_helpers import CHAT, ListSink, backend, gateway_config, serve_app

from computemoat.gateway.app import create_app
from computemoat.gateway.errors import retry_after_header
from computemoat.gateway.hooks import Admission, AdmissionUnavailable, TenantContext
from computemoat.gateway.requests import MAX_TOKENS_CAP


def test_openai_sdk_sync_and_async_work_unchanged(mock_server) -> None:
    port = mock_server(name="a", completion_tokens=5)
    sink = ListSink()
    with serve_app(create_app(gateway_config([backend("a", port, "pa")]), usage_sink=sink)) as gw:
        base = f"http://127.0.0.1:{gw}/v1"
        client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], user="team-a")
        assert r.choices[0].message.content == "tok " * 5 and r.usage is not None
        chunks = list(client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "tok " * 5
        assert all(c.usage is None for c in chunks)  # the usage event the gateway asked for is not shown
        assert [m.id for m in client.models.list()] == ["m"]
        assert client.models.retrieve("m").id == "m"
        with pytest.raises(openai.NotFoundError) as e:
            client.models.retrieve("nope")
        assert e.value.code == "model_not_found"

        async def async_calls() -> tuple[str, int]:
            ac = openai.AsyncOpenAI(base_url=base, api_key="unused", max_retries=0)
            r = await ac.completions.create(model="m", prompt="hi")
            emb = await ac.embeddings.create(model="m", input=["a", "b"])
            await ac.close()
            return r.choices[0].text, len(emb.data)

        assert asyncio.run(async_calls()) == ("tok " * 5, 2)
    assert [(rec.streamed, rec.completion_tokens) for rec in sink.records][:2] == [(False, 5), (True, 5)]
    assert [rec.tag for rec in sink.records][:2] == ["team-a", ""]  # OpenAI's user field tags the record


class WindowLimit:
    """A real rate limiter: refuses until ``open_at`` (monotonic), advertising the exact wait."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.open_at: float | None = None
        self.refused = 0

    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        return TenantContext("t", "k")

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        now = time.monotonic()
        if self.open_at is None:
            self.open_at = now + self.wait_s
        if now < self.open_at:
            self.refused += 1
            return Admission(429, "rpm limit reached", retry_after_s=self.open_at - now)
        return Admission()


def test_retry_after_is_rounded_up_so_the_sdks_own_retry_succeeds(mock_server) -> None:
    """True wait 1.27 s: advertised 2 s (round up), the SDK's one retry after it is admitted. Rounded
    down (1 s) the retry would come 0.27 s early and get a second 429."""
    assert retry_after_header(60.27) == "61" and retry_after_header(60.0) == "60"
    assert retry_after_header(0.2) == "1"
    port = mock_server(name="a")
    limit = WindowLimit(1.27)
    app = create_app(gateway_config([backend("a", port, "pa")]), authenticator=limit)
    with serve_app(app) as gw:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw}/v1", api_key="k", max_retries=1)
        r = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert r.http_response.status_code == 200
    assert limit.refused == 1


class KeyOnly:
    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        return TenantContext("t", "k") if api_key == "good" else None

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        return Admission(429, "slow down", retry_after_s=0.5) if est_tokens > 100_000 else Admission()


def test_every_error_has_a_request_id_and_an_openai_code(mock_server) -> None:
    port = mock_server(name="a")
    app = create_app(gateway_config([backend("a", port, "pa")], max_body_bytes=2048), authenticator=KeyOnly())
    key = {"Authorization": "Bearer good"}
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        cases = {
            "no key": (c.post("/v1/chat/completions", json=CHAT), 401, "invalid_api_key"),
            "models without key": (c.get("/v1/models"), 401, "invalid_api_key"),
            "model card without key": (c.get("/v1/models/m"), 401, "invalid_api_key"),
            "bad json": (c.post("/v1/chat/completions", content=b"{", headers=key), 400, "invalid_json"),
            "unknown model": (c.post("/v1/chat/completions", json={**CHAT, "model": "x"}, headers=key), 404,
                              "model_not_found"),
            "too large": (c.post("/v1/chat/completions", json={**CHAT, "pad": "x" * 4096}, headers=key), 413,
                          "request_too_large"),
            "rate limited": (c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 200_000}, headers=key),
                             429, "rate_limit_exceeded"),
            "no route": (c.get("/v1/nothing"), 404, "not_found"),
            "wrong method": (c.get("/v1/chat/completions"), 405, "method_not_allowed"),
        }
        assert c.get("/v1/models", headers=key).json()["data"][0]["id"] == "m"
        assert c.get("/v1/models/m", headers=key).json()["id"] == "m"
    for name, (r, status, code) in cases.items():
        assert r.status_code == status, name
        assert len(r.headers.get("x-request-id", "")) == 32, name
        assert r.json()["error"]["code"] == code, name
    assert cases["rate limited"][0].headers["retry-after"] == "1"


@pytest.mark.parametrize("max_tokens", [9223372036854775807, 1 << 62, MAX_TOKENS_CAP + 1])
def test_huge_max_tokens_is_capped_before_admission(mock_server, max_tokens: int) -> None:
    """Oracle: admission sees prompt estimate + min(max_tokens, cap), never the raw 2^63 - 1."""
    port = mock_server(name="a")
    seen: list[int] = []

    class Recording(KeyOnly):
        async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
            seen.append(est_tokens)
            return Admission()

    app = create_app(gateway_config([backend("a", port, "pa")]), authenticator=Recording())
    body = {**CHAT, "max_tokens": max_tokens}
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer good"})
    assert r.status_code == 200
    prompt_est = len(httpx.Request("POST", "http://x", json=body).content) // 4
    assert seen == [prompt_est + MAX_TOKENS_CAP]


class DatabaseDown(KeyOnly):
    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        raise AdmissionUnavailable("database is locked", retry_after_s=2.5)


def test_admission_that_cannot_be_decided_is_503_with_retry_after(mock_server) -> None:
    port = mock_server(name="a")
    app = create_app(gateway_config([backend("a", port, "pa")]), authenticator=DatabaseDown())
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer good"})
    assert r.status_code == 503 and r.headers["retry-after"] == "3"
    assert r.json()["error"]["code"] == "admission_unavailable" and r.headers["x-request-id"]


def test_a_database_error_during_admission_is_503_not_500(mock_server, tmp_path) -> None:
    """Real SQLite tenancy: the rate-limit table disappears under the gateway (as a broken or
    half-migrated database would); admission cannot be decided, so 503 with Retry-After."""
    from sqlalchemy import text

    from computemoat.gateway.tenancy import build_tenancy
    from computemoat.store import limits, open_database, repo

    url = f"sqlite:///{tmp_path / 'gw.db'}"
    db = open_database(url)
    repo.create_tenant(db, "acme")
    key = repo.create_key(db, "acme").api_key
    limits.set_limits(db, limits.Scope("acme"), rpm=1000)
    authn, sink, _admin = build_tenancy(url, None)
    port = mock_server(name="a")
    app = create_app(gateway_config([backend("a", port, "pa")]), authenticator=authn, usage_sink=sink)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}", timeout=60) as c:
        first = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE rate_buckets"))
        time.sleep(1.1)  # past this second's lease and the 0.5 s caches: the next admission asks the database
        r = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    db.dispose()
    assert first.status_code == 200
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "admission_unavailable" and int(r.headers["retry-after"]) >= 1
