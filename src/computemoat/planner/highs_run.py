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
(Which region's traffic goes to which site is routed afterwards, by planner/route.py: the MILP
objective holds costs only; a 1e-6 $/rps·ms term in it made 7,000-100,000 tiny objective entries,
HiGHS warned of bad scaling and its objective propagation had that many more columns to walk.)

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

Send = Callable[[tuple[Any, ...]], None]
LateStart = Callable[[], "np.ndarray | None"]  # computes the caller's start (NaN = free) when asked


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
    mip_gap: float
    time_limit_s: float
    log: bool = False
    start: np.ndarray | None = None
    bound_cost: np.ndarray | None = None  # the LP relaxation's objective, <= col_cost (default col_cost)
    svc_group: np.ndarray | None = None  # service index of each replica/instance/flow column, -1 else

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


def new_highs() -> Any:
    """A silent ``Highs``. The first construction in a process prints a banner straight to fd 1,
    which would corrupt piped CLI output, so that one is built with fd 1 pointed at /dev/null."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def _highs(options: dict[str, Any]) -> Any:
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


@dataclass(frozen=True)
class Restricted:
    """A model with its fixed columns (lower == upper) taken out and their row activity moved to the
    row bounds; ``expand`` maps a solution of it back to every column."""

    lp: Any
    keep: np.ndarray
    fixed_value: np.ndarray

    @property
    def n_free(self) -> int:
        return int(np.count_nonzero(self.keep))

    def expand(self, col_value: Any) -> np.ndarray:
        x = self.fixed_value.copy()
        x[self.keep] = np.asarray(col_value, dtype=float)
        return x


def stream_until(h: Any, sub: Restricted, take: Callable[[np.ndarray], bool]) -> None:
    """Hand every improving solution of the sub-MIP ``h`` to ``take`` as HiGHS finds it (expanded to
    every column of the full model), and interrupt ``h`` once ``take`` returns True. The sub-model's own
    bound is no use for a gap against the full model's LP bound, so HiGHS would otherwise go on
    proving the sub-model's optimum."""
    done = [False]

    def on_improve(event: Any) -> None:
        sol = np.asarray(event.data_out.mip_solution, dtype=float)
        if len(sol) == sub.n_free:
            done[0] = take(sub.expand(sol))

    def on_interrupt(event: Any) -> None:
        if done[0]:
            event.interrupt()

    h.cbMipImprovingSolution.subscribe(on_improve)
    h.cbMipInterrupt.subscribe(on_interrupt)


def restrict(req: dict[str, Any], lower: np.ndarray, upper: np.ndarray) -> Restricted | None:
    """The MIP over the free columns only; None when the fixed ones alone break a row."""
    import highspy

    start, index, value = req["a_start"], req["a_index"], req["a_value"]
    keep = lower < upper
    fixed_value = np.where(keep, 0.0, lower)
    counts = np.diff(start)
    col_of = np.repeat(np.arange(len(counts)), counts)
    fixed_entry = ~keep[col_of]
    activity = np.zeros(len(req["row_lower"]))
    np.add.at(activity, index[fixed_entry], value[fixed_entry] * fixed_value[col_of[fixed_entry]])
    row_lower, row_upper = req["row_lower"] - activity, req["row_upper"] - activity
    live = np.zeros(len(activity), dtype=bool)
    live[index[~fixed_entry]] = True
    tol = 1e-6 * np.maximum(1.0, np.abs(activity))
    if np.any(~live & ((row_lower > tol) | (row_upper < -tol))):
        return None  # a row with no free column left, and the fixed ones miss it
    row_pos = np.cumsum(live) - 1
    kept_entries = ~fixed_entry & live[index]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = int(keep.sum()), int(live.sum())
    lp.col_cost_ = req["col_cost"][keep]
    lp.col_lower_, lp.col_upper_ = lower[keep], upper[keep]
    lp.row_lower_, lp.row_upper_ = row_lower[live], row_upper[live]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate(
        [[0], np.cumsum(np.bincount(col_of[kept_entries], minlength=len(counts))[keep])]
    ).astype(np.int32)
    lp.a_matrix_.index_ = row_pos[index[kept_entries]].astype(np.int32)
    lp.a_matrix_.value_ = value[kept_entries]
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.integrality_ = [highspy.HighsVarType(int(t)) for t in req["integrality"][keep]]
    lp.offset_ = float(req["col_cost"] @ fixed_value)  # objective and gap of the whole plan
    return Restricted(lp=lp, keep=keep, fixed_value=fixed_value)


def _in_groups(group: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per column: True when it belongs to a group (``group`` >= 0) that ``chosen`` marks."""
    member = group >= 0
    out: np.ndarray = member & chosen[np.where(member, group, 0)]
    return out


def fix_settled_jobs(
    group: np.ndarray, v: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds with every job whose LP choice is integral (one of its columns at 1) fixed to it: that
    column at 1, the job's others at 0. ``group``: the job of each job-choice column, -1 for the rest."""
    lo, hi = lower.copy(), upper.copy()
    chosen = (group >= 0) & (v > 1 - 1e-6)
    settled = np.zeros(int(group.max(initial=0)) + 1, dtype=bool)
    settled[group[chosen]] = True
    fixed = _in_groups(group, settled)
    lo[fixed] = hi[fixed] = np.where(chosen[fixed], 1.0, 0.0)
    return lo, hi


def _scored(cost: np.ndarray, col_value: Any) -> tuple[float, np.ndarray]:
    """(cost @ x, x): the objective recomputed from the solution itself. After ``setSolution`` HiGHS
    1.x has reported a MIP objective ~1% below cost @ x of the very solution it returned (seen on the
    default scenario's replan), so its objective value is never trusted."""
    x = np.asarray(col_value, dtype=float)
    return float(cost @ x), x


Best = tuple[float, np.ndarray]


class _Stages:
    """One solve_request: the request, the clock, the incumbent and the bound, stage by stage."""

    def __init__(self, req: dict[str, Any], send: Send, read_start: LateStart | None = None) -> None:
        import highspy

        self.req, self.send, self.read_start = req, send, read_start
        self.t0 = time.perf_counter()
        self.limit, self.gap = float(req["time_limit_s"]), float(req["mip_gap"])
        self.cost, self.lower, self.upper = req["col_cost"], req["col_lower"], req["col_upper"]
        self.ok = highspy.HighsModelStatus.kOptimal
        self.infeasible = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
        self.best: Best | None = None
        self.bound = -np.inf

    def left(self) -> float:
        return max(0.05, self.limit - (time.perf_counter() - self.t0))

    def offer(self, cand: Best) -> None:
        if self.best is None or cand[0] < self.best[0]:
            self.best = cand
            self.send(("incumbent", cand[0], self.bound, cand[1]))

    def relaxation(self) -> np.ndarray | bool | None:
        """1. The LP bound; returns its point, None when not solved, False when infeasible."""
        h = _highs(self.req)
        h.setOptionValue("time_limit", self.left())
        bound_cost = self.req.get("bound_cost")
        h.passModel(
            _lp(self.req, self.lower, self.upper, self.cost if bound_cost is None else bound_cost, integer=False)
        )
        h.run()
        status = h.getModelStatus()
        if status in self.infeasible:
            return False
        if status != self.ok:
            return None
        self.bound = float(h.getInfo().objective_function_value)
        self.send(("bound", self.bound))
        return np.asarray(h.getSolution().col_value)

    def rens(self, v: np.ndarray) -> None:
        """2. Restricted MIPs around the LP point, smallest first. Every job whose LP choice is integral
        is fixed to it (on the bench's 10,000 workloads all but ~30 of 9,500 jobs). Then, in turn:
        (a) the replicas also boxed to [floor, ceil] of their LP value (tiny, but often infeasible: LP
        instances are fractional where a capacity binds); (b) every service whose replicas and
        instances are all integral in the LP fixed too, with its traffic (at 10,000 workloads 172 of
        499 services stay free and the sub-MIP has half the columns: 7 s instead of 15 s); (c) only
        the jobs fixed. The fixed columns are taken out of the model before HiGHS sees it: its
        presolve spent ~8 s finding them on 10,000 workloads."""
        lo, hi = self._fix_jobs(v)
        attempts = [(*self._boxed(v, lo, hi), 0.15)]
        services = self._fix_services(v, lo, hi)
        if services is not None:
            attempts.append((*services, 0.3))
        attempts.append((lo, hi, 0.6))
        for attempt_lo, attempt_hi, share in attempts:
            if self.best is not None and time.perf_counter() - self.t0 > 0.7 * self.limit:
                return  # leave branch and bound time to improve it
            sub = restrict(self.req, attempt_lo, attempt_hi)
            if sub is None:
                continue
            r = _highs(self.req)
            # without any plan yet, the free attempt may use all that is left: on large models it is
            # the only stage that finds one (branch and bound on the whole model does not, in minutes)
            budget = share * self.limit if self.best is not None or share < 0.5 else self.limit
            r.setOptionValue("time_limit", min(self.left(), max(0.5, budget)))
            r.setOptionValue("mip_rel_gap", self.gap / 2)
            r.passModel(sub.lp)
            self._stream(r, sub)
            r.run()
            if r.getInfo().primal_solution_status == 2:
                self.offer(_scored(self.cost, sub.expand(r.getSolution().col_value)))
            if self.proven():
                return

    def _fix_jobs(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # col_group: job index of each job-choice column (candidates + slack), -1 else
        return fix_settled_jobs(self.req["col_group"], v, self.lower, self.upper)

    def _fix_services(self, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``lo``/``hi`` with every service whose replica and instance counts are all integral in the LP
        fixed at its LP values, flows included (they serve its demand as they are); None when no service
        is, or every one is."""
        svc = self.req.get("svc_group")
        if svc is None:
            return None
        member = svc >= 0
        general = member & (self.req["integrality"] == 1)
        off = general & (np.abs(v - np.rint(v)) > 1e-6)
        settled = np.ones(int(svc.max(initial=0)) + 1, dtype=bool)
        settled[svc[off]] = False
        if not settled.any() or settled.all():
            return None  # nothing to fix, or nothing left to solve (the boxed attempt covers it)
        fixed = _in_groups(svc, settled)
        lo, hi = lo.copy(), hi.copy()
        lo[fixed] = hi[fixed] = np.where(general[fixed], np.rint(v[fixed]), v[fixed])
        return lo, hi

    def _boxed(self, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        general = (self.req["integrality"] == 1) & (self.upper > 1)
        box_lo, box_hi = lo.copy(), hi.copy()
        box_lo[general] = np.floor(v[general] + 1e-6)
        box_hi[general] = np.minimum(self.upper[general], np.maximum(box_lo[general], np.ceil(v[general] - 1e-6)))
        return box_lo, box_hi

    def _stream(self, h: Any, sub: Restricted) -> None:
        """Offer every improving solution of ``h`` as it is found (a child killed at the deadline keeps
        the last one), and stop ``h`` once one is within the gap of the LP bound."""

        def take(x: np.ndarray) -> bool:
            self.offer(_scored(self.cost, x))
            return self.proven()

        stream_until(h, sub, take)

    def caller_start(self) -> None:
        """2b. A caller's start (the greedy plan): integers fixed, the rest completed by an LP."""
        start = self.req.get("start")
        if start is None and self.read_start is not None:
            start, self.read_start = self.read_start(), None
        if start is None or self.left() <= 0.1:
            return
        fixed = ~np.isnan(start)
        lo, hi = self.lower.copy(), self.upper.copy()
        lo[fixed] = hi[fixed] = start[fixed]
        g = _highs(self.req)
        g.setOptionValue("time_limit", self.left())
        g.passModel(_lp(self.req, lo, hi, self.cost, integer=False))
        g.run()
        if g.getModelStatus() == self.ok:
            self.offer(_scored(self.cost, g.getSolution().col_value))

    def proven(self) -> bool:
        return self.best is not None and self.best[0] - self.bound <= self.gap * abs(self.best[0])

    def branch_and_bound(self) -> str:
        """3. The full MIP from the incumbent; returns HiGHS's status text."""
        cost = self.cost
        m = _highs(self.req)
        m.setOptionValue("time_limit", self.left())
        m.setOptionValue("mip_rel_gap", self.gap)
        m.passModel(_lp(self.req, self.lower, self.upper, cost, integer=True))
        if self.best is not None:
            m.setSolution(len(self.best[1]), np.arange(len(self.best[1]), dtype=np.int32), self.best[1])

        def on_improve(event: Any) -> None:
            d = event.data_out
            sol = np.array(d.mip_solution, dtype=float)
            if len(sol) == len(cost):  # HiGHS's own objective here can disagree with cost @ sol: score it ourselves
                self.send(("incumbent", float(cost @ sol), float(d.mip_dual_bound), sol))

        m.cbMipImprovingSolution.subscribe(on_improve)
        m.run()
        info, ms = m.getInfo(), m.getModelStatus()
        if ms in self.infeasible:
            return "Infeasible"
        if np.isfinite(info.mip_dual_bound):
            self.bound = max(self.bound, float(info.mip_dual_bound))
        if info.primal_solution_status == 2:
            cand = _scored(cost, m.getSolution().col_value)
            if self.best is None or cand[0] <= self.best[0]:
                self.best = cand
        status = str(m.modelStatusToString(ms))
        return "Optimal" if ms != self.ok and self.proven() else status


def solve_request(req: dict[str, Any], send: Send, read_start: LateStart | None = None) -> None:
    """All four stages; messages go to ``send``; the last one is always ``("result", ...)``.
    ``read_start`` gives the caller's start when it was not in ``req`` (asked for after the warm start)."""
    run = _Stages(req, send, read_start)
    if req.get("branch_and_bound_only"):
        _finish_branch_and_bound(run, send)
        return
    v = run.relaxation()
    if v is False:
        send(("result", "Infeasible", None, None, None))
        return
    if isinstance(v, np.ndarray):
        run.rens(v)
    run.caller_start()
    status = "Time limit reached"
    if run.proven():
        status = "Optimal"
    elif run.left() > 0.1:
        status = run.branch_and_bound()
    send(_result(run, status))


def _result(run: _Stages, status: str) -> tuple[Any, ...]:
    """The last message: the incumbent with the bound, or none (no plan found, or proven infeasible)."""
    if status == "Infeasible" or run.best is None:
        return ("result", status, None, None, None)
    return ("result", status, run.best[0], run.bound, run.best[1])


def _finish_branch_and_bound(run: _Stages, send: Send) -> None:
    """Stage 3 alone, for a caller that ran its own stages 1-2 (the multi-period planner): its bound and
    start in the request (``known_bound``, ``start`` a full column vector or None)."""
    run.bound = float(run.req.get("known_bound", -np.inf))
    start = run.req.get("start")
    if start is not None:
        run.best = _scored(run.cost, start)
    send(_result(run, run.branch_and_bound()))


def solve(
    request: SolveRequest,
    *,
    on_incumbent: Callable[[Incumbent], None] | None = None,
    late_start: LateStart | None = None,
) -> SolveOutcome:
    """Solve ``request`` within its ``time_limit_s`` wall seconds (hard). ``late_start`` computes the
    start (see :func:`run`) instead of ``request.start``."""

    def relay(msg: tuple[Any, ...]) -> None:
        if on_incumbent is not None and msg[0] == "incumbent":
            on_incumbent(Incumbent(float(msg[1]), float(msg[2])))

    _, status, obj, bound, x = run(request.wire(), on_message=relay, late_start=late_start)
    return SolveOutcome(
        status=str(status),
        objective=None if obj is None else float(obj),
        bound=None if bound is None or not np.isfinite(bound) else float(bound),
        col_value=None if x is None else np.asarray(x, dtype=float),
    )


def run(req: dict[str, Any], *, on_message: Send | None = None, late_start: LateStart | None = None) -> tuple[Any, ...]:
    """The wire-level solve: ``req`` a dict, returns the result message. ``late_start`` computes the
    caller's start; with a child process it runs while the child solves the LP and the warm start
    (which do not need it: the greedy plan takes ~2 s of 10,000 workloads' time otherwise)."""
    deadline = time.perf_counter() + float(req["time_limit_s"])
    last: list[tuple[Any, ...]] = []
    lower_bound = [-np.inf]

    def relay(msg: tuple[Any, ...]) -> None:
        if msg[0] in ("bound", "incumbent") and msg[1 if msg[0] == "bound" else 2] is not None:
            b = float(msg[1 if msg[0] == "bound" else 2])
            lower_bound[0] = max(lower_bound[0], b) if np.isfinite(b) else lower_bound[0]
        if msg[0] == "incumbent" and msg[3] is not None:
            last[:] = [msg]
        if on_message is not None and msg[0] != "result":
            on_message(msg)

    if len(req["col_cost"]) < IN_PROCESS_MAX_COLS:
        out: list[tuple[Any, ...]] = []

        def keep(msg: tuple[Any, ...]) -> None:
            relay(msg)
            out.append(msg)

        if late_start is not None:
            req = {**req, "start": late_start()}
            req["time_limit_s"] = max(0.1, deadline - time.perf_counter())
        solve_request(req, keep)
        return out[-1]
    child_req = {**req, "time_limit_s": max(0.1, float(req["time_limit_s"]) - CHILD_MARGIN_S)}
    if late_start is not None:
        child_req["start"], child_req["start_follows"] = None, True
    return _run_child(child_req, deadline, relay, last, lower_bound, late_start)


def _run_child(
    req: dict[str, Any],
    deadline: float,
    relay: Send,
    last: list[tuple[Any, ...]],
    lower_bound: list[float],
    late_start: LateStart | None = None,
) -> tuple[Any, ...]:
    read_fd, write_fd = os.pipe()
    child = subprocess.Popen(  # our own script, run by our interpreter
        [sys.executable, os.path.abspath(__file__), str(write_fd)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    box: Queue[Any] = Queue()

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
    _write(child.stdin, req, close=late_start is None)
    if late_start is not None:
        try:
            start = late_start()
        except BaseException:
            child.kill()
            child.wait()
            raise
        # in a thread: the child reads it only after its warm start, and a full pipe must not hold up
        # the deadline below
        threading.Thread(target=_write, args=(child.stdin, start), kwargs={"close": True}, daemon=True).start()
    result: tuple[Any, ...] | None = None
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


def _write(pipe: Any, obj: Any, *, close: bool) -> None:
    try:
        pickle.dump(obj, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pipe.flush()
        if close:
            pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child is gone (done, or killed at the deadline)


def _read_start() -> np.ndarray | None:
    try:
        start: np.ndarray | None = pickle.load(sys.stdin.buffer)
    except (EOFError, pickle.UnpicklingError):
        return None
    return start


def _child_main(fd: int) -> None:
    out = os.fdopen(fd, "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # HiGHS prints its banner straight to fd 1

    def send(msg: tuple[Any, ...]) -> None:
        pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    req = pickle.load(sys.stdin.buffer)
    solve_request(req, send, _read_start if req.get("start_follows") else None)
    out.close()


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
