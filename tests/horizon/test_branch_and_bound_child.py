"""The multi-period planner's last stage (the full MIP) runs through the single-period runner, in its
killable child process for a large model: HiGHS's branch and bound does not check its time limit
everywhere (1,000 workloads x 12 periods ran 23 s past a 12 s limit when it ran in-process).

Oracle: the independent highspy formulation of tests/horizon/reference.py; the warm-start neighbourhoods
are switched off so that branch and bound, in the child, has to find and prove the optimum itself."""

from __future__ import annotations

import subprocess

import pytest
from tests.horizon.kit import NOMINAL
from tests.horizon.reference import reference_cost
from tests.horizon.test_oracles import _random_case

from computemoat.model import InfeasibleError
from computemoat.planner.horizon import highs as horizon_highs
from computemoat.planner.horizon import plan_horizon


@pytest.mark.parametrize("seed", [0, 1, 3, 6, 9])
def test_branch_and_bound_in_the_child_matches_the_reference(
    seed: int, monkeypatch: pytest.MonkeyPatch, solver_children: list[subprocess.Popen[bytes]]
) -> None:
    monkeypatch.setattr(horizon_highs, "_neighbourhoods", lambda *a: [])
    sc, rtt = _random_case(seed, periods=2 + seed % 2, commitments=True, caps=seed % 3 == 0)
    try:
        got = plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9).plan
    except InfeasibleError:
        with pytest.raises(AssertionError, match="Infeasible"):
            reference_cost(sc, rtt)
        return
    assert got.objective_usd == pytest.approx(reference_cost(sc, rtt), rel=1e-6)
    assert got.status == "optimal"
    assert solver_children, "the full MIP did not run in the child process"
