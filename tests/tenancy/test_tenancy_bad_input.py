"""Bad input through real ``computemoat serve`` processes (issue 15, items 7 and 8): huge max_tokens
for limited tenants, non-finite and boolean numbers in admin bodies, a database failing under
admission. Never a 500; refusals are JSON with the field named."""

from __future__ import annotations

import time

import httpx

from computemoat.store import open_database

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
I64_MAX = 2**63 - 1


def _setup(c: httpx.Client, admin: dict[str, str], limits: dict[str, object]) -> dict[str, str]:
    assert c.post("/admin/tenants", json={"id": "acme"}, headers=admin).status_code == 201
    key = c.post("/admin/tenants/acme/keys", json={}, headers=admin).json()["api_key"]
    assert c.put("/admin/tenants/acme/limits", json=limits, headers=admin).status_code == 200
    return {"Authorization": f"Bearer {key}"}


def test_huge_max_tokens_for_a_limited_tenant_is_never_a_500(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    with httpx.Client(base_url=base, timeout=10) as c:
        auth = _setup(c, admin, {"rpm": 1000, "budget_usd": 100.0})
        answers = [c.post("/v1/chat/completions", json={**CHAT, "max_tokens": n}, headers=auth).status_code
                   for n in (I64_MAX, 2**62, 2**62)]  # the last two in the same second
        assert answers == [200, 200, 200]  # capped by the gateway (2^20) and the store (2^31 - 1)
        assert c.put("/admin/tenants/acme/limits", json={"tpm": 100_000}, headers=admin).status_code == 200
        time.sleep(1.1)  # the limits cache (0.5 s) and the current second's lease (granted under the old limits)
        refused = c.post("/v1/chat/completions", json={**CHAT, "max_tokens": I64_MAX}, headers=auth)
        assert refused.status_code == 429 and "on their own" in refused.json()["error"]["message"]


def test_a_database_failure_during_admission_is_503_with_retry_after(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    with httpx.Client(base_url=base, timeout=10) as c:
        auth = _setup(c, admin, {"rpm": 1000})
        assert c.post("/v1/chat/completions", json=CHAT, headers=auth).status_code == 200
        db = open_database(db_url)
        with db.engine.begin() as conn:  # a real failure: the table the limiter writes is gone
            conn.exec_driver_sql("DROP TABLE rate_buckets")
        db.dispose()
        time.sleep(1.1)  # the next second: a new lease is needed
        answer = c.post("/v1/chat/completions", json=CHAT, headers=auth)
        assert answer.status_code == 503, answer.text
        assert float(answer.headers["retry-after"]) >= 1 and "retry" in answer.json()["error"]["message"]
        assert "limits database failed" in answer.json()["error"]["message"]


def test_admin_numbers_must_be_finite_and_not_booleans(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    headers = {**admin, "content-type": "application/json"}
    price = '{"model": "m", "provider": "*", "usd_per_mtok_prompt": %s, "usd_per_mtok_completion": 1}'
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.post("/admin/tenants", json={"id": "acme"}, headers=admin).status_code == 201
        assert c.put("/admin/tenants/acme/limits", json={"rpm": 5}, headers=admin).status_code == 200
        cases = [("/admin/tenants/acme/limits", f'{{"{field}": {value}}}', field)
                 for field in ("rpm", "tpm", "budget_usd", "alert_at_fraction")
                 for value in ("1e400", "-1e400", "NaN", "Infinity", "-Infinity", "true")]
        cases += [("/admin/tenants/acme/limits", '{"rpm": 1.5}', "rpm"), ("/admin/tenants/acme/limits",
                   '{"rpm": "5"}', "rpm")]
        cases += [("/admin/prices", price % v, "usd_per_mtok_prompt") for v in ("1e400", "NaN", "Infinity", "true")]
        for path, body, field in cases:
            r = c.put(path, content=body, headers=headers)
            assert r.status_code == 422, (body, r.status_code, r.text)
            assert r.headers["content-type"] == "application/json", body
            assert any(field in e["loc"] for e in r.json()["detail"]), (body, r.json())
        assert c.get("/admin/tenants/acme/limits", headers=admin).json()["rpm"] == 5  # nothing changed
