"""A signing solve that runs out of time is not "the offer cannot be signed".

Seen by a reviewer: `deal --time-limit 2` printed "break-even price none (... no plan can sign the
minimum commitment)" with exit 0 in 3 of 5 runs, when the signing solve had only not finished. Oracle:
the contract of solve_signing (None only for a proven infeasible model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.deal.test_evaluate import _evaluate

from computemoat.catalog import default_scenario
from computemoat.cli.deal import print_deal
from computemoat.latency import rtt_matrix
from computemoat.model import InfeasibleError, Offer, TimeLimitError, no_plan_in_time
from computemoat.planner.deal import apply_offer, load_offer
from computemoat.planner.deal.break_even import solve_signing
from computemoat.planner.horizon import HorizonSolution, flatten_horizon
from computemoat.planner.horizon.formulation import HorizonModel, build


@pytest.fixture(scope="module")
def offer() -> Offer:
    return load_offer(Path(__file__).parents[2] / "examples" / "deal.yaml", default_scenario())


@pytest.fixture(scope="module")
def model(offer: Offer) -> HorizonModel:
    sc = apply_offer(default_scenario(), offer)
    return build(flatten_horizon(sc, rtt_matrix(sc).rtt_ms, None))


def test_time_limit_is_raised_with_what_was_being_solved(offer: Offer, model: HorizonModel) -> None:
    def out_of_time(m: HorizonModel) -> HorizonSolution:
        raise no_plan_in_time("default", 2.0, "no incumbent in the time limit")

    with pytest.raises(TimeLimitError) as info:
        solve_signing(model, out_of_time, offer, 1.3)
    (line,) = info.value.lines
    assert "not proven infeasible" in line and f"the plan that signs {offer.name} at $1.3000/GPU-h" in line


def test_proven_infeasible_still_means_cannot_sign(offer: Offer, model: HorizonModel) -> None:
    def infeasible(m: HorizonModel) -> HorizonSolution:
        raise InfeasibleError("scenario default: no multi-period plan satisfies every constraint")

    assert solve_signing(model, infeasible, offer, 1.3) is None


def test_a_plan_stopped_at_the_time_limit_is_said_so(capsys: pytest.CaptureFixture[str]) -> None:
    """The printed deal flags a plan that is feasible but not proven optimal (its JSON status says
    'feasible (time limit)'; the text said only 'solver gap 0.04%')."""
    r = _evaluate()
    print_deal(r)
    assert "time limit" not in capsys.readouterr().out
    late = dataclasses.replace(r.without, status="feasible (time limit)")
    print_deal(dataclasses.replace(r, without=late))
    out = capsys.readouterr().out
    assert "(time limit)" in out
    said = " ".join(out.split())
    assert "the plan without the offer stopped at the time limit: within the gap shown, not proven optimal" in said
