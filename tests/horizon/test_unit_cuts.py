"""[region_units] / [cover_units] (planner/horizon/formulation.py): the LP bound sees that a replica
needs a whole instance. Oracle: closed form."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from tests.horizon.kit import HOURS, NOMINAL, near, offering, provider, scenario, service, site

from computemoat.model import Horizon
from computemoat.planner.horizon import flatten_horizon, plan_horizon
from computemoat.planner.horizon.formulation import build
from computemoat.planner.horizon.highs import _solve_lp


def test_lp_bound_rents_a_whole_instance_for_one_small_replica() -> None:
    """One 1-GPU replica (1 rps) on 8-GPU instances at $2/GPU-h, N+1 over providers a and b, 2 months.
    Without the cuts the LP rents 1/8 of an instance per provider; in integers, and now in the LP, one
    whole instance per provider and month: 2 x 2 x 8 GPUs x 730 h x $2."""
    h = Horizon(start=dt.date(2027, 1, 1), periods=2)
    sc = scenario([provider("a"), provider("b")], [site("a"), site("b")], [offering("a:x", 2.0), offering("b:x", 2.0)],
                  services=(service(rps=1.0, gpr=1, k=1),), horizon=h)  # fmt: skip
    rtt = near(sc)
    model = build(flatten_horizon(sc, rtt, NOMINAL))
    whole = 2 * 2 * 8 * HOURS * 2.0
    _, lp_usd, x = _solve_lp(model, model.col_lower, model.col_upper, time_limit_s=30)
    assert x is not None
    assert lp_usd == pytest.approx(whole)
    assert plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9).plan.total_usd == pytest.approx(whole)
    assert np.all(model.row_lower[model.rows["cover_units"]] == 1.0)
