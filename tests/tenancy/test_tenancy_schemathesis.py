"""Schemathesis against the admin API's own OpenAPI spec, served by a real gateway process (issue 15,
item 9): every check schemathesis has - no 5xx, only documented status codes, responses matching their
schemas, schema-valid bodies accepted (Unicode names, ``5.0`` for an integer), invalid ones refused
(booleans as numbers), ``Allow`` on 405 - and 0 failures.

Two drivers: hypothesis directly (``operation.as_strategy()``, positive and negative generation;
schemathesis' pytest fixture integration does not work with pytest 9: ``'Function' object has no
attribute '_nodeid'``), and the ``schemathesis run`` CLI, whose coverage and stateful phases add
undocumented methods and chains of calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

OPERATIONS = 14


def test_admin_api_conforms_to_its_schema(gateway, tmp_path: Path, admin):  # type: ignore[no-untyped-def]
    [(base, _)] = gateway(f"sqlite:///{tmp_path / 'schemathesis.db'}")
    for tenant in ("acme", "globex"):  # so generated ids sometimes hit real rows
        httpx.post(f"{base}/admin/tenants", json={"id": tenant}, headers=admin).raise_for_status()
    api = schemathesis.openapi.from_url(f"{base}/admin/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == OPERATIONS
    statuses: list[int] = []

    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in ((op, m) for op in operations for m in modes):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call_and_validate(base_url=f"{base}/admin", headers=admin)  # every check
            statuses.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # e.g. GET /tenants has no input to get wrong
    assert len(statuses) >= OPERATIONS * 20
    assert {200, 201, 404, 409, 422} <= set(statuses)  # it reached real rows and real rejections


def test_schemathesis_cli_finds_no_failure(gateway, tmp_path: Path, admin):  # type: ignore[no-untyped-def]
    [(base, _)] = gateway(f"sqlite:///{tmp_path / 'schemathesis-cli.db'}")
    httpx.post(f"{base}/admin/tenants", json={"id": "acme"}, headers=admin).raise_for_status()
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [str(cli), "run", f"{base}/admin/openapi.json", "--url", f"{base}/admin", "-H",
         f"Authorization: {admin['Authorization']}", "--checks", "all", "--max-examples", "10",
         "--seed", "20261201", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its .schemathesis/ cache goes there
    )
    assert run.returncode == 0 and "No issues found" in run.stdout, run.stdout[-4000:]


def test_405_names_every_method_of_the_path(gateway, tmp_path: Path, admin):  # type: ignore[no-untyped-def]
    """Oracle: the methods the OpenAPI document lists for each path."""
    [(base, _)] = gateway(f"sqlite:///{tmp_path / 'allow.db'}")
    spec = httpx.get(f"{base}/admin/openapi.json").json()
    concrete = {"{tenant_id}": "acme", "{key_id}": "key_0123456789abcdef"}
    for path, item in spec["paths"].items():
        documented = {m.upper() for m in item}
        url = base + "/admin" + path
        for name, value in concrete.items():
            url = url.replace(name, value)
        for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - documented:
            r = httpx.request(method, url, headers=admin)
            assert r.status_code == 405, (method, path)
            assert {m.strip() for m in r.headers["allow"].split(",")} == documented, (method, path)
            assert "detail" in r.json()
