"""Break-even price of an offer: Newton's method on the cost of the best plan that signs it.

Let W be the objective (NPV) of the best plan without the offer and F(p) the objective of the best plan
that signs at least the minimum commitment at term price p. The lab takes the offer at p exactly when
F(p) <= W, so the break-even price p* solves F(p*) = W. F is the minimum, over signing plans, of lines
A + p B (B = the plan's discounted GPU-hours billed at the term price, > 0 for any signing plan), hence
concave, increasing and piecewise linear. Each step solves the *signing* model (a row forces at least
the minimum; the plan before is a warm start: a price change only moves objective coefficients) at p_k,
takes its plan's line and moves to where the line meets W:

    p_{k+1} = p_k + (W - F(p_k)) / B_k

The line lies above F, so p_{k+1} <= p*, and from the second step on the iterates rise monotonically to
p*; F has finitely many pieces, so the iteration ends after a few solves (2-4 on examples/deal.yaml)
when the step is below ``max($0.01, 0.5% of the offered price)``. The answer is proven in the sense that
a plan signing the minimum at that price costs exactly W. Its tolerance adds the step to the two solver
gaps (without plan, last signing plan) turned into price: gap USD / B.

This replaces a bisection whose every step re-solved the free MIP (sign or not) to its time limit:
near p* the free model's LP takes the all-or-minimum commitment fractionally and the gap never closed;
with the commitment forced the LP is tight and RENS closes the gap at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from computemoat.model import InfeasibleError, Offer, TimeLimitError
from computemoat.planner.deal.apply import offer_option_ids
from computemoat.planner.deal.result import BreakEven
from computemoat.planner.horizon import HorizonSolution
from computemoat.planner.horizon.formulation import HorizonModel

MAX_NEWTON_STEPS = 8
METHOD = "Newton on the cost of the best signing plan"


@dataclass(frozen=True)
class Signing:
    """The best plan (found) that signs at least the minimum commitment, at one term price."""

    usd_per_gpu_hour: float
    solution: HorizonSolution
    objective_usd: float  # discounted, what the planner minimizes
    bound_usd: float  # lower bound on any signing plan's objective at this price
    billed_gpu_hours: float  # d objective / d price of this plan (discounted GPU-hours billed at the term price)


SignFn = Callable[[float, HorizonSolution | None], Signing | None]


def offer_decisions(model: HorizonModel, offer: Offer) -> np.ndarray:
    """Indices (into the n block) of the commitment decisions that belong to the offer."""
    ids = set(offer_option_ids(offer))
    options = model.problem.commits.options
    return np.flatnonzero([options[k].id in ids for k in model.ks_k])


def require_signing(model: HorizonModel, offer: Offer) -> HorizonModel:
    """The model plus one row: GPUs committed to the offer >= max(1, minimum)."""
    ks = offer_decisions(model, offer)
    p = model.problem
    gpi = p.offs.gpus_per_instance[p.commits.offering[model.ks_k[ks]]].astype(float)
    cols = model.blocks["n"].start + ks
    row = sp.csc_matrix((gpi, (np.zeros(len(ks), dtype=np.int64), cols)), shape=(1, model.matrix.shape[1]))
    n_rows = model.matrix.shape[0]
    return dataclasses.replace(
        model,
        matrix=sp.vstack([model.matrix, row], format="csc"),
        row_lower=np.append(model.row_lower, float(max(1, offer.min_commit_gpus))),
        row_upper=np.append(model.row_upper, np.inf),
        row_names=[*model.row_names, f"offer_signed[{offer.name}]"],
        rows={**model.rows, "offer_signed": slice(n_rows, n_rows + 1)},
    )


def billed_gpu_hours(model: HorizonModel, offer: Offer, x: np.ndarray) -> float:
    """Discounted GPU-hours plan ``x`` pays at the offer's term price: the take-or-pay floor of every
    committed GPU plus the use above it, over each term period (the upfront does not scale with price)."""
    ks = offer_decisions(model, offer)
    p = model.problem
    mine = np.isin(model.kst, ks)
    j = np.flatnonzero(mine)
    k = model.ks_k[model.kst[j]]
    theta = np.array([p.commits.options[i].take_or_pay_share for i in k])
    gpi = p.offs.gpus_per_instance[p.commits.offering[k]].astype(float)
    n_val = x[model.blocks["n"].start + model.kst[j]]
    e_val = x[model.blocks["e"].start + j]
    delta = p.grid.discount[model.kst_t[j]]
    return float(np.sum(delta * p.grid.hours * (theta * gpi * n_val + e_val)))


def signing(solution: HorizonSolution, offer: Offer, price: float) -> Signing:
    plan = solution.plan
    gap = plan.mip_gap or 0.0
    return Signing(
        usd_per_gpu_hour=price,
        solution=solution,
        objective_usd=plan.objective_usd,
        bound_usd=plan.objective_usd * (1 - gap),
        billed_gpu_hours=billed_gpu_hours(solution.model, offer, solution.col_value),
    )


def solve_signing(model: HorizonModel, solve: Callable[[HorizonModel], HorizonSolution], offer: Offer,
                  price: float) -> Signing | None:  # fmt: skip
    """The signing model of ``model`` solved; None when no plan can sign the minimum (proven: a solve
    that ran out of time raises, since "cannot be signed" would be a conclusion it did not reach)."""
    try:
        return signing(solve(require_signing(model, offer)), offer, price)
    except TimeLimitError as e:
        what = f"the plan that signs {offer.name} at ${price:.4f}/GPU-h"
        raise TimeLimitError(*(f"{line} ({what})" for line in e.lines)) from None
    except InfeasibleError:
        return None


def break_even(
    without: HorizonSolution, first: Signing | None, sign_at: SignFn, tol: float
) -> tuple[BreakEven, Signing | None]:
    """Newton iteration from ``first`` (the signing plan at the offered price). Returns the break-even
    and the signing plan at its last step (its price is within the step tolerance of the answer)."""
    if first is None:
        return BreakEven(None, tol, 0, f"{METHOD}: no plan can sign the minimum commitment"), None
    w = without.plan.objective_usd
    w_gap_usd = w * (without.plan.mip_gap or 0.0)
    cur, steps = first, 0
    while True:
        nxt = max(0.0, cur.usd_per_gpu_hour + (w - cur.objective_usd) / cur.billed_gpu_hours)
        if abs(nxt - cur.usd_per_gpu_hour) <= tol:
            break
        if nxt == 0.0 and cur.usd_per_gpu_hour == 0.0:
            break
        if steps == MAX_NEWTON_STEPS:
            gap_price = (w_gap_usd + cur.objective_usd - cur.bound_usd) / cur.billed_gpu_hours
            return BreakEven(nxt, abs(nxt - cur.usd_per_gpu_hour) + gap_price, steps,
                             f"{METHOD}: not converged in {steps} steps"), cur  # fmt: skip
        step = sign_at(nxt, cur.solution)
        steps += 1
        if step is None:
            return BreakEven(None, tol, steps, f"{METHOD}: no plan can sign the minimum at ${nxt:.4f}"), None
        cur = step
    if nxt == 0.0 and w < cur.objective_usd:
        return BreakEven(None, tol, steps, f"{METHOD}: refused even at a price of 0"), None
    gap_price = (w_gap_usd + cur.objective_usd - cur.bound_usd) / cur.billed_gpu_hours
    return BreakEven(nxt, tol + gap_price, steps, METHOD), cur
