"""The package's public face: __version__, the main entry points in __all__, py.typed, one error family."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import pytest

import computemoat
from computemoat.model.errors import ComputemoatError, InfeasibleError, MissingExtraError, UserError

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"


def test_version_and_all() -> None:
    assert computemoat.__version__ == version("computemoat")
    for name in computemoat.__all__:
        assert getattr(computemoat, name) is not None, name
    assert set(dir(computemoat)) >= set(computemoat.__all__)
    with pytest.raises(AttributeError):
        _ = computemoat.no_such_name  # type: ignore[attr-defined]


def test_entry_points_plan_end_to_end() -> None:
    cm = computemoat
    sc = cm.load_scenario(EXAMPLE)
    rtt = cm.rtt_matrix(sc).rtt_ms
    result = cm.plan(sc, rtt)
    assert isinstance(result, cm.PlanResult) and isinstance(result.plan, cm.Plan)
    assert cm.validate_plan(sc, result.plan, rtt) == []  # the independent checker agrees
    assert "backends" in cm.gateway_yaml(sc, result.plan)


def test_import_is_cheap() -> None:
    """`import computemoat` loads no planner, solver or numeric stack until a name is used."""
    heavy = "('numpy', 'highspy', 'computemoat.planner')"
    code = f"import sys, computemoat; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_py_typed_ships() -> None:
    assert files("computemoat").joinpath("py.typed").is_file()


def test_one_error_family() -> None:
    for cls in (UserError, InfeasibleError, MissingExtraError):
        assert issubclass(cls, ComputemoatError)
    assert computemoat.ComputemoatError is ComputemoatError and computemoat.UserError is UserError
    with pytest.raises(ComputemoatError):
        computemoat.load_scenario(EXAMPLE.parent / "no-such.yaml")
    err = MissingExtraError("gateway", "fastapi", "serve")
    assert err.lines == ("serve: fastapi is not installed (pip install 'computemoat[gateway]')",)
