"""Spend by request tag end to end: the OpenAI ``user`` field of each request, through a real
``computemoat serve``, is the tag its usage row is reported under (oracle: the requests sent)."""

from __future__ import annotations

import time

import httpx

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}


def test_spend_is_reported_by_the_requests_user_field(gateway, db_url, admin):
    [(base, _)] = gateway(db_url)
    month = time.strftime("%Y-%m", time.gmtime())
    with httpx.Client(base_url=base, timeout=10) as c:
        assert c.post("/admin/tenants", json={"id": "acme"}, headers=admin).status_code == 201
        key = c.post("/admin/tenants/acme/keys", json={"name": "k"}, headers=admin).json()
        auth = {"Authorization": f"Bearer {key['api_key']}"}
        for user in ("team-a", "team-a", None, "équipe-b"):
            body = CHAT if user is None else {**CHAT, "user": user}
            assert c.post("/v1/chat/completions", json=body, headers=auth).status_code == 200
        by_tag = c.get(f"/admin/tenants/acme/spend?month={month}&by=tag", headers=auth).json()
        assert [(x["group"], x["requests"]) for x in by_tag["lines"]] == [("", 1), ("team-a", 2), ("équipe-b", 1)]
        by_key = c.get(f"/admin/tenants/acme/spend?month={month}&by=key", headers=admin).json()
        assert [(x["group"], x["requests"]) for x in by_key["lines"]] == [(key["key_id"], 4)]
