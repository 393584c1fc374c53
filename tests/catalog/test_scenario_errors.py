"""Every user mistake -> one line per problem, `file:line: path: what (hint)`, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from computemoat.catalog import load_scenario
from computemoat.model import UserError

MINIMAL = """
catalog: {bundled: false}
providers:
  - {name: p, kind: specialized, jurisdiction: US}
sites:
  - {provider: p, region: r1, lat_deg: 10, lon_deg: 20}
accelerators:
  - {name: H100, board_power_w: 700, memory_gb: 80}
offerings:
  - {site: "p:r1", accelerator: H100, usd_per_gpu_hour_on_demand: 2.0, capacity_gpus: 64}
user_regions:
  regions:
    - {name: here, lat_deg: 10, lon_deg: 21}
training_jobs:
  - {id: j, accelerators: [H100], gpus: 16, hours: 10}
"""


def errors(write_yaml: Callable[[str], Path], text: str) -> list[str]:
    path = write_yaml(text)
    with pytest.raises(UserError) as info:
        load_scenario(path)
    lines = list(info.value.lines)
    assert lines and all("\n" not in line and line.startswith(str(path)) for line in lines)
    return lines


def test_minimal_scenario_loads(write_yaml: Callable[[str], Path]) -> None:
    s = load_scenario(write_yaml(MINIMAL))
    assert [o.id for o in s.offerings] == ["p:r1:H100"]
    assert s.sites[0].id == "p:r1"


def test_malformed_yaml_names_the_line(write_yaml: Callable[[str], Path]) -> None:
    (line,) = errors(write_yaml, "name: x\nproviders:\n  - {name: p, kind: edge\n")
    assert ("malformed YAML" in line and ":4:" in line) or ":3:" in line


def test_unknown_key_did_you_mean(write_yaml: Callable[[str], Path]) -> None:
    text = MINIMAL.replace("gpus: 16, hours: 10", "gpus: 16, hours: 10, deadline_hour: 20")
    (line,) = errors(write_yaml, text)
    assert ":14:" in line and "training_jobs[0].deadline_hour" in line and "did you mean 'deadline_hours'" in line


def test_unknown_top_level_key(write_yaml: Callable[[str], Path]) -> None:
    (line,) = errors(write_yaml, MINIMAL + "polcy: {}\n")
    assert "polcy" in line and "did you mean 'policy'" in line


def test_wrong_type(write_yaml: Callable[[str], Path]) -> None:
    (line,) = errors(write_yaml, MINIMAL.replace("gpus: 16", "gpus: lots"))
    assert "training_jobs[0].gpus" in line and "whole number" in line


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("usd_per_gpu_hour_on_demand: 2.0", "usd_per_gpu_hour_on_demand: 0", "offerings[0].usd_per_gpu_hour_on_demand"),
        ("usd_per_gpu_hour_on_demand: 2.0", "usd_per_gpu_hour_on_demand: -3", "usd_per_gpu_hour_on_demand"),
        ("capacity_gpus: 64", "capacity_gpus: 0", "offerings[0].capacity_gpus"),
        ("lat_deg: 10, lon_deg: 20", "lat_deg: 100, lon_deg: 20", "sites[0].lat_deg"),
    ],
)
def test_out_of_range_numbers(write_yaml: Callable[[str], Path], old: str, new: str, where: str) -> None:
    (line,) = errors(write_yaml, MINIMAL.replace(old, new))
    assert where in line


def test_unknown_references_point_at_the_reference(write_yaml: Callable[[str], Path]) -> None:
    text = MINIMAL.replace('site: "p:r1"', 'site: "p:r2"').replace("accelerators: [H100]", "accelerators: [H10]")
    lines = errors(write_yaml, text)
    assert any(":9:" in x and "offerings[0].site" in x and "unknown site 'p:r2'" in x for x in lines), lines
    assert any(":14:" in x and "did you mean 'H100'" in x for x in lines), lines


def test_duplicate_ids(write_yaml: Callable[[str], Path]) -> None:
    text = MINIMAL.replace(
        "  - {provider: p, region: r1, lat_deg: 10, lon_deg: 20}",
        "  - {provider: p, region: r1, lat_deg: 10, lon_deg: 20}\n"
        "  - {provider: p, region: r1, lat_deg: 1, lon_deg: 2}",
    )
    (line,) = errors(write_yaml, text)
    assert "duplicate id 'p:r1'" in line and "first defined at line 5" in line


def test_duplicate_yaml_key(write_yaml: Callable[[str], Path]) -> None:
    (line,) = errors(write_yaml, "name: a\nname: b\n")
    assert "duplicate key 'name'" in line


@pytest.mark.parametrize("date", ["2027-13-45", "2027-02-30"])
def test_impossible_date_is_one_line_not_a_traceback(write_yaml: Callable[[str], Path], date: str) -> None:
    # YAML reads an unquoted YYYY-MM-DD as a date; one that does not exist raised a bare ValueError
    (line,) = errors(write_yaml, f"name: a\nhorizon:\n  start: {date}\n")
    why = "month must be in 1..12" if "-13-" in date else "day is out of range for month"
    assert line.endswith(f":3: '{date}' is not a date ({why}): write YYYY-MM-DD")


@pytest.mark.parametrize("text", ["", "# nothing\n", "{}\n"])
def test_empty_scenario(write_yaml: Callable[[str], Path], text: str) -> None:
    (line,) = errors(write_yaml, text)
    assert "empty scenario" in line


def test_unknown_city(write_yaml: Callable[[str], Path]) -> None:
    (line,) = errors(write_yaml, MINIMAL.replace("{name: here, lat_deg: 10, lon_deg: 21}", "{city: Atlantiss}"))
    assert "user_regions.regions[0].city" in line and "unknown city" in line


def test_several_problems_reported_at_once(write_yaml: Callable[[str], Path]) -> None:
    text = MINIMAL.replace("capacity_gpus: 64", "capacity_gpus: -8").replace("gpus: 16", "gpus: 0")
    assert len(errors(write_yaml, text)) == 2


def test_missing_file() -> None:
    with pytest.raises(UserError, match="no such file"):
        load_scenario("/nonexistent/scenario.yaml")


def test_bundled_override_patches_fields(write_yaml: Callable[[str], Path]) -> None:
    s = load_scenario(write_yaml("""
        catalog: {providers: [aws], price_multipliers: {aws: 0.8}}
        offerings:
          - {id: "aws:us-east-1:p5.48xlarge", capacity_gpus: 20480}
    """))
    o = s.offering("aws:us-east-1:p5.48xlarge")
    assert o.capacity_gpus == 20480 and abs(o.usd_per_gpu_hour_on_demand - 6.88) < 1e-9
    assert s.provider("aws").price_multiplier == 0.8
    assert {x.provider for x in s.sites} == {"aws"}


def test_relative_tle_file_resolves_next_to_the_scenario(write_yaml: Callable[[str], Path]) -> None:
    path = write_yaml(MINIMAL + "network: {tle_file: shells/starlink.tle}\n")
    s = load_scenario(path)
    assert s.network.tle_file == str(path.parent / "shells" / "starlink.tle")
