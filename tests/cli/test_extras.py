"""Lean install: the core (catalog, latency, planner, export, one simulated run) works with no optional
extra importable; a command that needs one names it in one line (pip install 'computemoat[...]')."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from computemoat.cli.common import EXTRAS

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "minimal.yaml"
DIST_TO_MODULE = {"prometheus-client": "prometheus_client", "psycopg": "psycopg", "uvicorn": "uvicorn"}


def _modules(requirements: list[str]) -> set[str]:
    out = set()
    for req in requirements:
        name = re.split(r"[\[<>=!~ ]", req, maxsplit=1)[0]
        if not name.startswith("computemoat"):
            out.add(DIST_TO_MODULE.get(name, name.replace("-", "_").lower()))
    return out


def test_extras_map_matches_pyproject() -> None:
    """Oracle: pyproject's [project.optional-dependencies], which pip installs."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, modules in EXTRAS.items():
        assert set(modules) == _modules(extras[name]), name
    core = _modules(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    heavy = {"ray", "plotly", "psycopg", "aiohttp", "fastapi", "pyarrow", "sqlalchemy", "uvicorn"}
    assert not core & heavy
    assert set(extras["all"][0].split("[")[1].rstrip("]").split(",")) == {"gateway", "postgres", "parquet", "sim",
                                                                          "web"}
    assert "computemoat[all]" in extras["dev"]


BLOCKED_RUN = r"""
import json, sys
BLOCKED = set(sys.argv[1].split(","))

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
from typer.testing import CliRunner
from computemoat.cli import app
runner = CliRunner()
out = {}
for args in json.loads(sys.argv[2]):
    r = runner.invoke(app, args)
    crash = r.exception is not None and not isinstance(r.exception, SystemExit)
    out[" ".join(args)] = {"code": r.exit_code, "stderr": r.stderr, "stdout": r.stdout,
                           "crash": repr(r.exception) if crash else ""}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(json.dumps({"results": out, "loaded": loaded}))
"""


def test_core_commands_run_with_every_extra_missing(tmp_path: Path) -> None:
    blocked = sorted({m for mods in EXTRAS.values() for m in mods})
    plan_json = tmp_path / "plan.json"
    core = [
        ["init", str(tmp_path / "s.yaml")],
        ["validate", str(EXAMPLE)],
        ["catalog", "--accelerator", "H100", "--region", "us-east"],
        ["latency", "--from", "London", "--to", "aws:us-east-1"],
        ["latency", str(EXAMPLE), "--matrix", "--out", str(tmp_path / "rtt.csv")],
        ["plan", str(EXAMPLE), "--out", str(plan_json)],
        ["replan", str(plan_json), "--withdraw", "globex"],
        ["export", "skypilot", str(plan_json), "-o", str(tmp_path / "sky")],
        ["export", "gateway", str(plan_json), "-o", str(tmp_path / "gw.yaml")],
        ["simulate", str(plan_json), "--months", "0.05"],
    ]
    needs = {
        "serve": (["serve", str(tmp_path / "gw.yaml"), "--port", "1"], "gateway"),
        "mock-backend": (["mock-backend", "--port", "1"], "gateway"),
        "sweep": (["sweep", str(plan_json), "--runs", "1"], "sim"),
        "dashboard": (["dashboard", "--port", "1"], "web"),
        "parquet": (["latency", str(EXAMPLE), "--matrix", "--out", str(tmp_path / "rtt.parquet")], "parquet"),
        "usage": (["usage", "--tenant", "a", "--month", "2026-12", "--database-url", f"sqlite:///{tmp_path}/db"],
                  "gateway"),
    }
    commands = [*core, *(args for args, _ in needs.values())]
    proc = subprocess.run([sys.executable, "-c", BLOCKED_RUN, ",".join(blocked), json.dumps(commands)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["loaded"] == []  # nothing optional was imported at all
    results = report["results"]
    for args in core:
        r = results[" ".join(args)]
        # minimal.yaml has two providers: without globex, chat loses N+1 and the replan is partial (exit 3)
        expected = 3 if args[0] == "replan" else 0
        assert r["code"] == expected and not r["crash"], (args, r)
    for args, extra in needs.values():
        r = results[" ".join(args)]
        lines = [ln for ln in r["stderr"].splitlines() if ln.strip()]
        assert r["code"] == 2 and not r["crash"], (args, r)
        assert len(lines) == 1 and f"pip install 'computemoat[{extra}]'" in lines[0], (args, lines)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a pip install of numpy/scipy/highspy/pandas wheels: ~30 s idle, minutes on a busy box
def test_fresh_venv_with_only_the_core_installs_and_plans(tmp_path: Path) -> None:
    """The real thing: `pip install computemoat` (no extra) into a new venv, then plan."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True,
                         timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    for module in ("ray", "fastapi", "plotly", "psycopg", "pyarrow", "sqlalchemy", "aiohttp"):
        probe = subprocess.run([str(py), "-c", f"import {module}"], capture_output=True, timeout=120)
        assert probe.returncode != 0, f"{module} came with the core install"
    exe = venv / "bin" / "computemoat"
    plan = subprocess.run([str(exe), "plan", str(EXAMPLE), "--format", "json", "--out", str(tmp_path / "p.json")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["validation"]["valid"]
    export = subprocess.run([str(exe), "export", "skypilot", str(tmp_path / "p.json"), "-o", str(tmp_path / "sky")],
                            capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr
    serve = subprocess.run([str(exe), "serve", "gw.yaml"], capture_output=True, text=True, timeout=300)
    assert serve.returncode == 2 and "pip install 'computemoat[gateway]'" in serve.stderr
