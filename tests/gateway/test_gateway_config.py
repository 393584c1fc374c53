from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app
from computemoat.gateway.config import RoutingPolicy, load_config
from computemoat.model.errors import UserError

EXAMPLE = """
models:
  llama-3.1-70b: {policy: least_outstanding}
default_policy: latency
backends:
  - name: llama-70b-lambda-us-east-1
    url: http://127.0.0.1:9001/
    provider: lambda
    site: lambda:us-east-1
    lat_deg: 39.04
    lon_deg: -77.49
    models: [llama-3.1-70b]
    weight: 4
    max_concurrency: 256
    usd_per_hour: 31.92
user_regions:
  - {name: London, lat_deg: 51.51, lon_deg: -0.13}
"""


def test_the_documented_shape_loads(tmp_path: Path) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text(EXAMPLE)
    cfg = load_config(p)
    assert cfg.backends[0].url == "http://127.0.0.1:9001"  # trailing slash dropped
    assert cfg.policy_for("llama-3.1-70b") is RoutingPolicy.LEAST_OUTSTANDING
    assert cfg.policy_for("other") is RoutingPolicy.LATENCY
    assert cfg.user_regions[0].name == "London"
    assert cfg.timeouts.attempt_s > 0 and cfg.timeouts.stream_idle_s > 0  # optional sections take defaults


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("http://127.0.0.1:9001/", "127.0.0.1:9001"), "backends.0.url: must start with http"),
        (lambda t: t.replace("policy: least_outstanding", "policy: fastest"), "models.llama-3.1-70b.policy"),
        (lambda t: t.replace("weight: 4", "weight: -1"), "backends.0.weight"),
        (lambda t: t.replace("llama-3.1-70b: {", "other-model: {"), "models.other-model: no backend serves"),
        (lambda t: t.replace("usd_per_hour: 31.92", "usd_per_hour: 31.92\n    gpus: 8"), "backends.0.gpus"),
        (lambda t: t.replace("lat_deg: 39.04", "lat_deg: 139.04"), "backends.0.lat_deg"),
    ],
)
def test_mistakes_name_the_field(tmp_path: Path, edit, expected: str) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text(edit(EXAMPLE))
    with pytest.raises(UserError) as exc:
        load_config(p)
    assert any(expected in line and str(p) in line for line in exc.value.lines), exc.value.lines


def test_duplicate_backend_names_are_refused(tmp_path: Path) -> None:
    backend = EXAMPLE.split("backends:\n")[1].split("user_regions:")[0]
    p = tmp_path / "gw.yaml"
    p.write_text(EXAMPLE.replace(backend, backend + backend))
    with pytest.raises(UserError, match="duplicate backend name 'llama-70b-lambda-us-east-1'"):
        load_config(p)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text("backends: [\n  - {name: a\n")
    with pytest.raises(UserError, match=r"gw.yaml:\d+: malformed YAML"):
        load_config(p)
    with pytest.raises(UserError, match=r"nope\.yaml: no such file"):
        load_config(tmp_path / "nope.yaml")
    p.write_text("backends:\n  - {name: a, name: b}\n")
    with pytest.raises(UserError, match=r"gw\.yaml:2: malformed YAML: duplicate key 'name'"):
        load_config(p)
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="not UTF-8"):
        load_config(p)


def test_serve_with_a_bad_config_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "gw.yaml"
    p.write_text("backends: []\n")
    result = CliRunner().invoke(app, ["serve", str(p)])
    assert result.exit_code == 2
    assert "backends" in result.output and "Traceback" not in result.output
