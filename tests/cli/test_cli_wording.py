"""Near misses are never taken silently, counts read right, and a percentage where a fraction is meant
says so (issue 16's worked examples)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.catalog import load_scenario, resolve_place
from computemoat.cli import app
from computemoat.latency import rtt_matrix
from computemoat.model import InfeasibleError, UserError
from computemoat.planner import plan

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"
runner = CliRunner()


def test_latency_from_a_misspelt_city_is_an_error_with_did_you_mean() -> None:
    result = runner.invoke(app, ["latency", "--from", "Londn", "--to", "aws:us-east-1"])
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "'Londn'" in errors[0] and "did you mean 'London'?" in errors[0]
    assert "RTT" not in result.stdout  # no table computed for a city the user did not mean


@pytest.mark.parametrize(("text", "name"), [("London", "London"), ("sao paulo", "São Paulo"),
                                            ("New York", "New York City"), ("Bombay", "Mumbai")])
def test_real_names_and_other_names_still_resolve(text: str, name: str) -> None:
    assert resolve_place(text).name == name


@pytest.mark.parametrize("typo", ["Londn", "Lodnon", "Tokio"])
def test_typos_name_the_city(typo: str) -> None:
    with pytest.raises(UserError, match="did you mean"):
        resolve_place(typo)


def test_counts_use_singular_for_one() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0
    assert "training    1 job," in result.stdout and "inference   1 service," in result.stdout
    assert "1 jobs" not in result.stdout and "1 services" not in result.stdout


def test_share_given_as_percent_hints_fractions(write_yaml: Callable[[str], Path]) -> None:
    path = write_yaml("name: x\npolicy:\n  max_provider_share_gpus: 80\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.count("\n") == 0
    assert f"{path}:3: policy.max_provider_share_gpus" in line and "write 0.8 for 80%" in line


def test_one_failed_provider_reads_fails(write_yaml: Callable[[str], Path]) -> None:
    """N+1 within 15 ms: New York reaches only globex (Ashburn, ~5 ms), Dallas only acme (Dallas, ~1 ms);
    each region loses its only site when that one provider fails."""
    text = (EXAMPLE.read_text(encoding="utf-8").replace("latency_slo_ms: 60", "latency_slo_ms: 15")
            .replace("{city: Chicago}", "{city: Dallas}").replace("Chicago: 60", "Dallas: 60"))
    sc = load_scenario(write_yaml(text))
    with pytest.raises(InfeasibleError) as info:
        plan(sc, rtt_matrix(sc).rtt_ms)
    message = str(info.value)
    assert re.search(r"when (acme|globex) fails \(", message), message
    assert not re.search(r"when (acme|globex) fail \(", message)
