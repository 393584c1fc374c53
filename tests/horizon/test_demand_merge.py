"""Regions that reach the same surviving sites are one demand row (planner/horizon/inference.py).

Oracle: the independent formulation (tests/horizon/reference.py, one demand row per region and failure
set) gives the same optimum; the row count is derived by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from tests.horizon.kit import NOMINAL, offering, provider, scenario, service, site
from tests.horizon.reference import reference_cost

from computemoat.model import DemandSeries, Horizon, UserRegion
from computemoat.planner.horizon import flatten_horizon, plan_horizon
from computemoat.planner.horizon.formulation import build


def _case():  # type: ignore[no-untyped-def]
    regions = tuple(UserRegion(name=f"r{i}", lat_deg=0, lon_deg=0) for i in range(3))
    svc = service("chat", k=1).model_copy(update={"demand_rps": {"r0": 1.5, "r1": 2.5, "r2": 1.0}})
    h = Horizon(start=dt.date(2027, 1, 1), periods=3, demand=(DemandSeries(service="chat", growth_per_year=2.0),))
    sc = scenario([provider("a"), provider("b"), provider("c")], [site("a"), site("b"), site("c")],
                  [offering("a:x", 2.0), offering("b:x", 2.5), offering("c:x", 3.0)], services=(svc,), horizon=h,
                  regions=regions)  # fmt: skip
    # r0 and r1 reach a and b; r2 reaches all three
    rtt = np.array([[10.0, 10.0, 90.0], [10.0, 10.0, 90.0], [10.0, 10.0, 10.0]])
    return sc, rtt


def test_regions_with_the_same_sites_share_one_demand_row_and_the_optimum_is_unchanged() -> None:
    sc, rtt = _case()
    model = build(flatten_horizon(sc, rtt, NOMINAL))
    # failure sets: none, {a}, {b}, {c}. r0+r1 share their sites in each; r2 joins them when c fails
    # (then all three reach a and b only): 2 + 2 + 2 + 1 demand rows per period, 3 periods
    rows = model.rows["demand"]
    assert rows.stop - rows.start == 7 * 3
    got = plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9).plan.objective_usd
    assert got == pytest.approx(reference_cost(sc, rtt), rel=1e-6)
