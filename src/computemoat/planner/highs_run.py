"""Run HiGHS on a built model: LP bound, warm start, branch and bound, RTT tie-break — under a deadline.

Stages (each gets only what is left of the caller's time limit):

1. **LP relaxation** — a valid lower bound ``L`` on the plan cost.
2. **Warm start (RENS)** — a restricted MIP around the LP solution: every general-integer column
   (replicas) boxed to [floor, ceil] of its LP value, every job whose LP choice is already integral
   fixed to it. It usually solves in a fraction of a second and lands within ~1-2% of ``L``. When
   ``(incumbent - L) <= mip_gap x incumbent`` the gap is proven and the search stops here.
   A caller's ``start`` (the greedy plan, when valid) is tried too: its integers fixed, the rest
   completed by an LP; the cheaper of the two is the incumbent.
3. **Branch and bound** — the full MIP, started from that incumbent (``setSolution``).
4. **Tie-break LP** — every column fixed at the answer except the nominal assignments, re-solved
   to send traffic to nearer sites (the MILP objective holds costs only; a 1e-6 $/rps·ms term in
   it made 7,000-100,000 tiny objective entries: HiGHS warned of bad scaling and its objective
   propagation had that many more columns to walk).

HiGHS does not check its time limit everywhere: on the 1,000-workload bench its root "central
rounding" line search (``linesearchRounding`` -> ``ObjectivePropagation::propagate``) ran for
minutes past a 60 s limit. Large models therefore run in a child process (this file, run as a
script: it imports only numpy and highspy, ~0.2 s to start) that streams each incumbent back; at
the deadline the child is killed and the best incumbent received is used. Models under
``IN_PROCESS_MAX_COLS`` run in-process (the overrun was seen at 100,000+ columns, not below).

Callers use the typed :class:`SolveRequest` -> :class:`SolveOutcome`; on the wire (in-process or to the
child) the request is a plain dict and messages are tuples ``("bound", L)``, ``("incumbent", obj,
bound, col_value)``, ``("result", status, obj, bound, col_value)``, because the child runs this file as
a script (its classes would not unpickle as the same types).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from queue import Empty, Queue
from typing import Any

import numpy as np

Send = Callable[[tuple], None]


@dataclass(frozen=True)
class SolveRequest:
    """One model for HiGHS: arrays in its column-wise format plus the solve options."""

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray
    col_group: np.ndarray
    tie_cost: np.ndarray | None
    mip_gap: float
    time_limit_s: float
    log: bool = False
    start: np.ndarray | None = None

    def wire(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class SolveOutcome:
    """What HiGHS found: its status text, the incumbent (None when none) and the proven bound."""

    status: str
    objective: float | None
    bound: float | None
    col_value: np.ndarray | None

    @property
    def infeasible(self) -> bool:
        return self.status == "Infeasible"


@dataclass(frozen=True)
class Incumbent:
    """A progress report: a new best plan cost and the bound at that moment."""

    objective: float
    bound: float


IN_PROCESS_MAX_COLS = 20_000  # below this, HiGHS's unchecked stretches are milliseconds: no child
CHILD_MARGIN_S = 0.3  # the child's own HiGHS limit ends this much before the kill deadline


_BANNER_SHOWN = False


def new_highs():  # type: ignore[no-untyped-def]
    """A silent ``Highs``. The first construction in a process prints a banner straight to fd 1,
    which would corrupt piped CLI output, so that one is built with fd 1 pointed at /dev/null."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def _highs(options: dict[str, Any]):  # type: ignore[no-untyped-def]
    h = new_highs()
    h.setOptionValue("output_flag", bool(options.get("log", False)))
    h.setOptionValue("random_seed", 0)
    return h


def _lp(req: dict[str, Any], lower: np.ndarray, upper: np.ndarray, cost: np.ndarray, integer: bool):  # type: ignore[no-untyped-def]
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), len(req["row_lower"])
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = req["row_lower"], req["row_upper"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = req["a_start"]
    lp.a_matrix_.index_ = req["a_index"]
    lp.a_matrix_.value_ = req["a_value"]
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    if integer:
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in req["integrality"]]
    if req.get("col_names") is not None:
        lp.col_names_, lp.row_names_ = req["col_names"], req["row_names"]
    return lp


def _scored(cost: np.ndarray, col_value: Any) -> tuple[float, np.ndarray]:
    """(cost @ x, x): the objective recomputed from the solution itself. After ``setSolution`` HiGHS
    1.x has reported a MIP objective ~1% below cost @ x of the very solution it returned (seen on the
    default scenario's replan), so its objective value is never trusted."""
    x = np.asarray(col_value, dtype=float)
    return float(cost @ x), x


def solve_request(req: dict[str, Any], send: Send) -> None:
    """All four stages; messages go to ``send``; the last one is always ``("result", ...)``."""
    import highspy

    t0 = time.perf_counter()
    limit = float(req["time_limit_s"])
    gap = float(req["mip_gap"])
    cost, lower, upper = req["col_cost"], req["col_lower"], req["col_upper"]
    integrality = req["integrality"]
    status_ok = highspy.HighsModelStatus.kOptimal
    infeasible = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)

    def left() -> float:
        return max(0.05, limit - (time.perf_counter() - t0))

    # 1. LP relaxation
    h = _highs(req)
    h.setOptionValue("time_limit", left())
    h.passModel(_lp(req, lower, upper, cost, integer=False))
    h.run()
    lp_status = h.getModelStatus()
    if lp_status in infeasible:
        send(("result", "Infeasible", None, None, None))
        return
    bound = float(h.getInfo().objective_function_value) if lp_status == status_ok else -np.inf
    best: tuple[float, np.ndarray] | None = None
    if lp_status == status_ok:
        send(("bound", bound))
        v = np.asarray(h.getSolution().col_value)
        # 2. warm start: RENS around the LP point
        lo, hi = lower.copy(), upper.copy()
        general = (integrality == 1) & (upper > 1)
        lo[general] = np.floor(v[general] + 1e-6)
        hi[general] = np.minimum(upper[general], np.maximum(lo[general], np.ceil(v[general] - 1e-6)))
        group = req["col_group"]  # job index of each job-choice column (candidates + slack), -1 else
        member = group >= 0
        chosen = member & (v > 1 - 1e-6)
        settled = np.zeros(int(group.max(initial=0)) + 1, dtype=bool)
        settled[group[chosen]] = True
        fix_off = member & ~chosen & settled[np.where(member, group, 0)]
        hi[fix_off] = 0.0
        for attempt_hi in (hi, np.where(fix_off, upper, hi)):  # second try: jobs free again
            if time.perf_counter() - t0 > 0.5 * limit:
                break
            r = _highs(req)
            r.setOptionValue("time_limit", min(left(), max(0.5, 0.3 * limit)))
            r.setOptionValue("mip_rel_gap", gap / 2)
            r.passModel(_lp(req, lo, attempt_hi, cost, integer=True))
            r.run()
            if r.getInfo().primal_solution_status == 2:
                best = _scored(cost, r.getSolution().col_value)
                send(("incumbent", best[0], bound, best[1]))
                break
    start = req.get("start")
    if start is not None and left() > 0.1:
        # 2b. a caller's start (the greedy plan): integers fixed, the rest completed by an LP
        fixed = ~np.isnan(start)
        lo, hi = lower.copy(), upper.copy()
        lo[fixed] = hi[fixed] = start[fixed]
        g = _highs(req)
        g.setOptionValue("time_limit", left())
        g.passModel(_lp(req, lo, hi, cost, integer=False))
        g.run()
        if g.getModelStatus() == status_ok:
            cand = _scored(cost, g.getSolution().col_value)
            if best is None or cand[0] < best[0]:
                best = cand
                send(("incumbent", best[0], bound, best[1]))
    status = "Time limit reached"
    if best is not None and best[0] - bound <= gap * abs(best[0]):
        status = "Optimal"
    elif left() > 0.1:
        # 3. branch and bound from the incumbent
        m = _highs(req)
        m.setOptionValue("time_limit", left())
        m.setOptionValue("mip_rel_gap", gap)
        m.passModel(_lp(req, lower, upper, cost, integer=True))
        if best is not None:
            m.setSolution(len(best[1]), np.arange(len(best[1]), dtype=np.int32), best[1])

        def on_improve(event: Any) -> None:
            d = event.data_out
            sol = np.array(d.mip_solution, dtype=float)
            if len(sol) == len(cost):  # HiGHS's own objective here can disagree with cost @ sol: score it ourselves
                send(("incumbent", float(cost @ sol), float(d.mip_dual_bound), sol))

        m.cbMipImprovingSolution.subscribe(on_improve)
        m.run()
        info = m.getInfo()
        ms = m.getModelStatus()
        if ms in infeasible:
            send(("result", "Infeasible", None, None, None))
            return
        if np.isfinite(info.mip_dual_bound):
            bound = max(bound, float(info.mip_dual_bound))
        if info.primal_solution_status == 2:
            cand = _scored(cost, m.getSolution().col_value)
            if best is None or cand[0] <= best[0]:
                best = cand
        status = m.modelStatusToString(ms)
        if best is not None and ms != status_ok and best[0] - bound <= gap * abs(best[0]):
            status = "Optimal"
    if best is None:
        send(("result", status, None, None, None))
        return
    obj, x = best
    # 4. tie-break LP: all but the nominal assignments fixed; nominal traffic to nearer sites
    tie = req.get("tie_cost")
    if tie is not None and np.any(tie) and left() > 0.05:
        fixed = tie == 0  # only the nominal assignments move; everything else stays as solved
        lo, hi = lower.copy(), upper.copy()
        lo[fixed] = hi[fixed] = np.where(integrality[fixed] == 1, np.rint(x[fixed]), x[fixed])
        t = _highs(req)
        t.setOptionValue("time_limit", left())
        t.passModel(_lp(req, lo, hi, tie, integer=False))
        t.run()
        if t.getModelStatus() == status_ok:
            x = np.asarray(t.getSolution().col_value)
    send(("result", status, obj, bound, x))


def solve(request: SolveRequest, *, on_incumbent: Callable[[Incumbent], None] | None = None) -> SolveOutcome:
    """Solve ``request`` within its ``time_limit_s`` wall seconds (hard)."""

    def relay(msg: tuple[Any, ...]) -> None:
        if on_incumbent is not None and msg[0] == "incumbent":
            on_incumbent(Incumbent(float(msg[1]), float(msg[2])))

    _, status, obj, bound, x = run(request.wire(), on_message=relay)
    return SolveOutcome(
        status=str(status),
        objective=None if obj is None else float(obj),
        bound=None if bound is None or not np.isfinite(bound) else float(bound),
        col_value=None if x is None else np.asarray(x, dtype=float),
    )


def run(req: dict[str, Any], *, on_message: Send | None = None) -> tuple:
    """The wire-level solve: ``req`` a dict, returns the result message."""
    deadline = time.perf_counter() + float(req["time_limit_s"])
    last: list[tuple] = []
    lower_bound = [-np.inf]

    def relay(msg: tuple) -> None:
        if msg[0] in ("bound", "incumbent") and msg[1 if msg[0] == "bound" else 2] is not None:
            b = float(msg[1 if msg[0] == "bound" else 2])
            lower_bound[0] = max(lower_bound[0], b) if np.isfinite(b) else lower_bound[0]
        if msg[0] == "incumbent" and msg[3] is not None:
            last[:] = [msg]
        if on_message is not None and msg[0] != "result":
            on_message(msg)

    if len(req["col_cost"]) < IN_PROCESS_MAX_COLS:
        out: list[tuple] = []

        def keep(msg: tuple) -> None:
            relay(msg)
            out.append(msg)

        solve_request(req, keep)
        return out[-1]
    child_req = {**req, "time_limit_s": max(0.1, float(req["time_limit_s"]) - CHILD_MARGIN_S)}
    return _run_child(child_req, deadline, relay, last, lower_bound)


def _run_child(req: dict[str, Any], deadline: float, relay: Send, last: list[tuple], lower_bound: list[float]) -> tuple:
    read_fd, write_fd = os.pipe()
    child = subprocess.Popen(  # our own script, run by our interpreter
        [sys.executable, os.path.abspath(__file__), str(write_fd)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    box: Queue = Queue()

    def reader() -> None:
        with os.fdopen(read_fd, "rb") as f:
            try:
                while True:
                    box.put(pickle.load(f))
            except (EOFError, pickle.UnpicklingError, OSError):
                box.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert child.stdin is not None
    try:
        pickle.dump(req, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.close()
    except BrokenPipeError:
        pass
    result: tuple | None = None
    while result is None:
        try:
            msg = box.get(timeout=max(0.0, deadline - time.perf_counter()))
        except Empty:
            break
        if msg is None:
            break
        if msg[0] == "result":
            result = msg
        else:
            relay(msg)
    if child.poll() is None:
        child.kill()  # past the deadline: HiGHS is somewhere it does not check the clock
    child.wait()
    if result is not None:
        return result
    if child.returncode not in (0, -9) and not last:
        err = child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""
        raise RuntimeError(f"HiGHS worker failed (exit {child.returncode}): {err}")
    if last:
        _, obj, _, x = last[0]
        return ("result", "Time limit reached", obj, lower_bound[0], x)
    return ("result", "Time limit reached", None, None, None)


def _child_main(fd: int) -> None:
    out = os.fdopen(fd, "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # HiGHS prints its banner straight to fd 1

    def send(msg: tuple) -> None:
        pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    solve_request(pickle.load(sys.stdin.buffer), send)
    out.close()


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
