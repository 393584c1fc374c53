"""Schemathesis against the admin API's own OpenAPI spec, served by a real gateway process: whatever it
generates (valid and invalid bodies, paths, query strings), the API never answers 5xx.

Hypothesis is driven directly (``operation.as_strategy()``): schemathesis' pytest fixture integration
does not work with pytest 9 (``'Function' object has no attribute '_nodeid'``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error


def test_admin_api_never_answers_5xx(gateway, tmp_path: Path, admin):  # type: ignore[no-untyped-def]
    [(base, _)] = gateway(f"sqlite:///{tmp_path / 'schemathesis.db'}")
    for tenant in ("acme", "globex"):  # so generated ids sometimes hit real rows
        httpx.post(f"{base}/admin/tenants", json={"id": tenant}, headers=admin).raise_for_status()
    api = schemathesis.openapi.from_url(f"{base}/admin/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 14
    statuses: list[int] = []

    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in ((op, m) for op in operations for m in modes):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call_and_validate(base_url=f"{base}/admin", headers=admin, checks=[not_a_server_error])
            statuses.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # e.g. GET /tenants has no input to get wrong
    assert len(statuses) >= 14 * 20
    assert {200, 201, 404, 409, 422} <= set(statuses)  # it reached real rows and real rejections
