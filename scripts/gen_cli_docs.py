"""Write docs/cli.md from the `--help` of every command, so the reference never drifts from the code.

Usage: .venv/bin/python scripts/gen_cli_docs.py   (tests/cli/test_cli_docs.py checks it is current)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

DOC = Path(__file__).parents[1] / "docs" / "cli.md"
HEADER = """# Command reference

Generated from `--help` by `scripts/gen_cli_docs.py`. Every command that takes a scenario uses the
bundled default when none is given; user mistakes print one line each and exit with code 2 (a missing
optional extra too, naming it: `pip install 'computemoat[gateway]'`). `-h` is `--help`; `--version` prints
the version.

## For scripts

- **Whole cells when piped.** When stdout is not a terminal, tables are as wide as their content (no
  `p4d…`, no folded cells), whatever `COLUMNS` says; colours are off.
- **Progress** (spinners, bars with elapsed and remaining time) goes to stderr, only when stderr is a
  terminal, and never with `-q/--quiet`; stdout carries only the result.
- **`--format json`** (`-f json`) on `plan`, `replan`, `simulate`, `sweep` (and `usage`, `catalog`)
  prints one JSON document on stdout. Each names its shape in `schema`; a shape only gains keys within
  a version. NaN is `null`, infinities are `"inf"`/`"-inf"`.

| schema | keys |
|---|---|
| `computemoat-plan/1` | `scenario`; `plan` (exactly what `--out` writes: `training`, `inference`, `assignments`, `total_cost_usd`, `status`, `scenario_source`, …); `solver` (`model_status`, `objective_usd`, `bound_usd`, `mip_gap`, `solve_time_s`, `num_cols`, `num_rows`, `num_integer`, `pruned_offering_ids`); `unplaced` (`workload_id`, `kind`, `reason`, `unserved_rps`); `validation` (`valid`, `violations`: `kind`, `message`) |
| `computemoat-replan/1` | `scenario`; `plan`; `moves` (`workload_id`, `kind`, `from_offering`, `to_offering`); `unplaced`; `cost_before_usd`; `cost_after_usd`; `validation` |
| `computemoat-simulate/1` | `scenario`, `months`, `seed`, `plan` (its file, or "solved now"); `summary` (as `summary.json`); `jobs` and `services` (one object per row of `jobs.parquet` / `services.parquet`); `files` |
| `computemoat-sweep/1` | `scenario`, `runs`, `months`, `seed`; `by` (grid columns); `summary` (one object per grid point x metric: `mean`, `normal_low/high`, `bootstrap_low/high`, `runs`, …, as `summary.json`); `files` |
| `usage` | `tenant`, `month`, `lines` (`model`, `provider`, `requests`, `prompt_tokens`, `completion_tokens`, `cost_usd`), `total_cost_usd` |

- **A plan remembers its scenario.** `plan FILE.yaml --out plan.json` records the file's absolute path
  and SHA-256 (`scenario_source`); `replan`, `simulate`, `sweep` and `export` then use that file without
  `--scenario`, and refuse in one line if it changed or is gone (`--scenario` overrides).
"""


def _commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for info in app.registered_commands:
        out.append((*prefix, info.name or info.callback.__name__.replace("_", "-")))  # type: ignore[union-attr]
    for group in app.registered_groups:
        name = (*prefix, group.name or "")
        out.append(name)
        out.extend(_commands(group.typer_instance, name))  # type: ignore[arg-type]
    return out


def render() -> str:
    os.environ["COLUMNS"] = "100"
    os.environ["NO_COLOR"] = "1"
    os.environ["TERM"] = "dumb"
    from computemoat.cli import app

    runner = CliRunner()
    parts = [HEADER, "## computemoat\n", "```text", runner.invoke(app, ["--help"]).output.rstrip(), "```\n"]
    for cmd in _commands(app):
        out = runner.invoke(app, [*cmd, "--help"]).output.rstrip()
        parts += [f"## computemoat {' '.join(cmd)}\n", "```text", out, "```\n"]
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
