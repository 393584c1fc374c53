"""`computemoat latency` end to end through the real CLI app, scenario loader and city data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from computemoat.catalog import default_scenario, load_scenario
from computemoat.cli import app
from computemoat.model import UserError

runner = CliRunner()
FAST = ["--window-s", "30", "--step-s", "10"]


def test_point_to_point_between_cities() -> None:
    result = runner.invoke(app, ["latency", "--from", "London", "--to", "New York", *FAST])
    assert result.exit_code == 0, result.output
    assert "RTT London → New York City (ms)" in result.output
    assert "best: leo at" in result.output


def test_point_to_a_site_of_the_bundled_scenario() -> None:
    result = runner.invoke(app, ["latency", "--from", "51.5,-0.13", "--to", "aws:us-east-1", *FAST])
    assert result.exit_code == 0, result.output
    assert "→ aws:us-east-1" in result.output
    assert "fiber" in result.output and "LEO" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_matrix_file_has_every_user_site_pair(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"rtt{suffix}"
    result = runner.invoke(app, ["latency", "--matrix", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    s = default_scenario()
    assert len(frame) == len(s.user_regions) * len(s.sites)
    assert set(frame["path_kind"]) <= {"fiber", "leo"}
    assert (frame["rtt_ms"] <= frame["fiber_rtt_ms"]).all()
    assert f"{len(s.user_regions)} users x {len(s.sites)} sites" in result.output


def test_matrix_of_a_scenario_file(tmp_path: Path) -> None:
    out = tmp_path / "rtt.csv"
    example = Path(__file__).parents[2] / "examples" / "minimal.yaml"
    result = runner.invoke(app, ["latency", "--matrix", str(example), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert set(frame["site"]) == {"acme:dallas", "globex:us-east-1"}
    assert len(frame) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "London", "--to", "Paris", "--min-elevation-deg", "95"], "--min-elevation-deg 95.0: input should"),
        (["--from", "London", "--to", "Paris", "--planes", "0"], "--planes 0: input should be greater than 0"),
        (["--from", "Xyzzyville Qq", "--to", "Paris"], "unknown city 'Xyzzyville Qq'"),
        (["--from", "London", "--to", "aws:us-east-9"], "unknown site 'aws:us-east-9'"),
        (["--from", "London"], "give both --from"),
        (["--matrix", "--from", "London"], "give either --from and --to"),
        (["--matrix", "--out", "rtt.json"], "--matrix needs --out FILE ending in .csv or .parquet"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["latency", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_scenario_with_bad_network_settings_is_rejected_by_the_loader(
    write_yaml: Callable[[str], Path],
) -> None:
    path = write_yaml(
        """
        name: bad-network
        catalog: {bundled: false}
        network:
          min_elevation_deg: 95
          leo_shell: {planes: 0}
        """
    )
    with pytest.raises(UserError) as e:
        load_scenario(path)
    text = "\n".join(e.value.lines)
    assert "min_elevation_deg" in text and "planes" in text


def test_point_without_terrestrial_route_says_so() -> None:
    """Issue 14 #3 through the CLI: McMurdo has no fiber; shell 1 never reaches it either."""
    result = runner.invoke(app, ["latency", "--from", "-77.85,166.67", "--to", "50.11,8.68", *FAST])
    assert result.exit_code == 0, result.output
    assert "no terrestrial route" in result.output
    assert "best: none" in result.output


def test_bundled_constellation_and_conflicting_sources() -> None:
    ok = runner.invoke(app, ["latency", "--from", "-77.85,166.67", "--to", "50.11,8.68", "--constellation",
                             "starlink_gen1", *FAST])
    assert ok.exit_code == 0, ok.output
    assert "best: leo at" in ok.output
    bad = runner.invoke(app, ["latency", "--from", "London", "--to", "Paris", "--constellation", "iridium", *FAST])
    assert bad.exit_code == 2
    assert "--constellation 'iridium': input should be 'starlink_gen1' or 'kuiper'" in bad.output
