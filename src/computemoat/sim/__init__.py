"""Fleet simulator: months of GPU interruptions, outages, preemption, price changes and policy shifts
against a plan; goodput, cost and availability per run, Monte-Carlo sweeps on Ray (sim.sweep)."""

from computemoat.sim.engine import Replanner, planner_replanner, simulate
from computemoat.sim.faults import FaultModel, OutagePolicy, ProviderFaults, Withdrawal, load_faults
from computemoat.sim.result import Move, SimResult, nines

__all__ = [
    "FaultModel",
    "Move",
    "OutagePolicy",
    "ProviderFaults",
    "Replanner",
    "SimResult",
    "Withdrawal",
    "load_faults",
    "nines",
    "planner_replanner",
    "simulate",
]
